// Pushing small images straight through the distribution API (blob uploads, manifest PUT), so
// tests can make exact manifests, configs with labels and multi-platform indexes without an
// engine.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { gzipSync } from 'node:zlib';
import { rootfsTar, type TestImageOptions } from '../images/build.ts';
import type { TestRegistry } from './registry.ts';

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

type Target = TestRegistry & { authorization?: string };

function call(
  reg: Target,
  method: string,
  path: string,
  body?: Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const url = path.startsWith('https://') ? path : `https://${reg.address}${path}`;
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: readFileSync(reg.ca),
        headers: {
          authorization:
            reg.authorization ?? `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString('base64')}`,
          ...(body ? { 'content-length': String(body.length) } : {}),
          ...headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function putBlob(reg: Target, repo: string, blob: Buffer): Promise<string> {
  const digest = sha256(blob);
  const start = await call(reg, 'POST', `/v2/${repo}/blobs/uploads/`);
  if (start.status !== 202) throw new Error(`upload start: HTTP ${start.status} ${start.body}`);
  const location = new URL(String(start.headers.location), `https://${reg.address}`);
  location.searchParams.set('digest', digest);
  const put = await call(reg, 'PUT', location.toString(), blob, { 'content-type': 'application/octet-stream' });
  if (put.status !== 201) throw new Error(`blob put: HTTP ${put.status} ${put.body}`);
  return digest;
}

async function putManifest(reg: Target, repo: string, ref: string, doc: unknown, mediaType: string): Promise<string> {
  const body = Buffer.from(JSON.stringify(doc));
  const res = await call(reg, 'PUT', `/v2/${repo}/manifests/${ref}`, body, { 'content-type': mediaType });
  if (res.status !== 201) throw new Error(`manifest put: HTTP ${res.status} ${res.body}`);
  return sha256(body);
}

/** Pushes a one-layer OCI image: `layer` (an uncompressed tar) under `config`; returns its manifest digest. */
async function pushLayer(
  reg: Target,
  repo: string,
  tag: string,
  layer: Buffer,
  config: { architecture: string; config: Record<string, unknown> },
): Promise<{ digest: string; size: number }> {
  const compressed = gzipSync(layer);
  const layerDigest = await putBlob(reg, repo, compressed);
  const configBlob = Buffer.from(
    JSON.stringify({ ...config, os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(layer)] } }),
  );
  const configDigest = await putBlob(reg, repo, configBlob);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: configBlob.length },
    layers: [
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: compressed.length },
    ],
  };
  const digest = await putManifest(reg, repo, tag, manifest, manifest.mediaType);
  return { digest, size: Buffer.byteLength(JSON.stringify(manifest)) };
}

/** Pushes a one-layer OCI image whose config has `labels`; returns its manifest digest. */
export function pushImage(
  reg: Target,
  repo: string,
  tag: string,
  labels: Record<string, string>,
  arch = 'amd64',
): Promise<{ digest: string; size: number }> {
  // An empty tar: two zero blocks.
  return pushLayer(reg, repo, tag, Buffer.alloc(1024), { architecture: arch, config: { Labels: labels } });
}

/**
 * Pushes a runnable busybox image (test/images/build.ts's rootfs with `files`) whose
 * entrypoint is `/bin/sh start`, with `labels`: what both engines pull. Returns its digest.
 */
export async function pushBusyboxImage(
  reg: Target,
  repo: string,
  tag: string,
  o: { files: TestImageOptions['files']; start: string; labels?: Record<string, string> },
): Promise<string> {
  const config = { Env: ['PATH=/bin:/usr/bin'], Entrypoint: ['/bin/sh', o.start], Labels: o.labels ?? {} };
  return (await pushLayer(reg, repo, tag, await rootfsTar(o.files), { architecture: 'amd64', config })).digest;
}

/** Pushes an OCI index over per-platform images (each with its own labels); returns the index digest. */
export async function pushIndex(
  reg: Target,
  repo: string,
  tag: string,
  platforms: { arch: string; labels: Record<string, string> }[],
): Promise<{ digest: string; manifests: Record<string, string> }> {
  const manifests: Record<string, string> = {};
  const entries = [];
  for (const p of platforms) {
    const m = await pushImage(reg, repo, `${tag}-${p.arch}`, p.labels, p.arch);
    manifests[p.arch] = m.digest;
    entries.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: m.digest,
      size: m.size,
      platform: { os: 'linux', architecture: p.arch },
    });
  }
  const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: entries };
  return { digest: await putManifest(reg, repo, tag, index, index.mediaType), manifests };
}
