/**
 * Engine endpoints beyond the local unix socket: parsing `tcp://host:port`, reading TLS
 * material from files (an Inventory's `tls: {ca, cert, key}`, or Docker's own convention
 * DOCKER_TLS_VERIFY + DOCKER_CERT_PATH with ca.pem, cert.pem and key.pem), and building the
 * DockerEngine for an address. Podman serves plain TCP (`podman system service
 * tcp://HOST:PORT`); TLS is what Docker serves with `--tlsverify`, or a TLS-terminating proxy
 * in front of either.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DockerEngine } from './engine.ts';
import type { TcpEndpoint, TlsMaterial } from './http.ts';

/** TLS files of an endpoint. */
export interface TlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
  serverName?: string;
}

/** A parsed engine address. */
export type EngineAddress = { path: string } | { tcp: { host: string; port: number } } | { problem: string };

/** Parses `tcp://host:port` (IPv6 hosts in brackets); the port is required. */
export function parseTcpAddress(value: string): EngineAddress {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { problem: `${value} is not a valid tcp://host:port address` };
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port);
  if (host === '' || url.port === '' || !Number.isInteger(port) || port < 1 || port > 65535) {
    return { problem: `${value} must name a host and a port: tcp://host:port` };
  }
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.username !== '') {
    return { problem: `${value} must be only tcp://host:port` };
  }
  return { tcp: { host, port } };
}

/** Reads the PEM files; a missing or unreadable file throws an Error naming it and the field. */
export function readTls(files: TlsFiles): TlsMaterial {
  const read = (field: string, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (e) {
      throw new Error(
        `tls.${field} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
      );
    }
  };
  const material: TlsMaterial = {};
  const ca = read('ca', files.ca);
  const cert = read('cert', files.cert);
  const key = read('key', files.key);
  if (ca) material.ca = ca;
  if (cert) material.cert = cert;
  if (key) material.key = key;
  if (files.serverName) material.servername = files.serverName;
  return material;
}

/** Docker's TLS convention for tcp:// addresses from the environment: DOCKER_TLS_VERIFY set → TLS with DOCKER_CERT_PATH (default ~/.docker). */
export function tlsFromEnv(env: NodeJS.ProcessEnv): TlsFiles | undefined {
  const verify = env.DOCKER_TLS_VERIFY;
  if (verify === undefined || verify === '' || verify === '0') return undefined;
  const dir = env.DOCKER_CERT_PATH || join(homedir(), '.docker');
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

/** The engine at a parsed address (not yet pinged). TLS files are read now. */
export function engineAt(
  address: { path: string } | { tcp: { host: string; port: number } },
  tls?: TlsFiles,
  idleTimeoutMs?: number,
): DockerEngine {
  const idle = idleTimeoutMs !== undefined ? { idleTimeoutMs } : {};
  if ('path' in address) return new DockerEngine({ socketPath: address.path, ...idle });
  const tcp: TcpEndpoint = { ...address.tcp, ...(tls ? { tls: readTls(tls) } : {}) };
  const host = address.tcp.host.includes(':') ? `[${address.tcp.host}]` : address.tcp.host;
  return new DockerEngine({ socketPath: `${tls ? 'tcp+tls' : 'tcp'}://${host}:${address.tcp.port}`, tcp, ...idle });
}
