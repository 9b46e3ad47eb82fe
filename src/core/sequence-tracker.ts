/** Most origins remembered at once; the one first heard of longest ago is forgotten first. */
const DEFAULT_MAX_ORIGINS = 10_000;

export type SequenceVerdict = 'new' | 'duplicate';

/**
 * Per-origin sequence numbers: a message whose (origin, seq) was already passed is a duplicate;
 * a jump forward means the messages in between never arrived, reported through `onMissed`.
 * Memory is bounded: at most `maxOrigins` origins are tracked.
 */
export class SequenceTracker {
  private readonly lastSeq = new Map<string, number>();

  constructor(
    private readonly onMissed: (origin: string, missing: number) => void,
    private readonly maxOrigins = DEFAULT_MAX_ORIGINS,
  ) {}

  accept(origin: string, seq: number): SequenceVerdict {
    const last = this.lastSeq.get(origin);
    if (last === undefined) {
      if (this.lastSeq.size >= this.maxOrigins) {
        this.lastSeq.delete(this.lastSeq.keys().next().value as string);
      }
    } else {
      if (seq <= last) return 'duplicate';
      if (seq > last + 1) this.onMissed(origin, seq - last - 1);
    }
    this.lastSeq.set(origin, seq);
    return 'new';
  }

  /** Origins tracked right now. */
  get size(): number {
    return this.lastSeq.size;
  }
}
