// Preloaded into a measured Node process (NODE_OPTIONS=--import): at exit it writes the
// process's own CPU time and peak RSS as one JSON line on fd 3. Plain JavaScript, so that
// measuring loads no TypeScript. Linux keeps a process's usage across exec, so a launcher
// script that execs Node (bin/molt) is counted too.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  const u = process.resourceUsage();
  try {
    writeSync(3, `${JSON.stringify({ userMs: u.userCPUTime / 1000, systemMs: u.systemCPUTime / 1000, maxRssKiB: u.maxRSS })}\n`);
  } catch {
    // fd 3 is not open: a child of the measured process inherited the hook.
  }
});
