/**
 * The zod schema of the container settings of issue 13 (ports, restart, resources, user,
 * workingDir, stopSignal, shmSize, tmpfs, bind mounts, envFrom, secrets, containerLabels,
 * healthcheck, dependsOn, upgrade.monitorSeconds). Spread into schema.ts's `containerShape`,
 * so they are valid in an App and in a Release role's template. Rules that need the host
 * (files exist, ports free) are checked at apply time (runner/host-checks.ts).
 */
import * as z from 'zod';
import { absolutePath, argv, port } from './schema-parts.ts';
import { volumeKubeShape } from './pod-settings.ts';
import { lazySchema } from './lazy-schema.ts';
import { normaliseSignal, parseBytes, parseNanoCpus, parsePort, parseRestart, type PortSpec } from './settings.ts';

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;
const CONTAINER_LABEL = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,252}$/;

/** A size: bytes as a number, or 512Mi, 64m, 1g… */
const size = (min = 1, what = 'size') =>
  z.union([z.number(), z.string()]).refine((v) => (parseBytes(v) ?? 0) >= min, {
    message: `must be a ${what} such as 512Mi, 64m or 1g (binary units b, k/Ki, m/Mi, g/Gi, t/Ti; a number is bytes)${min > 1 ? `, at least ${min / 1024 / 1024} MiB` : ''}`,
  });

const portEntry = lazySchema(() =>
  z
    .union([
      z.string(),
      z.strictObject({
        target: port,
        published: port,
        hostIP: z.string().optional(),
        protocol: z.enum(['tcp', 'udp']).optional(),
      }),
    ])
    .superRefine((p, ctx) => {
      const parsed = parsePort(p as PortSpec);
      if ('error' in parsed) ctx.addIssue({ code: 'custom', message: parsed.error });
    }),
);

const healthcheck = lazySchema(() =>
  z
    .strictObject({
      exec: argv.optional(),
      tcp: z.strictObject({ port }).optional(),
      http: z.strictObject({ port, path: z.string().startsWith('/').default('/') }).optional(),
      periodSeconds: z.number().int().min(1).max(3600).default(10),
      failureThreshold: z.number().int().min(1).max(1000).default(3),
      timeoutSeconds: z.number().int().min(1).max(3600).default(5),
      startPeriodSeconds: z.number().int().min(0).max(3600).default(0),
    })
    .refine((p) => [p.exec, p.tcp, p.http].filter((x) => x !== undefined).length === 1, {
      message: 'set exactly one of exec, tcp or http',
    }),
);

const secret = lazySchema(() =>
  z
    .strictObject({
      name: z.string().regex(VOLUME_NAME, 'must be a secret name: letters, digits, "_", "." and "-"'),
      file: z.string().min(1, 'must name a file (relative to the manifest)'),
      mountPath: absolutePath.optional(),
      env: z.string().regex(ENV_NAME, 'env names are letters, digits and "_", not starting with a digit').optional(),
    })
    .refine((s) => s.mountPath === undefined || s.env === undefined, { message: 'set mountPath or env, not both' }),
);

/** One entry of `volumes`: a named volume, or a bind mount of a host path. */
export const volumeEntry = z.union(
  [
    z.strictObject({
      name: z
        .string()
        .regex(
          VOLUME_NAME,
          'must be a volume name: letters, digits, "_", "." and "-", starting with a letter or digit',
        ),
      mountPath: absolutePath,
      readOnly: z.boolean().optional(),
      ...volumeKubeShape,
    }),
    z.strictObject({ hostPath: absolutePath, mountPath: absolutePath, readOnly: z.boolean().optional() }),
  ],
  { error: 'a volume is {name, mountPath[, readOnly]} or {hostPath, mountPath[, readOnly]}' },
);

/** `upgrade.monitorSeconds`: how long after ready a failing healthcheck or an exit still rolls back. */
export const monitorSeconds = z.number().min(0).max(3600).optional();

/**
 * The settings fields of containerShape, each built when first used (lazy-schema.ts: a
 * manifest's schema holds only the optional fields it names).
 */
export const settingsFields = {
  ports: lazySchema(() => z.array(portEntry()).optional()),
  restart: lazySchema(() =>
    z
      .string()
      .refine((r) => parseRestart(r) !== undefined, 'must be no, on-failure, on-failure:N, always or unless-stopped')
      .optional(),
  ),
  resources: lazySchema(() =>
    z
      .strictObject({
        memory: size(6 * 1024 * 1024, 'memory size').optional(),
        cpus: z
          .union([z.number(), z.string()])
          .refine(
            (c) => parseNanoCpus(c) !== undefined,
            'must be a number of CPUs such as "1.5", 0.5 or "500m" (0.001 to 1024)',
          )
          .optional(),
        pids: z.number().int().min(1).max(4194304).optional(),
      })
      .optional(),
  ),
  user: lazySchema(() =>
    z
      .string()
      .regex(
        /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$/,
        'must be a user: name, uid, name:group or uid:gid (e.g. "999:999")',
      )
      .optional(),
  ),
  workingDir: lazySchema(() => absolutePath.optional()),
  stopSignal: lazySchema(() =>
    z
      .string()
      .refine((s) => normaliseSignal(s) !== undefined, 'must be a signal name such as SIGINT, SIGTERM or SIGQUIT')
      .optional(),
  ),
  shmSize: lazySchema(() => size().optional()),
  tmpfs: lazySchema(() => z.array(z.strictObject({ mountPath: absolutePath, size: size().optional() })).optional()),
  envFrom: lazySchema(() =>
    z
      .array(z.strictObject({ file: z.string().min(1, 'must name a KEY=VALUE file (relative to the manifest)') }))
      .optional(),
  ),
  secrets: lazySchema(() => z.array(secret()).optional()),
  containerLabels: lazySchema(() =>
    z
      .record(
        z
          .string()
          .regex(CONTAINER_LABEL, 'must be a label key such as com.example.team')
          .refine((k) => !k.startsWith('dev.molt.'), "dev.molt.* labels are molt's own"),
        z.string({ error: 'label values must be strings: quote numbers and booleans' }),
      )
      .optional(),
  ),
  healthcheck: lazySchema(() => healthcheck().optional()),
  dependsOn: lazySchema(() =>
    z.array(z.string().regex(DNS_LABEL, 'must be the name of an app (a DNS label)')).optional(),
  ),
};

/** Flags two settings claiming one container path, duplicate secrets and duplicate host ports. */
export function uniqueSettings(
  spec: {
    volumes: { mountPath: string }[];
    tmpfs?: { mountPath: string }[];
    secrets?: { name: string; mountPath?: string; env?: string }[];
    ports?: PortSpec[];
  },
  ctx: z.RefinementCtx,
): void {
  const paths = new Map<string, string>(spec.volumes.map((v, i) => [v.mountPath, `volumes[${i}]`]));
  const claim = (path: string, where: (string | number)[], field: string) => {
    const first = paths.get(path);
    if (first) ctx.addIssue({ code: 'custom', path: where, message: `${path} is already mounted by ${first}` });
    else paths.set(path, field);
  };
  spec.tmpfs?.forEach((t, i) => claim(t.mountPath, ['tmpfs', i, 'mountPath'], `tmpfs[${i}]`));
  const names = new Set<string>();
  spec.secrets?.forEach((s, i) => {
    if (names.has(s.name))
      ctx.addIssue({ code: 'custom', path: ['secrets', i, 'name'], message: `secret "${s.name}" is listed twice` });
    names.add(s.name);
    if (s.env === undefined)
      claim(
        s.mountPath ?? `/run/secrets/${s.name}`,
        ['secrets', i, s.mountPath ? 'mountPath' : 'name'],
        `secrets[${i}]`,
      );
  });
  const published: { ip: string; key: string }[] = [];
  spec.ports?.forEach((p, i) => {
    const b = parsePort(p);
    if ('error' in b) return;
    const key = `${b.hostPort}/${b.protocol}`;
    const clash = published.findIndex((x) => x.key === key && (x.ip === b.hostIP || x.ip === '' || b.hostIP === ''));
    if (clash >= 0)
      ctx.addIssue({
        code: 'custom',
        path: ['ports', i],
        message: `host port ${key} is already published by ports[${clash}]`,
      });
    published.push({ ip: b.hostIP, key });
  });
}
