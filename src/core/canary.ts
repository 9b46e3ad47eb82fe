import type { SyncOrigin } from './envelope.types.js';

/**
 * The event name a canary carries. No service declares it, so a feathers-sync 3.x peer, which
 * emits whatever arrives on the service it names, emits it where no listener hears it.
 */
export const CANARY_EVENT = 'nestjs-feathers-sync canary';
/** Canaries in a row that may be missing before the receive path is called stale. */
const MISSES_BEFORE_STALE = 3;

/** What the canary reports in `stats().canary`. */
export interface CanaryStats {
  /** Canaries this instance published. */
  sent: number;
  /** Its own canaries that came back through its subscription. */
  returned: number;
  /** Round trip of the last one that came back, in ms (null: none yet). */
  lastRoundTripMs: number | null;
  /** When the last one came back (ms since 1970; null: none yet). */
  lastReturnedAt: number | null;
}

export interface CanaryParts {
  intervalMs: number;
  instanceId: string;
  epoch?: number;
  /**
   * Publishes canary number `n` through the same path real events take; false when it could not
   * (no service to name yet): that beat is skipped and does not count as missing.
   */
  send: (n: number) => boolean;
  /** The canary verdict changed (`stale` true: none came back for 3 intervals). */
  changed: () => void;
}

/**
 * Proves this instance's receive path: every interval it publishes a small message and checks that
 * it comes back through its own subscription. When the last three did not, the path is `stale`
 * (connected, yet deaf); the next one that comes back makes it good again. It is armed by the first
 * canary that comes back: a transport that never delivers an instance's own messages (cluster://,
 * some custom ones) never turns stale.
 */
export class Canary {
  private timer?: NodeJS.Timeout;
  /** Number of the last canary sent, and of the last one that came back. */
  private sentN = 0;
  private backN = 0;
  private armed = false;
  private staleNow = false;
  private readonly counts: CanaryStats = {
    sent: 0,
    returned: 0,
    lastRoundTripMs: null,
    lastReturnedAt: null,
  };

  constructor(private readonly parts: CanaryParts) {}

  get stale(): boolean {
    return this.staleNow;
  }

  stats(): CanaryStats {
    return { ...this.counts };
  }

  /** Beats while the transport is ready; a new connection starts over with nothing missing. */
  transportReady(ready: boolean): void {
    if (ready && !this.timer) {
      // Canaries sent before the drop may still come back (a log being caught up): ignored.
      this.backN = this.sentN;
      this.timer = setInterval(() => this.beat(), this.parts.intervalMs);
      this.timer.unref();
    } else if (!ready && this.timer) {
      this.stop();
      // Not reported: the engine reports the transport's own status (and its error) right after.
      this.staleNow = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * A canary arrived (trusted: signed, or signing is off). Only this instance's own, from this
   * start, newer than the last one back, counts; any other (another instance's, an old one read
   * again from a durable log) is ignored.
   */
  arrived(stamp: SyncOrigin & { canary: number }): void {
    const { instanceId, epoch } = this.parts;
    const n = stamp.canary;
    if (stamp.origin !== instanceId || stamp.epoch !== epoch) return;
    if (!(n > this.backN && n <= this.sentN)) return;
    this.backN = n;
    this.armed = true;
    const now = Date.now();
    this.counts.returned++;
    this.counts.lastReturnedAt = now;
    if (stamp.ts !== undefined) this.counts.lastRoundTripMs = Math.max(0, now - stamp.ts);
    this.setStale(false);
  }

  private beat(): void {
    if (this.armed && this.sentN - this.backN >= MISSES_BEFORE_STALE) this.setStale(true);
    const n = this.sentN + 1;
    if (!this.parts.send(n)) return;
    this.sentN = n;
    this.counts.sent++;
  }

  private setStale(stale: boolean): void {
    if (this.staleNow === stale) return;
    this.staleNow = stale;
    this.parts.changed();
  }
}

/** Most senders whose last canary number is remembered (the oldest is forgotten past it). */
const MAX_PEERS = 10_000;

/**
 * Other instances' canary numbers, per sender: a jump says how many of their canaries never
 * arrived. A durable log that lost messages before this instance read them counts canaries with
 * events (it cannot tell them apart), so the engine takes those back out of `missed`.
 */
export class PeerCanaries {
  private readonly last = new Map<string, { epoch: number; n: number }>();

  /** Canaries of `origin` missing before number `n` (0 for its first one, or after a restart). */
  seen(origin: string, epoch: number | undefined, n: number): number {
    const start = epoch ?? 0;
    const state = this.last.get(origin);
    if (state === undefined || start > state.epoch) {
      if (state === undefined && this.last.size >= MAX_PEERS) {
        this.last.delete(this.last.keys().next().value as string);
      }
      this.last.set(origin, { epoch: start, n });
      return 0;
    }
    // An earlier start's, or one read again: nothing to learn.
    if (start < state.epoch || n <= state.n) return 0;
    const missing = n - state.n - 1;
    state.n = n;
    return missing;
  }
}
