/**
 * `molt systemd install [--user]`: the unit that runs `molt up` at boot (molt has no daemon;
 * the restart policy covers crashes only while the engine's processes run, `molt up` covers
 * host restarts). Written only; enabling it is the user's step (printed).
 */
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { moltHome, say, type GlobalOptions } from './context.ts';

/** What goes into the unit. */
export interface UnitOptions {
  /** Absolute path of the molt launcher. */
  molt: string;
  /** molt's home (always passed, so the unit acts on the same state as the user). */
  home: string;
  /** --engine, when given at install time. */
  engine?: string;
  /** Environment carried into the unit (CONTAINER_HOST, DOCKER_HOST, PATH). */
  env: Record<string, string>;
  user: boolean;
}

/** The unit's text: a oneshot after the network is online. */
export function unitText(o: UnitOptions): string {
  const quote = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `"${s.replace(/(["\\$])/g, '\\$1')}"`);
  const args = [o.molt, '--home', o.home, ...(o.engine ? ['--engine', o.engine] : []), 'up'].map(quote).join(' ');
  return [
    '# Written by `molt systemd install`: starts every app molt manages after boot (molt up).',
    '[Unit]',
    'Description=molt: start the apps molt manages (molt up)',
    'Wants=network-online.target',
    'After=network-online.target',
    ...(o.user ? [] : ['After=local-fs.target']),
    '',
    '[Service]',
    'Type=oneshot',
    'RemainAfterExit=yes',
    ...Object.entries(o.env)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `Environment=${quote(`${k}=${v}`)}`),
    `ExecStart=${args}`,
    'TimeoutStartSec=30min',
    // What `molt up` leaves running (the Podman service molt starts, the containers' conmon
    // processes, which stay in this unit's cgroup under cgroupfs) must outlive the oneshot and
    // must not be killed when the unit is stopped: only the main process is the unit's.
    'KillMode=process',
    '',
    '[Install]',
    `WantedBy=${o.user ? 'default.target' : 'multi-user.target'}`,
    '',
  ].join('\n');
}

/** Where the unit goes: the system's unit directory, or the user's. */
export function unitDir(user: boolean, env: NodeJS.ProcessEnv = process.env): string {
  if (!user) return '/etc/systemd/system';
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'systemd', 'user');
}

/** `molt systemd install`: writes molt.service and prints how to enable it. */
export function installUnit(opts: GlobalOptions & { user?: boolean; dir?: string }): number {
  const user = opts.user === true;
  const dir = opts.dir ?? unitDir(user);
  const launcher = realpathSync(new URL('../../bin/molt', import.meta.url));
  const env = Object.fromEntries(
    ['CONTAINER_HOST', 'DOCKER_HOST', 'CONTAINERS_CONF', 'CONTAINERS_STORAGE_CONF', 'PATH'].flatMap((k) =>
      process.env[k] ? [[k, process.env[k]!]] : [],
    ),
  );
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'molt.service');
  writeFileSync(
    file,
    unitText({ molt: launcher, home: moltHome(opts), ...(opts.engine ? { engine: opts.engine } : {}), env, user }),
    { mode: 0o644 },
  );
  const ctl = user ? 'systemctl --user' : 'systemctl';
  process.stdout.write(`wrote ${file}\n`);
  say(`enable it with: ${ctl} daemon-reload && ${ctl} enable molt.service`);
  if (user) say('a user unit runs at boot only with lingering on: loginctl enable-linger $USER');
  return 0;
}
