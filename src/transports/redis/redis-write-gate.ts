import type { Cluster } from 'ioredis';
import type { RedisClient } from './redis.clients.js';

/** How often a closed gate checks whether the key's slot takes writes again. */
const PROBE_MS = 200;

/**
 * Failures that mean the key's slot has no reachable master for now. Any other refusal (a message
 * too large, a missing permission) is the core's to count: holding the writes would stop them all.
 */
const TOPOLOGY_FAILURE =
  /Connection is closed|CLUSTERDOWN|TRYAGAIN|\bMOVED\b|\bASK\b|LOADING|READONLY|MASTERDOWN|Too many Cluster redirections|isn't ready|startup nodes|slots cache|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|writeable/;

/**
 * Keeps writes to a Redis Cluster in order across a failover. The publisher's Cluster fails a
 * write at once when its master is gone (no retry inside ioredis: its delayed retries let newer
 * writes overtake older ones). The first failure closes the gate: the transport reports itself
 * `reconnecting`, the core keeps what failed and what follows, and once a command on the key's
 * slot succeeds again (the slot has a master) the gate opens and the core sends them in order.
 * A single server or a Sentinel client keeps order by itself: the gate never closes for them.
 */
export class ClusterWriteGate {
  private closedFor?: Error;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly client: RedisClient,
    /** A command that succeeds once the key's slot has a master (it writes nothing). */
    private readonly probe: () => Promise<unknown>,
    /** Called when the gate closes or opens. */
    private readonly changed: () => void,
  ) {}

  /** Why writes wait, or undefined while they go. */
  get blockedBy(): Error | undefined {
    return this.closedFor;
  }

  /** `write`, watched: on a Cluster, its failure closes the gate before the caller hears of it. */
  watch<T>(write: Promise<T>): Promise<T> {
    if (!(this.client as Cluster).isCluster) return write;
    return write.catch((error: unknown) => {
      const failure = error instanceof Error ? error : new Error(String(error));
      if (TOPOLOGY_FAILURE.test(failure.message)) this.close(failure);
      throw error;
    });
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private close(error: Error): void {
    if (this.closedFor || this.stopped) return;
    this.closedFor = error;
    this.changed();
    this.schedule();
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.probe().then(
        () => {
          if (this.stopped) return;
          this.closedFor = undefined;
          this.changed();
        },
        () => {
          if (!this.stopped) this.schedule();
        },
      );
    }, PROBE_MS);
  }
}
