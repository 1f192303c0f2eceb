/**
 * Commands on containers molt did not create: `molt upgrade CONTAINER --image IMG` (seed 002
 * on any container) and `molt adopt CONTAINER` (make it a managed app without restarting it).
 */
import { stringify } from 'yaml';
import { adoptManifest } from '../core/adopt.ts';
import { parseManifests } from '../core/manifest.ts';
import { UpgradeRefusedError } from '../core/errors.ts';
import { ContainerNotFoundError, upgradeContainer } from '../runner/container-upgrade.ts';
import { connectEngine, openStore, runDeps, say, type GlobalOptions } from './context.ts';
import { outputFormat, parseDuration, UsageError } from './output.ts';

import type { AdoptOptions, UpgradeOptions } from './container-cli.ts';

/** `molt upgrade CONTAINER --image IMG [-- CMD…]`. */
export async function upgradeCommand(
  ref: string,
  command: string[],
  opts: GlobalOptions & UpgradeOptions,
): Promise<number> {
  const minReady = Number(opts.minReady ?? '2');
  if (!Number.isFinite(minReady) || minReady < 0)
    throw new UsageError(`invalid --min-ready "${opts.minReady}"`, 'Pass a number of seconds, e.g. --min-ready 5.');
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
      process.stdout.write(
        `container/${op.app} upgraded: ${op.plan.previous?.spec.image} → ${op.plan.manifest.spec.image}\n`,
      );
      return 0;
    }
    const cause = 'cause' in s ? s.cause : undefined;
    say(`error[${cause?.code ?? 'Failed'}]: ${op.app}: ${cause?.message ?? s.phase}`);
    say(
      s.phase === 'RolledBack'
        ? `${op.app} was put back: the same container (${op.plan.old?.container.id.slice(0, 12)}) runs ${op.plan.previous?.spec.image} as before, data as it was.`
        : `${op.app} kept running; molt changed nothing.`,
    );
    if (cause?.hint) say(`hint: ${cause.hint}`);
    return 1;
  } finally {
    deps.dispose();
  }
}

/** `molt adopt CONTAINER`: records it as an app and prints its manifest. */
export async function adoptCommand(ref: string, opts: GlobalOptions & AdoptOptions): Promise<number> {
  const format = await outputFormat(opts.output, ['yaml', 'json']);
  const engine = await connectEngine(opts);
  const found = await engine.inspectDefinition(ref);
  if (!found) throw new ContainerNotFoundError(ref);
  const store = openStore(opts);
  try {
    const name = opts.name ?? found.name;
    if (store.getApp(name)?.manifest) {
      throw new UpgradeRefusedError(
        'ChangeRefused',
        `app "${name}" is already managed by molt`,
        `\`molt get app ${name} -o yaml\` shows its status; nothing to adopt.`,
      );
    }
    const image = await engine.imageProcess(found.imageId || found.image);
    // Validated before the rename: a refused adoption changes nothing.
    const { manifest, inherited } = adoptManifest({ ...found, name }, image, {
      package: opts.package,
      version: opts.version,
    });
    const def = { ...found, name };
    const text = stringify(manifest);
    // Through the same validation as `molt apply -f`: what is recorded is what a file of it parses to.
    const [doc] = parseManifests(text, `manifest of ${def.name}`, ['App']);
    if (!doc) throw new Error('internal: the adopted manifest did not parse');
    if (name !== found.name) {
      if (await engine.inspectContainer(name))
        throw new UpgradeRefusedError(
          'ChangeRefused',
          `another container is already named ${name}`,
          'Pick another --name, or remove that container.',
        );
      await engine.renameContainer(found.id, name);
      say(`renamed container ${found.name} to ${name} (it keeps running)`);
    }
    const ip = doc.manifest.spec.network.ipv4;
    if (ip) store.reserveIp(doc.manifest.spec.network.name, def.name, [ip]);
    store.saveApp(def.name, doc.manifest, {
      phase: def.running ? 'Running' : 'Failed',
      installedVersion: doc.manifest.spec.version,
      image: def.image,
      containerId: def.id,
      ...(ip ? { ip } : {}),
      conditions: [],
    });
    const header = [`# adopted by molt from container ${def.name} (${def.id.slice(0, 12)}); it was not restarted.`];
    if (inherited.length > 0)
      header.push(
        `# kept from the container's definition on every upgrade, not spelled out here: ${inherited.join(', ')}`,
      );
    process.stdout.write(
      format === 'json' ? `${JSON.stringify(manifest, null, 2)}\n` : `${header.join('\n')}\n${text}`,
    );
    say(
      `app/${def.name} adopted at version ${doc.manifest.spec.version}; \`molt plan -f\` of this manifest says nothing to do, a new version in it upgrades the container`,
    );
    return 0;
  } finally {
    store.close();
  }
}
