// The conformance scenarios (scenarios.ts) on the local engine: the molt CLI against a private
// Podman service (test/e2e/harness.ts), pulling the images from the test registry with the
// credentials of REGISTRY_AUTH_FILE.
import { volumeChecksum } from '../e2e/harness.ts';
import { molt, startTestbed } from '../e2e/molt-cli.ts';
import { acquireRegistry, releaseRegistry } from '../k8s/registry.ts';
import type { Engine } from './engine.ts';
import { conformanceSuite } from './scenarios.ts';

conformanceSuite(async (): Promise<Engine> => {
  const registry = acquireRegistry();
  const { h, m, net, subnet } = await startTestbed().catch((error: unknown) => {
    releaseRegistry();
    throw error;
  });
  const auth = { REGISTRY_AUTH_FILE: registry.authFile };
  const podman = async (args: string[]): Promise<string> => {
    const r = await h.podman(args);
    if (r.code !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  return {
    name: 'podman',
    site: { registry, network: { name: net, subnet }, labels: { 'molt.dev/operator-instance': 'conformance' } },
    molt: (args) => molt(m, args, auth),
    exec: (app, cmd) => podman(['exec', app, 'sh', '-c', cmd]),
    instance: async (app) => (await podman(['inspect', '--format', '{{.Id}} {{.State.StartedAt}}', app])).trim(),
    volumeChecksum: () => volumeChecksum(h, 'data'),
    close: async () => {
      try {
        await h.stop();
      } finally {
        releaseRegistry();
      }
    },
  };
});
