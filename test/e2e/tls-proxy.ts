/**
 * A TLS front for a Podman socket, for tests: Podman 4.3 serves plain TCP only, so a small
 * node:tls server on 127.0.0.1 terminates mutual TLS (client certificate required, as
 * Docker's --tlsverify does) and pipes each connection to the unix socket. The CA, server and
 * client certificates are made with openssl at test time; the client files are named as
 * Docker expects (ca.pem, cert.pem, key.pem) so DOCKER_CERT_PATH can point at them.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';

/** The certificates of one test PKI. */
export interface TestPki {
  /** Directory with ca.pem, cert.pem and key.pem of the client. */
  clientDir: string;
  ca: string;
  cert: string;
  key: string;
}

/** A running proxy. */
export interface TlsProxy {
  port: number;
  pki: TestPki;
  close(): Promise<void>;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** Makes a CA, a server certificate for 127.0.0.1 and a client certificate under `dir`. */
export function makePki(dir: string, name = 'molt-test'): TestPki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', `/CN=${name}-ca`],
    dir,
  );
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [who, ext] of [
    ['server', 'server.ext'],
    ['client', 'client.ext'],
  ] as const) {
    openssl(['req', ...ec, '-keyout', `${who}-key.pem`, '-out', `${who}.csr`, '-subj', `/CN=${name}-${who}`], dir);
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${who}.csr`,
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca-key.pem',
        '-CAcreateserial',
        '-out',
        `${who}.pem`,
        '-days',
        '1',
        '-extfile',
        ext,
      ],
      dir,
    );
  }
  const clientDir = join(dir, 'client');
  mkdirSync(clientDir, { mode: 0o700 });
  writeFileSync(join(clientDir, 'ca.pem'), readFileSync(join(dir, 'ca.pem')));
  writeFileSync(join(clientDir, 'cert.pem'), readFileSync(join(dir, 'client.pem')));
  writeFileSync(join(clientDir, 'key.pem'), readFileSync(join(dir, 'client-key.pem')), { mode: 0o600 });
  return {
    clientDir,
    ca: join(clientDir, 'ca.pem'),
    cert: join(clientDir, 'cert.pem'),
    key: join(clientDir, 'key.pem'),
  };
}

/** Starts the proxy on 127.0.0.1 (a free port) in front of `socket`, with a fresh PKI under `dir`. */
export async function startTlsProxy(socket: string, dir: string): Promise<TlsProxy> {
  const pki = makePki(dir);
  const connections = new Set<net.Socket>();
  const server = tls.createServer(
    {
      key: readFileSync(join(dir, 'server-key.pem')),
      cert: readFileSync(join(dir, 'server.pem')),
      ca: readFileSync(join(dir, 'ca.pem')),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (client) => {
      const upstream = net.connect(socket);
      connections.add(client).add(upstream);
      const drop = (): void => {
        client.destroy();
        upstream.destroy();
        connections.delete(client);
        connections.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream).pipe(client);
    },
  );
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    pki,
    close: async () => {
      for (const c of connections) c.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
