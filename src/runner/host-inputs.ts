/**
 * The host files a spec's settings name — envFrom files and secrets — read when a container
 * is created (so a changed file takes effect on the next create, and a secret's value is only
 * ever in memory and in the container), and the copying of secret files into a created
 * container, mode 0400, owned by the container's user.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '../core/errors.ts';
import { LABEL, type AppManifest, type AppSpec, type ContainerFile } from '../core/model.ts';
import { numericUser, parseEnvFile, secretTarget, type ResolvedInputs } from '../core/settings.ts';
import type { ContainerEngine } from '../engines/types.ts';
import { fileArchive, missingParents } from './container-files.ts';
import { readFirstEntry } from './tar.ts';

/** Reads the envFrom files and secrets of `spec` (paths are absolute: the parser resolved them). */
export function readInputs(spec: AppSpec): ResolvedInputs {
  const env: Record<string, string> = {};
  for (const [i, f] of (spec.envFrom ?? []).entries()) {
    const parsed = parseEnvFile(readOrFail(f.file, `spec.envFrom[${i}].file`).toString('utf8'));
    if (parsed.problems.length) {
      throw new InvalidInputError(
        parsed.problems.map((p) => ({ file: f.file, line: p.line, message: p.message })),
        'Correct the env file: one KEY=VALUE per line, # starts a comment.',
      );
    }
    Object.assign(env, parsed.env);
  }
  const secretEnv: Record<string, string> = {};
  const files: ContainerFile[] = [];
  for (const [i, s] of (spec.secrets ?? []).entries()) {
    const content = readOrFail(s.file, `spec.secrets[${i}].file`);
    const target = secretTarget(s);
    if ('env' in target) secretEnv[target.env] = content.toString('utf8').replace(/\r?\n$/, '');
    else files.push({ path: target.mountPath, content, mode: 0o400, uid: 0, gid: 0 });
  }
  return { env, secretEnv, files };
}

function readOrFail(file: string, field: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new InvalidInputError(
      [{ file, field, message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }],
      'The file must exist and be readable by molt when the container is created.',
    );
  }
}

/**
 * Copies `files` into the created (not yet started) container, owned by its user: a numeric
 * `user` as it is, a name looked up in the container's own /etc/passwd and /etc/group.
 * Safe to repeat (the files are overwritten).
 */
export async function putFiles(
  engine: ContainerEngine,
  id: string,
  files: ContainerFile[],
  user: string | undefined,
  signal?: AbortSignal,
): Promise<void> {
  if (files.length === 0) return;
  const owner = await ownerOf(engine, id, user, signal);
  const exists = async (dir: string) => {
    try {
      (await engine.getArchive(id, dir, signal)).destroy();
      return true;
    } catch {
      return false;
    }
  };
  for (const f of files) {
    const file = { ...f, ...owner };
    await engine.putArchive(id, '/', await fileArchive(file, await missingParents(file.path, exists)), signal);
  }
}

async function ownerOf(
  engine: ContainerEngine,
  id: string,
  user: string | undefined,
  signal?: AbortSignal,
): Promise<{ uid: number; gid: number }> {
  if (user === undefined || user === '') return { uid: 0, gid: 0 };
  const numeric = numericUser(user);
  const [name, group] = user.split(':') as [string, string | undefined];
  const passwd = numeric && group === undefined ? undefined : await readText(engine, id, '/etc/passwd', signal);
  const entry = passwd
    ?.split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === name || f[2] === name);
  const uid = numeric?.uid ?? (entry ? Number(entry[2]) : undefined);
  if (uid === undefined)
    throw new InvalidInputError(
      [
        {
          file: '(manifest)',
          field: 'spec.user',
          message: `user "${name}" is not in the image's /etc/passwd: the secret files cannot be given to it`,
        },
      ],
      'Use a numeric uid:gid, or a user the image defines.',
    );
  if (numeric?.gid !== undefined) return { uid, gid: numeric.gid };
  if (group === undefined) return { uid, gid: entry ? Number(entry[3]) : uid };
  const groups = /^\d+$/.test(group) ? undefined : await readText(engine, id, '/etc/group', signal);
  const gid = /^\d+$/.test(group)
    ? Number(group)
    : Number(
        groups
          ?.split('\n')
          .map((l) => l.split(':'))
          .find((f) => f[0] === group)?.[2],
      );
  if (!Number.isInteger(gid))
    throw new InvalidInputError(
      [{ file: '(manifest)', field: 'spec.user', message: `group "${group}" is not in the image's /etc/group` }],
      'Use a numeric gid, or a group the image defines.',
    );
  return { uid, gid };
}

async function readText(
  engine: ContainerEngine,
  id: string,
  path: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  try {
    return (await readFirstEntry(await engine.getArchive(id, path, signal), 1024 * 1024)).content?.toString('utf8');
  } catch {
    return undefined;
  }
}

/** node:crypto, loaded on use: most upgrades have no env files or secrets to digest (~5 ms of CPU). */
const crypto = () => process.getBuiltinModule('node:crypto');

/** The key of the inputs digest: random, owner-only, one per molt home (so a digest reveals nothing of a short secret). */
export function inputsKey(home: string): Buffer {
  const file = join(home, 'inputs.key');
  try {
    return readFileSync(file);
  } catch {
    mkdirSync(home, { recursive: true, mode: 0o700 });
    try {
      writeFileSync(file, crypto().randomBytes(32), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    return readFileSync(file);
  }
}

/** The inputs with their keyed digest (undefined when the spec has no envFrom or secrets). */
export function withDigest(spec: AppSpec, inputs: ResolvedInputs, key: Buffer): ResolvedInputs {
  if (!spec.envFrom?.length && !spec.secrets?.length) return inputs;
  const canonical = JSON.stringify([
    Object.entries(inputs.env).sort(),
    Object.entries(inputs.secretEnv).sort(),
    inputs.files.map((f) => [f.path, f.mode, f.content.toString('base64')]),
  ]);
  return { ...inputs, digest: crypto().createHmac('sha256', key).update(canonical).digest('hex').slice(0, 32) };
}

/**
 * True when the envFrom or secret files of `manifest` no longer give what the app's running
 * container was created with (same paths, new contents): compared by the keyed digest label.
 */
export async function inputsChanged(
  engine: ContainerEngine,
  home: string,
  manifest: AppManifest,
  containerId: string | undefined,
): Promise<boolean> {
  const { spec } = manifest;
  if (!spec.envFrom?.length && !spec.secrets?.length) return false;
  const container =
    (containerId && (await engine.inspectContainer(containerId))) ||
    (await engine.inspectContainer(manifest.metadata.name));
  if (!container) return false;
  return container.labels[LABEL.inputs] !== withDigest(spec, readInputs(spec), inputsKey(home)).digest;
}
