/**
 * The Docker Engine API driver (Podman 4.3+ and Docker over a unix socket): DockerEngine,
 * engine discovery, and the image-stream helpers others may need. Details (HTTP client,
 * JSON translations, stream decoding) stay in their own modules.
 */
export { DockerEngine } from './engine.ts';
export type { DockerEngineOptions, RemoveOptions } from './engine.ts';
export { discoverEngine, parseEngineAddress, PODMAN_CONTAINERS_CONF, wellKnownSockets } from './discover.ts';
export type { DiscoverOptions, DiscoveredEngine, StartedService } from './discover.ts';
export { bridgeName, REQUESTED_IPV4_LABEL } from './convert.ts';
