import { now, type LatencyStats, type PhaseSpec } from './protocol.js';

/**
 * Per-process record of one phase: which sequence numbers arrived, when, how often and in what
 * order. Arrays are allocated when the phase is armed, so recording allocates nothing.
 */
export class Tracker {
  readonly phase: number;
  readonly expected: number;
  unique = 0;
  duplicates = 0;
  outOfOrder = 0;
  stray = 0;
  firstAt = 0;
  lastAt = 0;
  private maxSeq = -1;
  private readonly seen: Uint8Array;
  private readonly latencies: Float64Array;
  /** Restart phase only: arrival time of each distinct event, in arrival order. */
  private readonly arrivals?: Float64Array;
  private waiter?: { target: number; resolve: (reached: boolean) => void; timer: NodeJS.Timeout };

  constructor(
    spec: PhaseSpec,
    private readonly onComplete: () => void,
  ) {
    this.phase = spec.id;
    this.expected = spec.count;
    this.seen = new Uint8Array(spec.count);
    this.latencies = new Float64Array(spec.count);
    // Touch every page now: otherwise the process's RSS grows as the phase fills the arrays, which
    // a soak would report as growth.
    this.seen.fill(1).fill(0);
    this.latencies.fill(1).fill(0);
    if (spec.name === 'restart') this.arrivals = new Float64Array(spec.count);
  }

  record(ph: unknown, seq: unknown, sentAt: unknown): void {
    if (ph !== this.phase || typeof seq !== 'number' || typeof sentAt !== 'number') {
      this.stray++;
      return;
    }
    if (!(seq >= 0 && seq < this.expected) || !Number.isInteger(seq)) {
      this.stray++;
      return;
    }
    const at = now();
    if (this.seen[seq] === 1) {
      this.duplicates++;
      return;
    }
    this.seen[seq] = 1;
    this.latencies[this.unique] = at - sentAt;
    if (this.arrivals) this.arrivals[this.unique] = at;
    this.unique++;
    if (seq < this.maxSeq) this.outOfOrder++;
    else this.maxSeq = seq;
    if (this.firstAt === 0) this.firstAt = at;
    this.lastAt = at;
    if (this.waiter && this.unique >= this.waiter.target) {
      const { resolve, timer } = this.waiter;
      this.waiter = undefined;
      clearTimeout(timer);
      resolve(true);
    }
    if (this.unique === this.expected) this.onComplete();
  }

  /** Resolves true once `target` distinct events arrived, false after `timeoutMs` without. */
  waitFor(target: number, timeoutMs: number): Promise<boolean> {
    if (this.unique >= target) return Promise.resolve(true);
    if (this.waiter) {
      clearTimeout(this.waiter.timer);
      this.waiter.resolve(false);
    }
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(false);
      }, timeoutMs);
      this.waiter = { target, resolve, timer };
    });
  }

  /** The first arrival at or after `after` (restart phase), or 0. */
  firstArrivalAfter(after: number): number {
    if (!this.arrivals) return 0;
    for (let i = 0; i < this.unique; i++) if (this.arrivals[i] >= after) return this.arrivals[i];
    return 0;
  }

  latency(): LatencyStats | null {
    return latencyStats(this.latencies.subarray(0, this.unique));
  }
}

export function latencyStats(values: Float64Array): LatencyStats | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return {
    count: sorted.length,
    mean: round(sum / sorted.length),
    p50: round(at(0.5)),
    p90: round(at(0.9)),
    p99: round(at(0.99)),
    max: round(sorted[sorted.length - 1]),
  };
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
