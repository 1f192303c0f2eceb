/**
 * The program of a copy Job (volume-copy.ts), in the operator's own image:
 *
 *   node /app/src/operator/copy/main.ts snapshot VOLUME...   # each volume → its copy claim's V.tar
 *   node /app/src/operator/copy/main.ts restore VOLUME...    # what it holds → V.displaced.tar, then V.tar → the volume
 *
 * Each run can be repeated after a crash: a snapshot writes V.tar.partial and renames it; a
 * restore keeps an existing V.displaced.tar (written before the volume was touched) and
 * extracts again. The sizes go to the termination message, which the operator reads.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { extractTree, packTree, type ArchiveResult } from './archive.ts';
import { copyFile, displacedFile, volumeDir, type CopyReport } from './layout.ts';

async function main(argv: string[]): Promise<number> {
  const [mode, ...volumes] = argv;
  if ((mode !== 'snapshot' && mode !== 'restore') || volumes.length === 0) {
    process.stderr.write('usage: main.ts snapshot|restore VOLUME...\n');
    return 2;
  }
  const report: CopyReport = { volumes: {} };
  for (const v of volumes) {
    let r: ArchiveResult;
    if (mode === 'snapshot') {
      r = await packTree(volumeDir(v), copyFile(v));
      say(`${v}: saved ${r.entries} entries (${r.bytes} bytes of file content) to ${copyFile(v)}`);
    } else {
      if (!existsSync(copyFile(v))) throw new Error(`the copy ${copyFile(v)} of volume ${v} is missing`);
      if (!existsSync(displacedFile(v))) {
        const d = await packTree(volumeDir(v), displacedFile(v));
        say(`${v}: kept what it held (${d.entries} entries) in ${displacedFile(v)}`);
      } else say(`${v}: ${displacedFile(v)} exists already (an earlier attempt): kept as it is`);
      r = await extractTree(copyFile(v), volumeDir(v));
      say(`${v}: restored ${r.entries} entries (${r.bytes} bytes of file content) from ${copyFile(v)}`);
    }
    for (const n of r.notKept) say(`${v}: not kept: ${n}`);
    // The size of the archive this run wrote: the copy, or on a restore what the volume held.
    const archive = mode === 'snapshot' ? copyFile(v) : displacedFile(v);
    report.volumes[v] = { bytes: statSync(archive).size, entries: r.entries, notKept: r.notKept.length };
  }
  try {
    writeFileSync('/dev/termination-log', JSON.stringify(report));
  } catch {
    // not in a pod (a test): the report is in the output
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
  return 0;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`${message}\n`);
    try {
      writeFileSync('/dev/termination-log', message.slice(0, 3000));
    } catch {
      // not in a pod
    }
    process.exit(1);
  },
);
