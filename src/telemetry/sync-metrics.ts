import type {
  Attributes,
  BatchObservableCallback,
  Histogram,
  Meter,
  Observable,
} from '@opentelemetry/api';
import { DROP_REASONS, type DropReason } from '../core/envelope.types.js';
import type { SyncStats } from '../core/sync-stats.js';
import { ATTR_ERROR_TYPE, ATTR_SERVICE_PATH, LATENCY_BUCKETS_S, METRIC } from './semconv.js';

/** The counters `stats()` keeps, reported as they are (observed at each collection, not per event). */
const OBSERVED_COUNTERS = [
  ['published', METRIC.published, '{event}', 'Events the broker took.'],
  [
    'received',
    METRIC.received,
    '{message}',
    'Messages that arrived from the broker, before any check.',
  ],
  ['echoes', METRIC.echoes, '{message}', "This instance's own messages coming back, ignored."],
  ['duplicates', METRIC.duplicates, '{message}', 'Messages seen twice, ignored.'],
  ['missed', METRIC.missed, '{event}', 'Events from other instances that never arrived.'],
  ['publishFailed', METRIC.publishFailures, '{event}', 'Events this instance could not send.'],
] as const;

/** Remote emits on one service path: counted here, observed at each collection. */
interface PathCount {
  attributes: Attributes;
  emitted: number;
}

/**
 * The metrics of one engine. Counters are plain numbers observed at each collection (those that
 * `stats()` keeps, and remote emits per service path), so they cost an increment per event; only
 * the latency histogram is recorded per event, with one attribute object per path, made once.
 */
export class SyncMetrics {
  private readonly latency: Histogram;
  private readonly paths = new Map<string, PathCount>();
  private readonly dropAttributes: Record<DropReason, Attributes>;
  private readonly observed: Observable[];
  private callback?: BatchObservableCallback;

  constructor(
    private readonly meter: Meter,
    private readonly base: Attributes,
  ) {
    this.latency = meter.createHistogram(METRIC.latency, {
      unit: 's',
      description:
        'From the emit on the origin instance to the emit on this instance (clocks of two hosts).',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_S },
    });
    this.dropAttributes = Object.fromEntries(
      DROP_REASONS.map((reason): [DropReason, Attributes] => [
        reason,
        { ...base, [ATTR_ERROR_TYPE]: reason },
      ]),
    ) as Record<DropReason, Attributes>;
    this.observed = [
      ...OBSERVED_COUNTERS.map(([, name, unit, description]) =>
        meter.createObservableCounter(name, { unit, description }),
      ),
      meter.createObservableCounter(METRIC.emitted, {
        unit: '{event}',
        description: 'Events from other instances emitted on this instance, by service path.',
      }),
      meter.createObservableCounter(METRIC.dropped, {
        unit: '{message}',
        description: 'Inbound messages refused, by reason (error.type).',
      }),
      meter.createObservableGauge(METRIC.pending, {
        unit: '{event}',
        description: 'Events not yet taken by the broker.',
      }),
    ];
  }

  /** Starts observing the engine's counters; `stop` ends it. */
  watch(stats: () => SyncStats): void {
    const [emitted, dropped, pending] = this.observed.slice(OBSERVED_COUNTERS.length);
    this.callback = (result) => {
      const now = stats();
      OBSERVED_COUNTERS.forEach(([field], index) =>
        result.observe(this.observed[index], now[field], this.base),
      );
      for (const reason of DROP_REASONS) {
        if (now.dropped[reason] > 0)
          result.observe(dropped, now.dropped[reason], this.dropAttributes[reason]);
      }
      result.observe(pending, now.pending, this.base);
      for (const path of this.paths.values())
        result.observe(emitted, path.emitted, path.attributes);
    };
    this.meter.addBatchObservableCallback(this.callback, this.observed);
  }

  /** A remote event was emitted here, `sentAt` (ms since 1970, the origin's clock) if known. */
  emittedRemote(path: string, sentAt: number | undefined): void {
    const count = this.countOf(path);
    count.emitted++;
    if (typeof sentAt === 'number') {
      // A clock behind the origin's would give a negative time: counted as 0.
      this.latency.record(Math.max(0, Date.now() - sentAt) / 1000, count.attributes);
    }
  }

  stop(): void {
    if (this.callback) this.meter.removeBatchObservableCallback(this.callback, this.observed);
    this.callback = undefined;
  }

  /** Paths are those of this app's services (the receiver checked): a bounded set. */
  private countOf(path: string): PathCount {
    let count = this.paths.get(path);
    if (count === undefined) {
      count = { attributes: { ...this.base, [ATTR_SERVICE_PATH]: path }, emitted: 0 };
      this.paths.set(path, count);
    }
    return count;
  }
}
