/**
 * Running a command in a pod's container through the exec subresource (websocket, protocol
 * v5.channel.k8s.io so stdin can be closed: `tar xf -` sees its end of input). The command is
 * argv, never a shell line. Output is collected (bounded) and streamed to `onOutput`; the exit
 * code comes from the final Status frame.
 */
import { PassThrough, Readable, Writable } from 'node:stream';
import { Exec } from '@kubernetes/client-node';
import type { KubeClient } from './client.ts';
import { KubeExecError } from './errors.ts';

/** Options of one exec. */
export interface PodExecOptions {
  /** Bytes (e.g. a tar archive) sent on stdin, then closed. */
  stdin?: Buffer;
  /** Called with each chunk of output as it arrives. */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  /** Stop collecting stdout beyond this many bytes (the command is then cut off). @default 64 MiB */
  maxStdoutBytes?: number;
  /** Aborts waiting (and closes the connection; the command may keep running). */
  signal?: AbortSignal;
}

/** What a command did. */
export interface PodExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: string;
  /** True when stdout went over maxStdoutBytes and was cut off. */
  truncated: boolean;
}

const DEFAULT_MAX_STDOUT = 64 * 1024 * 1024;
const MAX_STDERR = 256 * 1024;

/** Another way to run commands in pods than the websocket: a fake API server's (src/testing/fake-kube.ts). */
export type PodExecTransport = (
  namespace: string,
  pod: string,
  container: string,
  argv: string[],
  opts: PodExecOptions,
) => Promise<PodExecResult>;

/** Runs argv in `container` of pod `namespace/pod` and resolves with its exit code and output. */
export async function execInPod(
  client: KubeClient,
  namespace: string,
  pod: string,
  container: string,
  argv: string[],
  opts: PodExecOptions = {},
): Promise<PodExecResult> {
  const transport = (client as { podExec?: PodExecTransport }).podExec;
  if (transport) return transport(namespace, pod, container, argv, opts);
  const max = opts.maxStdoutBytes ?? DEFAULT_MAX_STDOUT;
  const out: Buffer[] = [];
  let outBytes = 0;
  let truncated = false;
  let stderr = '';
  const stdout = sink((c) => {
    opts.onOutput?.('stdout', c);
    if (outBytes + c.length > max) truncated = true;
    else out.push(c);
    outBytes += c.length;
  });
  const errStream = sink((c) => {
    opts.onOutput?.('stderr', c);
    if (stderr.length < MAX_STDERR) stderr += c.toString('utf8');
  });
  const stdin = opts.stdin ? Readable.from([opts.stdin]) : null;
  const where = `${namespace}/${pod}`;
  return new Promise<PodExecResult>((resolve, reject) => {
    let settled = false;
    let socket: { close(): void } | undefined;
    const finish = (v: PodExecResult | Error) => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      socket?.close();
      if (v instanceof Error) reject(v);
      else resolve(v);
    };
    const onAbort = () =>
      finish(opts.signal?.reason instanceof Error ? opts.signal.reason : new KubeExecError(where, 'aborted'));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const onStatus = (status: {
      status?: string;
      message?: string;
      reason?: string;
      details?: { causes?: { reason?: string; message?: string }[] };
    }) => {
      // Let the last output frames drain before resolving.
      setImmediate(() => {
        if (status.status === 'Success') return finish({ exitCode: 0, stdout: Buffer.concat(out), stderr, truncated });
        const code = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
        if (code !== undefined)
          return finish({ exitCode: Number(code), stdout: Buffer.concat(out), stderr, truncated });
        finish(
          new KubeExecError(where, status.message ?? status.reason ?? 'the command could not be run', {
            retryable: false,
          }),
        );
      });
    };
    new Exec(client.config)
      .exec(namespace, pod, container, argv, stdout, errStream, stdin, false, onStatus)
      .then((ws) => {
        socket = ws;
        ws.on('close', () =>
          setTimeout(
            () => finish(new KubeExecError(where, 'the connection closed before the command reported its exit status')),
            200,
          ),
        );
        ws.on('error', (e: Error) => finish(new KubeExecError(where, e.message, { cause: e })));
      })
      .catch((e: unknown) =>
        finish(new KubeExecError(where, e instanceof Error ? e.message : String(e), { cause: e })),
      );
  });
}

function sink(onChunk: (c: Buffer) => void): Writable {
  const s = new PassThrough();
  s.on('data', (c: Buffer) => onChunk(c));
  return s;
}
