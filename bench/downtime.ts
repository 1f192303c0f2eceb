/**
 * Downtime of one upgrade: the gap between the old version's last answer and the new one's
 * first, seen by a client polling over HTTP. molt's upgrade is measured against the raw
 * hand-run replacement (`podman rm -f` + `podman run` with the same volume and IP) in the same
 * run, alternating, and reported as a ratio of medians; molt's CPU time and peak RSS too.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildNotesImage, notesManifest } from '../src/examples/notes.ts';
import type { PodmanHarness } from '../test/e2e/harness.ts';

const NODE = process.execPath;
const RUSAGE = new URL('./molt-rusage.ts', import.meta.url).pathname;

/** One measured upgrade. */
interface Sample { downtimeMs: number; userMs?: number; systemMs?: number; maxRssKiB?: number }

/**
 * Sends a request every 5 ms (not waiting for the previous one: a request to a stopped
 * address hangs until its timeout) until `stop()`; returns the longest gap between the send
 * times of two successful requests, i.e. the downtime seen by clients, to ~5 ms.
 */
function pollGaps(ip: string): { stop: () => Promise<number> } {
  const okAt: number[] = [];
  const inflight = new Set<Promise<void>>();
  const timer = setInterval(() => {
    const sentAt = performance.now();
    const p = fetch(`http://${ip}:8080/cgi-bin/notes`, { signal: AbortSignal.timeout(2000) })
      .then(async (res) => { await res.text(); if (res.ok) okAt.push(sentAt); })
      .catch(() => undefined)
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }, 5);
  return {
    stop: async () => {
      clearInterval(timer);
      await Promise.all(inflight);
      okAt.sort((x, y) => x - y);
      return okAt.reduce((worst, t, i) => (i === 0 ? 0 : Math.max(worst, t - (okAt[i - 1] ?? t))), 0);
    },
  };
}

function runMolt(h: PodmanHarness, home: string, args: string[]): Promise<Omit<Sample, 'downtimeMs'>> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, ['--disable-warning=ExperimentalWarning', RUSAGE, ...args], {
      env: { ...process.env, ...h.env, CONTAINER_HOST: `unix://${h.socket}`, MOLT_HOME: home },
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    });
    let err = '';
    let usage = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (d: Buffer) => (usage += d.toString()));
    child.once('close', (code) => (code === 0 ? resolve(JSON.parse(usage)) : reject(new Error(`molt ${args.join(' ')} failed:\n${err}`))));
  });
}

/** Measures `rounds` upgrades each way; returns the report lines and the figures. */
export async function benchDowntime(h: PodmanHarness, rounds: number): Promise<Record<string, number>> {
  const repo = 'localhost/bench-notes';
  const versions = Array.from({ length: rounds + 1 }, (_, i) => `1.${i}.0-1`);
  for (const v of versions) await buildNotesImage(h.engine, repo, v);
  const network = { name: h.name('bench'), subnet: h.freeSubnet() };
  const home = join(h.dir, 'bench-home');
  const manifest = (v: string) => {
    const file = join(h.dir, `bench-${v}.yaml`);
    writeFileSync(file, notesManifest({ name: 'bench-molt', version: v, image: `${repo}:${v}`, network }).replace('periodSeconds: 0.5', 'periodSeconds: 0.05').replace('failureThreshold: 20', 'failureThreshold: 200'));
    return file;
  };
  await runMolt(h, home, ['apply', '-f', manifest(versions[0]!)]);
  const moltIp = (await h.engine.inspectContainer('bench-molt'))!.requestedIps[network.name]!;
  const rawIp = moltIp.replace(/\.\d+$/, '.200');
  const raw = (v: string) => ['run', '-d', '--name', 'bench-raw', '--network', network.name, '--ip', rawIp, '-v', 'bench-raw-data:/var/lib/notes', `${repo}:${v}`];
  await h.podman(raw(versions[0]!));
  await waitUp(rawIp);
  const molt: Sample[] = [];
  const rawSamples: Sample[] = [];
  for (const v of versions.slice(1)) {
    const p1 = pollGaps(moltIp);
    await new Promise((r) => setTimeout(r, 200));
    const usage = await runMolt(h, home, ['apply', '-f', manifest(v)]);
    await waitUp(moltIp);
    await new Promise((r) => setTimeout(r, 100));
    molt.push({ downtimeMs: await p1.stop(), ...usage });
    const p2 = pollGaps(rawIp);
    await new Promise((r) => setTimeout(r, 200));
    await h.podman(['rm', '-f', 'bench-raw']);
    await h.podman(raw(v));
    await waitUp(rawIp);
    await new Promise((r) => setTimeout(r, 100));
    rawSamples.push({ downtimeMs: await p2.stop() });
  }
  await runMolt(h, home, ['delete', 'bench-molt', '--volumes']);
  await h.podman(['rm', '-f', 'bench-raw']);
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  return {
    'molt downtime ms (median)': med(molt.map((s) => s.downtimeMs)),
    'raw podman rm -f + run downtime ms (median)': med(rawSamples.map((s) => s.downtimeMs)),
    'downtime ratio molt/raw (target ≤ 1.15)': med(molt.map((s) => s.downtimeMs)) / med(rawSamples.map((s) => s.downtimeMs)),
    'molt CPU ms per upgrade (user+sys, median)': med(molt.map((s) => (s.userMs ?? 0) + (s.systemMs ?? 0))),
    'molt peak RSS MiB per upgrade (max)': Math.max(...molt.map((s) => (s.maxRssKiB ?? 0) / 1024)),
  };
}

async function waitUp(ip: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      const res = await fetch(`http://${ip}:8080/cgi-bin/notes`, { signal: AbortSignal.timeout(500) });
      await res.text();
      if (res.ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${ip} never answered`);
}
