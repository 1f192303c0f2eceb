/**
 * The checks of a manifest's settings that need the host, run before anything is touched:
 * envFrom and secret files exist (secrets not readable by everyone), bind-mounted host paths
 * exist, and published host ports are free (tried by binding them; ports the app itself
 * already publishes are skipped, its own container holds them). Every problem names
 * file:line:column of its field.
 */
import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { InvalidInputError, type InputProblem } from '../core/errors.ts';
import type { AppManifest } from '../core/model.ts';
import { formatPort, isBindMount, parseEnvFile, portBindings, type PortBinding } from '../core/settings.ts';

/** A parsed App document: its manifest and where its fields are. */
export interface LocatedApp {
  file: string;
  manifest: { spec: Pick<AppManifest['spec'], 'envFrom' | 'secrets' | 'volumes' | 'ports'> };
  /** Where a field is; `field`: its name in the file when that is not molt's (a Compose file's keys). */
  locate?: (path: (string | number)[]) => { line?: number; column?: number; field?: string };
  /** Where the spec is in the document. @default ['spec'] (a Release role: ['spec', 'roles', i]) */
  prefix?: (string | number)[];
  /** Try the published ports. @default true (a Release role's ports are tried by its members' creation) */
  ports?: boolean;
}

/** Throws an InvalidInputError listing every host problem of `doc`; `installed` is what runs now. */
export async function checkHostInputs(doc: LocatedApp, installed: AppManifest | undefined): Promise<void> {
  const problems = await hostProblems(doc, installed);
  if (problems.length)
    throw new InvalidInputError(problems, 'Fix the files, paths or ports named above; nothing was changed.');
}

/** The host checks of every role of a Release (files and host paths; ports are per member). */
export async function checkReleaseHostInputs(doc: {
  file: string;
  manifest: { spec: { roles: LocatedApp['manifest']['spec'][] } };
  locate?: LocatedApp['locate'];
}): Promise<void> {
  const problems = (
    await Promise.all(
      doc.manifest.spec.roles.map((role, i) =>
        hostProblems(
          { file: doc.file, locate: doc.locate, manifest: { spec: role }, prefix: ['spec', 'roles', i], ports: false },
          undefined,
        ),
      ),
    )
  ).flat();
  if (problems.length)
    throw new InvalidInputError(problems, 'Fix the files, paths or ports named above; nothing was changed.');
}

/** Every host problem of `doc`. */
export async function hostProblems(doc: LocatedApp, installed: AppManifest | undefined): Promise<InputProblem[]> {
  const { spec } = doc.manifest;
  const problems: InputProblem[] = [];
  const at = (path: (string | number)[], message: string) => {
    const full = [...(doc.prefix ?? ['spec']), ...path];
    const { field, ...where } = doc.locate?.(full) ?? {};
    problems.push({
      file: doc.file,
      ...where,
      field:
        field ??
        full
          .map((p) => (typeof p === 'number' ? `[${p}]` : p))
          .join('.')
          .replace(/\.\[/g, '['),
      message,
    });
  };
  (spec.envFrom ?? []).forEach((f, i) => {
    const text = readable(f.file, (m) => at(['envFrom', i, 'file'], m));
    const bad = text === undefined ? undefined : parseEnvFile(text).problems[0];
    if (bad) at(['envFrom', i, 'file'], `${f.file}:${bad.line}: ${bad.message}`);
  });
  (spec.secrets ?? []).forEach((s, i) => {
    if (readable(s.file, (m) => at(['secrets', i, 'file'], m)) === undefined) return;
    const mode = statSync(s.file).mode & 0o777;
    if (mode & 0o004)
      at(
        ['secrets', i, 'file'],
        `${s.file} is readable by everyone (mode ${mode.toString(8).padStart(4, '0')}): run chmod o-rwx ${s.file} (0600 or 0400)`,
      );
  });
  spec.volumes.forEach((v, i) => {
    if (!isBindMount(v)) return;
    try {
      statSync(v.hostPath);
    } catch (e) {
      at(
        ['volumes', i, 'hostPath'],
        `${v.hostPath} does not exist on this host (${(e as NodeJS.ErrnoException).code}): create it first; molt does not create host paths`,
      );
    }
  });
  const held = new Set(portBindings(installed?.spec.ports).map(portKey));
  const bindings = doc.ports === false ? [] : portBindings(spec.ports);
  for (const [i, p] of bindings.entries()) {
    if (held.has(portKey(p))) continue;
    const error = await tryBind(p);
    if (error === 'EADDRINUSE')
      at(
        ['ports', i],
        `host port ${formatPort(p)} is already in use on this host (another process or container holds it): choose another host port, or stop what holds it`,
      );
    else if (error) at(['ports', i], `host port ${formatPort(p)} cannot be published: ${error}`);
  }
  return problems;
}

function portKey(p: PortBinding): string {
  return `${p.hostIP}:${p.hostPort}/${p.protocol}`;
}

/** The file's text, or undefined after reporting why it cannot be read. */
function readable(file: string, report: (message: string) => void): string | undefined {
  try {
    if (!statSync(file).isFile()) {
      report(`${file} is not a regular file`);
      return undefined;
    }
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    report(
      code === 'ENOENT'
        ? `${file} does not exist (paths are relative to the manifest's directory)`
        : `${file} cannot be read (${code ?? (e as Error).message})`,
    );
    return undefined;
  }
}

/** Binds the port briefly on its host address (every address when none); the error code when taken. */
function tryBind(p: PortBinding): Promise<string | undefined> {
  const host = p.hostIP || '0.0.0.0';
  return new Promise((resolve) => {
    if (p.protocol === 'udp') {
      // node:dgram loads only when a UDP port is published (not with every upgrade).
      const sock = process.getBuiltinModule('node:dgram').createSocket('udp4');
      sock.once('error', (e: NodeJS.ErrnoException) => {
        sock.close();
        resolve(e.code === 'EADDRINUSE' ? e.code : undefined);
      });
      sock.bind(p.hostPort, host, () => sock.close(() => resolve(undefined)));
      return;
    }
    const server = createServer();
    server.once('error', (e: NodeJS.ErrnoException) =>
      resolve(
        e.code === 'EADDRINUSE'
          ? e.code
          : e.code === 'EADDRNOTAVAIL'
            ? `${host} is not an address of this host`
            : undefined,
      ),
    );
    server.listen({ port: p.hostPort, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}
