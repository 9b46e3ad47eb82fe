import type { CanaryStats } from './canary.js';
import { DROP_REASONS, type DropReason } from './envelope.types.js';

/** Counters returned by `SyncService.stats()`. All start at 0 and only grow, except `pending`. */
export interface SyncStats {
  /** Events the broker took (handed to its client, or acknowledged where the broker acknowledges). */
  published: number;
  /** Messages that arrived from the broker (or `sync-in`), before any check. */
  received: number;
  /** Remote events emitted on this instance's services. */
  emitted: number;
  /** This instance's own messages coming back, ignored (the origin emitted them at once). */
  echoes: number;
  /** Events from other instances not emitted: their service is left out by the `services` option. */
  filtered: number;
  /** Messages seen twice (same origin and sequence), ignored. */
  duplicates: number;
  /** Messages from another instance that never arrived, detected by its sequence numbers. */
  missed: number;
  /** Events not yet taken by the broker: waiting for it, or sent and not yet confirmed. */
  pending: number;
  /** Events this instance could not send: serializer error, too large, outbox full, broker refusal, closed. */
  publishFailed: number;
  /** Times the transport lost its connection. */
  disconnects: number;
  /** Inbound messages refused, by reason. */
  dropped: Record<DropReason, number>;
  /** The canary (see `heartbeatMs`), never counted above; null when it is off. */
  canary: CanaryStats | null;
}

/** The counters the engine's parts write to; `pending` is computed when asked. */
export type SyncCounters = Omit<SyncStats, 'pending' | 'canary'>;

export function createCounters(): SyncCounters {
  return {
    published: 0,
    received: 0,
    emitted: 0,
    echoes: 0,
    filtered: 0,
    duplicates: 0,
    missed: 0,
    publishFailed: 0,
    disconnects: 0,
    dropped: Object.fromEntries(DROP_REASONS.map((reason) => [reason, 0])) as Record<
      DropReason,
      number
    >,
  };
}
