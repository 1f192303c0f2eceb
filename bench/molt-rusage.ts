/**
 * Runs the molt CLI in this process and, at exit, prints its own resource usage as one JSON
 * line on fd 3 (CPU time and peak RSS), so benchmarks can measure molt itself.
 */
import { writeSync } from 'node:fs';

process.on('exit', () => {
  const u = process.resourceUsage();
  writeSync(3, `${JSON.stringify({ userMs: u.userCPUTime / 1000, systemMs: u.systemCPUTime / 1000, maxRssKiB: u.maxRSS })}\n`);
});
await import('../src/cli/main.ts');
