/**
 * Downtime of one upgrade: the gap between the old version's last answer and the new one's
 * first, seen by a client polling over HTTP. molt's upgrade is measured against the raw
 * hand-run replacement (`podman rm -f` + `podman run` with the same volume and IP) in the same
 * run, alternating, and reported as a ratio of medians; molt's CPU time and peak RSS too.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildNotesImage, notesManifest } from '../src/examples/notes.ts';
import type { PodmanHarness } from '../test/e2e/harness.ts';
import { median, runMolt, type MoltUsage } from './lib.ts';
import { macForIPv4 } from '../src/core/container-spec.ts';

/** One measured upgrade. */
interface Sample extends Partial<MoltUsage> {
  downtimeMs: number;
}

/**
 * Sends a request every 5 ms (not waiting for the previous one: a request to a stopped
 * address hangs until its timeout) until `stop()`; returns the longest gap between the send
 * times of two successful requests, i.e. the downtime seen by clients, to ~5 ms.
 */
export function pollGaps(ip: string): { stop: () => Promise<number> } {
  const okAt: number[] = [];
  const inflight = new Set<Promise<void>>();
  const timer = setInterval(() => {
    const sentAt = performance.now();
    const p = fetch(`http://${ip}:8080/cgi-bin/notes`, { signal: AbortSignal.timeout(2000) })
      .then(async (res) => {
        await res.text();
        if (res.ok) okAt.push(sentAt);
      })
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

/** Measures `rounds` upgrades each way; returns the report lines and the figures. */
export async function benchDowntime(h: PodmanHarness, rounds: number): Promise<Record<string, number>> {
  const repo = 'localhost/bench-notes';
  const versions = Array.from({ length: rounds + 1 }, (_, i) => `1.${i}.0-1`);
  for (const v of versions) await buildNotesImage(h.engine, repo, v);
  const network = { name: h.name('bench'), subnet: h.freeSubnet() };
  const home = join(h.dir, 'bench-home');
  const manifest = (v: string) => {
    const file = join(h.dir, `bench-${v}.yaml`);
    writeFileSync(
      file,
      notesManifest({ name: 'bench-molt', version: v, image: `${repo}:${v}`, network })
        .replace('periodSeconds: 0.5', 'periodSeconds: 0.05')
        .replace('failureThreshold: 20', 'failureThreshold: 200'),
    );
    return file;
  };
  await runMolt(h, home, ['apply', '-f', manifest(versions[0]!)]);
  const moltIp = (await h.engine.inspectContainer('bench-molt'))!.requestedIps[network.name]!;
  const raws = [
    { name: 'bench-raw', ip: moltIp.replace(/\.\d+$/, '.200'), mac: false, samples: [] as Sample[] },
    { name: 'bench-rawmac', ip: moltIp.replace(/\.\d+$/, '.201'), mac: true, samples: [] as Sample[] },
  ];
  const rawArgs = (r: (typeof raws)[number], v: string) => [
    'run',
    '-d',
    '--name',
    r.name,
    '--network',
    network.name,
    '--ip',
    r.ip,
    ...(r.mac ? ['--mac-address', macForIPv4(r.ip)] : []),
    '-v',
    `${r.name}-data:/var/lib/notes`,
    `${repo}:${v}`,
  ];
  for (const r of raws) {
    await h.podman(rawArgs(r, versions[0]!));
    await waitUp(r.ip);
  }
  const molt: Sample[] = [];
  for (const v of versions.slice(1)) {
    const p1 = pollGaps(moltIp);
    await new Promise((r) => setTimeout(r, 200));
    const usage = await runMolt(h, home, ['apply', '-f', manifest(v)]);
    await waitUp(moltIp);
    await new Promise((r) => setTimeout(r, 100));
    molt.push({ downtimeMs: await p1.stop(), ...usage });
    for (const r of raws) {
      const p2 = pollGaps(r.ip);
      await new Promise((res) => setTimeout(res, 200));
      await h.podman(['rm', '-f', r.name]);
      await h.podman(rawArgs(r, v));
      await waitUp(r.ip);
      await new Promise((res) => setTimeout(res, 100));
      r.samples.push({ downtimeMs: await p2.stop() });
    }
  }
  await runMolt(h, home, ['delete', 'bench-molt', '--volumes']);
  for (const r of raws) await h.podman(['rm', '-f', r.name]);
  const med = median;
  const moltMs = med(molt.map((s) => s.downtimeMs));
  const [rawIp, rawMac] = raws.map((r) => med(r.samples.map((s) => s.downtimeMs)));
  return {
    'molt downtime ms (median)': moltMs,
    'raw podman rm -f + run, same IP: downtime ms (median)': rawIp ?? NaN,
    'raw podman rm -f + run, same IP and MAC: downtime ms (median)': rawMac ?? NaN,
    'downtime ratio molt / raw same IP': moltMs / (rawIp ?? NaN),
    'downtime ratio molt / raw same IP and MAC (target ≤ 0.9)': moltMs / (rawMac ?? NaN),
    'molt CPU ms per upgrade (user+sys, median)': med(molt.map((s) => (s.userMs ?? 0) + (s.systemMs ?? 0))),
    'molt peak RSS MiB per upgrade (max)': Math.max(...molt.map((s) => (s.maxRssKiB ?? 0) / 1024)),
  };
}

export async function waitUp(ip: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      const res = await fetch(`http://${ip}:8080/cgi-bin/notes`, { signal: AbortSignal.timeout(500) });
      await res.text();
      if (res.ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${ip} never answered`);
}
