/** Most origins remembered at once; the one first heard of longest ago is forgotten first. */
const DEFAULT_MAX_ORIGINS = 10_000;

/**
 * `new`: pass it on. `duplicate`: this (origin, epoch, seq) was already passed. `stale`: from an
 * earlier start of an origin that has restarted since (a replay, or two live instances sharing
 * one `instanceId`).
 */
export type SequenceVerdict = 'new' | 'duplicate' | 'stale';

interface OriginState {
  epoch: number;
  seq: number;
}

/**
 * Per-origin sequence numbers: a message whose (origin, seq) was already passed is a duplicate;
 * a jump forward means the messages in between never arrived, reported through `onMissed`.
 * An origin with a fixed id starts again at seq 1 after a restart, with a later epoch: the later
 * epoch starts a new sequence, an earlier one is refused. Memory is bounded: at most `maxOrigins`
 * origins are tracked.
 */
export class SequenceTracker {
  private readonly origins = new Map<string, OriginState>();

  constructor(
    private readonly onMissed: (origin: string, missing: number) => void,
    private readonly maxOrigins = DEFAULT_MAX_ORIGINS,
  ) {}

  accept(origin: string, seq: number, epoch = 0): SequenceVerdict {
    const state = this.origins.get(origin);
    if (state === undefined) {
      if (this.origins.size >= this.maxOrigins) {
        this.origins.delete(this.origins.keys().next().value as string);
      }
      this.origins.set(origin, { epoch, seq });
      return 'new';
    }
    if (epoch !== state.epoch) {
      if (epoch < state.epoch) return 'stale';
      // Restarted: its new sequence began at 1.
      if (seq > 1) this.onMissed(origin, seq - 1);
      state.epoch = epoch;
      state.seq = seq;
      return 'new';
    }
    if (seq <= state.seq) return 'duplicate';
    if (seq > state.seq + 1) this.onMissed(origin, seq - state.seq - 1);
    state.seq = seq;
    return 'new';
  }

  /** Origins tracked right now. */
  get size(): number {
    return this.origins.size;
  }
}

let lastEpoch = 0;

/**
 * The epoch of a start of this process's sync engine: the time in ms, strictly increasing within
 * the process (two engines started within one millisecond still differ). Across processes it
 * relies on clocks that agree to within the time a restart takes.
 */
export function newEpoch(): number {
  lastEpoch = Math.max(Date.now(), lastEpoch + 1);
  return lastEpoch;
}
