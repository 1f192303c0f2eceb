/**
 * Commands on containers molt did not create: `molt upgrade CONTAINER --image IMG` (seed 002
 * on any container) and `molt adopt CONTAINER` (make it a managed app without restarting it).
 */
import { Command } from 'commander';
import { stringify } from 'yaml';
import { adoptManifest } from '../core/adopt.ts';
import { parseManifests } from '../core/manifest.ts';
import { UpgradeRefusedError } from '../core/errors.ts';
import { ContainerNotFoundError, upgradeContainer } from '../runner/container-upgrade.ts';
import { connectEngine, openStore, runDeps, say, type GlobalOptions } from './context.ts';
import { outputFormat, parseDuration, UsageError } from './output.ts';

type Action = (...args: never[]) => number | Promise<number>;

interface UpgradeOptions { image: string; version?: string; entrypoint?: string; minReady?: string; timeout: string }
interface AdoptOptions { package?: string; version?: string; name?: string; output: string }

/** Adds `upgrade` and `adopt` to the program. */
export function registerContainerCommands(program: Command): void {
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const run = (fn: Action) => async (...args: unknown[]) => {
    process.exitCode = await (fn as (...a: unknown[]) => number | Promise<number>)(...args);
  };
  program.command('upgrade').description('seed 002 on any container: re-create it from a new image, keeping everything else it had (volumes, IP and MAC, ports, limits, env…)')
    .argument('<container>', 'name or id').argument('[command...]', 'new Cmd (after --)')
    .requiredOption('--image <image>', 'the new image')
    .option('--version <version>', 'the version the new image is (for upgrade scripts and history; default: its tag)')
    .option('--entrypoint <entrypoint>', 'new Entrypoint (one executable)')
    .option('--min-ready <seconds>', 'how long the new container must keep running to count as started', '2')
    .option('--timeout <duration>', 'roll back when not done within this time', '10m')
    .action(run((container: string, command: string[], o: UpgradeOptions) => upgradeCommand(container, command, { ...globals(), ...o })));
  program.command('adopt').description('make an existing container a managed app without restarting it; prints its manifest')
    .argument('<container>', 'name or id')
    .option('--package <ns/name>', 'package identity (default: from the image repository)')
    .option('--version <version>', 'the version it runs (default: its image tag, when that is a version)')
    .option('--name <app>', 'the app\'s name; the container is renamed to it (not restarted). E.g. a Compose service\'s <project>-<service>')
    .option('-o, --output <format>', 'yaml or json', 'yaml')
    .action(run((container: string, o: AdoptOptions) => adoptCommand(container, { ...globals(), ...o })));
}

/** `molt upgrade CONTAINER --image IMG [-- CMD…]`. */
export async function upgradeCommand(ref: string, command: string[], opts: GlobalOptions & UpgradeOptions): Promise<number> {
  const minReady = Number(opts.minReady ?? '2');
  if (!Number.isFinite(minReady) || minReady < 0) throw new UsageError(`invalid --min-ready "${opts.minReady}"`, 'Pass a number of seconds, e.g. --min-ready 5.');
  const deps = await runDeps(opts, parseDuration(opts.timeout));
  try {
    const op = await upgradeContainer(deps, ref, {
      image: opts.image,
      ...(opts.version ? { version: opts.version } : {}),
      ...(command.length > 0 ? { cmd: command } : {}),
      ...(opts.entrypoint ? { entrypoint: [opts.entrypoint] } : {}),
      minReadySeconds: minReady,
    });
    const s = op.state;
    if (s.phase === 'Succeeded') {
      process.stdout.write(`container/${op.app} upgraded: ${op.plan.previous?.spec.image} → ${op.plan.manifest.spec.image}\n`);
      return 0;
    }
    const cause = 'cause' in s ? s.cause : undefined;
    say(`error[${cause?.code ?? 'Failed'}]: ${op.app}: ${cause?.message ?? s.phase}`);
    say(s.phase === 'RolledBack' ? `${op.app} was put back: the same container (${op.plan.old?.container.id.slice(0, 12)}) runs ${op.plan.previous?.spec.image} as before, data as it was.` : `${op.app} kept running; molt changed nothing.`);
    if (cause?.hint) say(`hint: ${cause.hint}`);
    return 1;
  } finally {
    deps.dispose();
  }
}

/** `molt adopt CONTAINER`: records it as an app and prints its manifest. */
export async function adoptCommand(ref: string, opts: GlobalOptions & AdoptOptions): Promise<number> {
  const format = outputFormat(opts.output, ['yaml', 'json']);
  const engine = await connectEngine(opts);
  const found = await engine.inspectDefinition(ref);
  if (!found) throw new ContainerNotFoundError(ref);
  const store = openStore(opts);
  try {
    const name = opts.name ?? found.name;
    if (store.getApp(name)?.manifest) {
      throw new UpgradeRefusedError('ChangeRefused', `app "${name}" is already managed by molt`, `\`molt get app ${name} -o yaml\` shows its status; nothing to adopt.`);
    }
    const image = await engine.imageProcess(found.imageId || found.image);
    // Validated before the rename: a refused adoption changes nothing.
    const { manifest, inherited } = adoptManifest({ ...found, name }, image, { package: opts.package, version: opts.version });
    const def = { ...found, name };
    const text = stringify(manifest);
    // Through the same validation as `molt apply -f`: what is recorded is what a file of it parses to.
    const [doc] = parseManifests(text, `manifest of ${def.name}`, ['App']);
    if (!doc) throw new Error('internal: the adopted manifest did not parse');
    if (name !== found.name) {
      if (await engine.inspectContainer(name)) throw new UpgradeRefusedError('ChangeRefused', `another container is already named ${name}`, 'Pick another --name, or remove that container.');
      await engine.renameContainer(found.id, name);
      say(`renamed container ${found.name} to ${name} (it keeps running)`);
    }
    const ip = doc.manifest.spec.network.ipv4;
    if (ip) store.reserveIp(doc.manifest.spec.network.name, def.name, [ip]);
    store.saveApp(def.name, doc.manifest, { phase: def.running ? 'Running' : 'Failed', installedVersion: doc.manifest.spec.version, image: def.image, containerId: def.id, ...(ip ? { ip } : {}), conditions: [] });
    const header = [`# adopted by molt from container ${def.name} (${def.id.slice(0, 12)}); it was not restarted.`];
    if (inherited.length > 0) header.push(`# kept from the container's definition on every upgrade, not spelled out here: ${inherited.join(', ')}`);
    process.stdout.write(format === 'json' ? `${JSON.stringify(manifest, null, 2)}\n` : `${header.join('\n')}\n${text}`);
    say(`app/${def.name} adopted at version ${doc.manifest.spec.version}; \`molt plan -f\` of this manifest says nothing to do, a new version in it upgrades the container`);
    return 0;
  } finally {
    store.close();
  }
}
