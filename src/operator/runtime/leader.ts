/**
 * Leader election over a coordination.k8s.io/v1 Lease, with client-go's timing: a lease lasts
 * 15 s, the leader renews every 2 s and gives up leadership when it could not renew for 10 s;
 * a candidate takes the lease over once it expired. Writes are conditional (the Lease's
 * resourceVersion), so two candidates can never both win. On shutdown the leader releases
 * the lease so a successor does not wait for it to expire.
 */
import type { Lease, ResourceApi } from '../../engines/kubernetes/index.ts';
import { isStatus, RESOURCES } from '../../engines/kubernetes/index.ts';

/** Timing of the election. */
export interface LeaderTiming {
  /** Seconds a lease is valid after its renewTime. @default 15 */
  leaseDurationSeconds: number;
  /** Milliseconds the leader keeps trying to renew before it gives up. @default 10000 */
  renewDeadlineMs: number;
  /** Milliseconds between attempts. @default 2000 */
  retryPeriodMs: number;
}

/** The defaults of controller-runtime and client-go. */
export const DEFAULT_TIMING: LeaderTiming = { leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2000 };

/** Where the lease lives and who we are. */
export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  timing?: LeaderTiming;
  log?: (line: string) => void;
}

/** Runs for leadership; `onStarted` once elected, `onStopped` if leadership is lost. */
export class LeaderElector {
  private readonly api: ResourceApi;
  private readonly opts: LeaderOptions;
  private readonly timing: LeaderTiming;
  private leading = false;
  private stopped = false;

  constructor(api: ResourceApi, opts: LeaderOptions) {
    this.api = api;
    this.opts = opts;
    this.timing = opts.timing ?? DEFAULT_TIMING;
  }

  /** True while this instance holds the lease. */
  get isLeader(): boolean {
    return this.leading;
  }

  /** Campaigns until elected, then renews until stopped or the renew deadline passes. */
  async run(onStarted: () => void, onStopped: () => void): Promise<void> {
    while (!this.stopped && !(await this.tryAcquireOrRenew())) await sleep(this.timing.retryPeriodMs);
    if (this.stopped) return;
    this.leading = true;
    this.opts.log?.(`became leader (lease ${this.opts.namespace}/${this.opts.name})`);
    onStarted();
    let lastRenew = Date.now();
    while (!this.stopped) {
      await sleep(this.timing.retryPeriodMs);
      if (this.stopped) break;
      if (await this.tryAcquireOrRenew()) lastRenew = Date.now();
      else if (Date.now() - lastRenew > this.timing.renewDeadlineMs) {
        this.leading = false;
        this.opts.log?.('lost leadership: could not renew the lease within the renew deadline');
        onStopped();
        return;
      }
    }
  }

  /** Stops campaigning; a leader releases the lease (holder cleared, duration 1 s). */
  async release(): Promise<void> {
    this.stopped = true;
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.api.get<Lease>(RESOURCES.leases, this.opts.namespace, this.opts.name);
      if (lease?.spec?.holderIdentity !== this.opts.identity) return;
      const now = microTime(new Date());
      await this.api.replace<Lease>(RESOURCES.leases, this.opts.namespace, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now },
      });
    } catch (e) {
      this.opts.log?.(`could not release the lease: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** One attempt: create the lease, renew ours, or take over an expired one. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.opts;
    const now = new Date();
    try {
      const lease = await this.api.get<Lease>(RESOURCES.leases, namespace, name);
      const spec = {
        holderIdentity: identity,
        leaseDurationSeconds: this.timing.leaseDurationSeconds,
        renewTime: microTime(now),
      };
      if (!lease) {
        await this.api.create<Lease>(RESOURCES.leases, namespace, {
          metadata: { name, namespace },
          spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
        });
        return true;
      }
      const held = lease.spec?.holderIdentity;
      if (held === identity) {
        await this.api.replace<Lease>(RESOURCES.leases, namespace, { ...lease, spec: { ...lease.spec, ...spec } });
        return true;
      }
      if (held && !expired(lease, now)) return false;
      const transitions = (lease.spec?.leaseTransitions ?? 0) + 1;
      await this.api.replace<Lease>(RESOURCES.leases, namespace, {
        ...lease,
        spec: { ...spec, acquireTime: microTime(now), leaseTransitions: transitions },
      });
      this.opts.log?.(`took over the lease from ${held || '(released)'}`);
      return true;
    } catch (e) {
      if (!isStatus(e, 409))
        this.opts.log?.(`lease ${namespace}/${name}: ${e instanceof Error ? e.message : String(e)}`);
      return false;
    }
  }
}

function expired(lease: Lease, now: Date): boolean {
  const renew = lease.spec?.renewTime ? Date.parse(lease.spec.renewTime) : 0;
  return renew + (lease.spec?.leaseDurationSeconds ?? 15) * 1000 < now.getTime();
}

/** A MicroTime as the API wants it: RFC 3339 with 6 fractional digits. */
function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
