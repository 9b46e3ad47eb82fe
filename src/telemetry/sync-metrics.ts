import type {
  Attributes,
  BatchObservableCallback,
  Counter,
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

/**
 * The metrics of one engine. Counters that `stats()` already keeps are observed from it at each
 * collection, so they cost nothing per event; what needs the service path (remote emits and their
 * latency) is recorded per event, with one attribute object per path, made once.
 */
export class SyncMetrics {
  private readonly emitted: Counter;
  private readonly latency: Histogram;
  private readonly pathAttributes = new Map<string, Attributes>();
  private readonly dropAttributes: Record<DropReason, Attributes>;
  private readonly observed: Observable[];
  private callback?: BatchObservableCallback;

  constructor(
    private readonly meter: Meter,
    private readonly base: Attributes,
  ) {
    this.emitted = meter.createCounter(METRIC.emitted, {
      unit: '{event}',
      description: 'Events from other instances emitted on this instance, by service path.',
    });
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
    const [dropped, pending] = this.observed.slice(OBSERVED_COUNTERS.length);
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
    };
    this.meter.addBatchObservableCallback(this.callback, this.observed);
  }

  /** A remote event was emitted here, `sentAt` (ms since 1970, the origin's clock) if known. */
  emittedRemote(path: string, sentAt: number | undefined): void {
    const attributes = this.attributesOf(path);
    this.emitted.add(1, attributes);
    if (typeof sentAt === 'number') {
      // A clock behind the origin's would give a negative time: counted as 0.
      this.latency.record(Math.max(0, Date.now() - sentAt) / 1000, attributes);
    }
  }

  stop(): void {
    if (this.callback) this.meter.removeBatchObservableCallback(this.callback, this.observed);
    this.callback = undefined;
  }

  private attributesOf(path: string): Attributes {
    let attributes = this.pathAttributes.get(path);
    if (attributes === undefined) {
      attributes = { ...this.base, [ATTR_SERVICE_PATH]: path };
      this.pathAttributes.set(path, attributes);
    }
    return attributes;
  }
}
