import type { SyncObserver } from '../core/sync-observer.js';
import type { SyncStats } from '../core/sync-stats.js';

/*
 * The telemetry's types as the rest of the module sees them. No OpenTelemetry type appears here:
 * the package's declarations must type-check in an app without `@opentelemetry/api`.
 */

/** Who records: the key, the transport and the instance id become attributes. */
export interface TelemetryTarget {
  key: string;
  transportType: string;
  instanceId: string;
}

/** The observer of one engine, with what it watches; `stop` at shutdown. */
export interface SyncTelemetry extends SyncObserver {
  /** Observes the engine's counters at each metric collection. */
  watch(stats: () => SyncStats): void;
  stop(): void;
}

/** Starts the telemetry of one engine, or gives undefined when nothing would be recorded. */
export type TelemetryStarter = (target: TelemetryTarget) => SyncTelemetry | undefined;
