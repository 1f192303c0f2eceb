/**
 * `molt demo`: builds three versions of the notes example offline, installs v1, writes data,
 * upgrades to v2 (data and IP kept), then tries a broken v3 and shows the automatic rollback.
 * Runs the same code paths as the CLI commands, narrating each step.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildNotesImage, notesManifest } from '../examples/notes.ts';
import { applyCommand, deleteCommand, getCommand, historyCommand } from './commands.ts';
import { connectEngine, say, type GlobalOptions } from './context.ts';

const APP = 'molt-demo';
const REPO = 'localhost/molt-demo-notes';
const NETWORK = { name: 'molt-demo', subnet: '10.90.250.0/24' };

/** Runs the demo; returns the exit code (0 when every expectation held). */
export async function demo(opts: GlobalOptions): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'molt-demo-'));
  const engine = await connectEngine(opts);
  say(`\n== molt demo — engine: ${engine.description}; manifests in ${dir}\n`);
  say('1. Building three versions of the "notes" example app offline (busybox + a CGI script):');
  const versions = ['1.0.0-1', '1.1.0-1', '2.0.0-1'] as const;
  for (const v of versions)
    say(
      `   built ${await buildNotesImage(engine, REPO, v, v === '2.0.0-1' ? 'config format 3 not understood' : undefined)}${v === '2.0.0-1' ? '  (broken on purpose: exits at start)' : ''}`,
    );
  if (await engine.inspectContainer(APP)) {
    say(`\n   (removing the ${APP} app left by an earlier demo)`);
    await deleteCommand(APP, { ...opts, volumes: true });
  }
  const files = versions.map((version) => {
    const file = join(dir, `notes-${version}.yaml`);
    writeFileSync(file, notesManifest({ name: APP, version, image: `${REPO}:${version}`, network: NETWORK }));
    return file;
  });
  step(`2. Install v1:  molt apply -f ${files[0]}`);
  if ((await applyCommand({ ...opts, filename: files[0]!, timeout: '2m' })) !== 0) return fail('install failed');
  const ip = (await engine.inspectContainer(APP))?.requestedIps[NETWORK.name] ?? '';
  say(`\n3. Write data over the network to ${ip}:8080:`);
  await post(ip, 'buy milk');
  await post(ip, 'molt keeps my notes across upgrades');
  say(indent(await get(ip)));
  step(`4. Upgrade to v2:  molt apply -f ${files[1]}`);
  if ((await applyCommand({ ...opts, filename: files[1]!, timeout: '2m' })) !== 0) return fail('upgrade failed');
  const afterUpgrade = await get(ip);
  say(`\n   Same IP (${ip}), same notes, new version:\n${indent(afterUpgrade)}`);
  if (!afterUpgrade.includes('1.1.0-1') || !afterUpgrade.includes('buy milk'))
    return fail('v2 does not serve the old notes');
  step(`5. Try the broken v3:  molt apply -f ${files[2]}   (expected to fail and roll back)`);
  const broken = await applyCommand({ ...opts, filename: files[2]!, timeout: '2m' });
  const afterRollback = await get(ip);
  say(
    `\n   v3 ${broken === 0 ? 'unexpectedly succeeded' : 'failed; molt rolled back'}. v2 still serves, same IP and notes:\n${indent(afterRollback)}`,
  );
  if (broken === 0 || !afterRollback.includes('1.1.0-1') || !afterRollback.includes('buy milk'))
    return fail('rollback did not restore v2');
  step('6. molt get apps');
  getCommand('apps', undefined, { ...opts, output: 'wide' });
  step(`7. molt history ${APP}`);
  historyCommand(APP, { ...opts, output: 'table' });
  say(
    `\n== Demo done: the app is still running. Try:\n   bin/molt get app ${APP} -o yaml\n   bin/molt rollback ${APP}\n   bin/molt delete ${APP} --volumes\n`,
  );
  return 0;
}

function step(title: string): void {
  say(`\n${title}`);
}

function fail(why: string): number {
  say(`\n== Demo FAILED: ${why}`);
  return 1;
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => `     | ${l}`)
    .join('\n');
}

async function post(ip: string, note: string): Promise<void> {
  const res = await fetch(`http://${ip}:8080/cgi-bin/notes`, { method: 'POST', body: note });
  await res.text();
  say(`   POST "${note}" → HTTP ${res.status}`);
}

async function get(ip: string): Promise<string> {
  const res = await fetch(`http://${ip}:8080/cgi-bin/notes`, { signal: AbortSignal.timeout(5000) });
  return res.text();
}
