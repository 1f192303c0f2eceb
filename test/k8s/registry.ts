// The test registry of test/k8s/cluster (lib/registry.sh) for e2e tests: acquireRegistry()
// starts it unless it runs (with the cluster, or alone) and registers this process as a user;
// releaseRegistry() unregisters it — the last user out stops a registry started alone.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CLUSTER_SCRIPT, kubectl } from './cluster.ts';

/** Where the registry is and how to reach it. */
export interface TestRegistry {
  /** host:port for image references. */
  address: string;
  /** The CA that signed its certificate. */
  ca: string;
  /** A dockerconfigjson auth file with its credentials (podman --authfile, REGISTRY_AUTH_FILE). */
  authFile: string;
  username: string;
  password: string;
}

function registryCommand(args: string[]): string {
  const r = spawnSync(CLUSTER_SCRIPT, ['registry', ...args], { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0)
    throw new Error(`test/k8s/cluster registry ${args.join(' ')} failed (${r.status}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Parses the `export K=V` lines the cluster script prints. */
export function parseExports(out: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of out.matchAll(/^export ([A-Z_]+)=(.*)$/gm)) env[m[1] ?? ''] = m[2] ?? '';
  return env;
}

/** Starts the registry if needed and registers this process as its user. */
export function acquireRegistry(): TestRegistry {
  const env = parseExports(registryCommand(['acquire', String(process.pid)]));
  return registryOf(env);
}

/** The registry as `registry env` describes it now (its address changes when the cluster's bridge comes up). */
export function currentRegistry(): TestRegistry {
  return registryOf(parseExports(registryCommand(['env'])));
}

function registryOf(env: Record<string, string>): TestRegistry {
  const address = env.MOLT_REGISTRY ?? '';
  const authFile = env.MOLT_REGISTRY_AUTH ?? '';
  const ca = env.MOLT_REGISTRY_CA ?? '';
  if (!address || !authFile || !ca)
    throw new Error(`the registry printed no MOLT_REGISTRY* variables: ${JSON.stringify(env)}`);
  const auths = (JSON.parse(readFileSync(authFile, 'utf8')) as { auths: Record<string, { auth: string }> }).auths;
  const plain = Buffer.from(auths[address]?.auth ?? '', 'base64').toString('utf8');
  const i = plain.indexOf(':');
  return { address, ca, authFile, username: plain.slice(0, i), password: plain.slice(i + 1) };
}

/** Unregisters this process; a registry started alone stops when its last user leaves. */
export function releaseRegistry(): string {
  return registryCommand(['release', String(process.pid)]);
}

/** Creates the docker-registry Secret `name` in `namespace` with the registry's credentials (an App's imagePullSecret). */
export function createPullSecret(reg: TestRegistry, namespace: string, name = 'pull'): void {
  kubectl([
    '-n',
    namespace,
    'create',
    'secret',
    'docker-registry',
    name,
    `--docker-server=${reg.address}`,
    `--docker-username=${reg.username}`,
    `--docker-password=${reg.password}`,
  ]);
}
