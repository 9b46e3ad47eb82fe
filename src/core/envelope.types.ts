/**
 * The message on the wire. Its first four fields are exactly feathers-sync 3.x's, so a fleet can
 * mix both; `sync` is ours and feathers-sync ignores it.
 */
export interface SyncEnvelope {
  event: string;
  path: string;
  data: unknown;
  /** The hook context as `toJSON()` gives it, without app/service/self and the input copies. */
  context?: Record<string, unknown>;
  /** Origin instance and its per-instance sequence number: echo suppression, dedup, gap counting. */
  sync?: SyncOrigin;
}

export interface SyncOrigin {
  /** Envelope version. */
  v: 1;
  /** Instance id of the sender. */
  origin: string;
  /** 1, 2, 3… per sender. */
  seq: number;
  /**
   * When the sender started (ms since 1970), sent when its `instanceId` is fixed: a restarted
   * sender starts again at seq 1 with a later epoch. A random id is already new at every start.
   */
  epoch?: number;
  /**
   * When it was sent (ms since 1970), on signed messages (what `signing.maxAgeMs` reads) and when
   * OpenTelemetry records (the delivery latency).
   */
  ts?: number;
  /**
   * The trace context of the publishing span (W3C `traceparent`, `tracestate`), when
   * OpenTelemetry records traces. Receivers that do not know it (older versions) ignore it.
   */
  tc?: Record<string, string>;
  /**
   * Set on a canary (see `heartbeatMs`): its number, 1, 2, 3… per sender. A canary is no event:
   * receivers never emit it and `seq` is 0.
   */
  canary?: number;
}

/** A stamp's optional epoch: a non-negative integer. */
export function isStampEpoch(value: unknown): boolean {
  return value === undefined || (Number.isSafeInteger(value) && (value as number) >= 0);
}

/** A stamp's optional send time: a finite number. */
export function isStampTime(value: unknown): boolean {
  return value === undefined || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * The marker a received event's context carries under `context.sync`: an event is synced from
 * another instance when `isSyncedEvent(context)` holds. `origin` and `seq` are absent for events
 * sent by feathers-sync peers.
 */
export interface SyncMarker {
  origin?: string;
  seq?: number;
}

/** Why an inbound message was refused. Each reason has a counter in `SyncService.stats()`. */
export type DropReason =
  | 'decode'
  | 'shape'
  | 'tooLarge'
  | 'forbiddenKey'
  | 'unknownService'
  | 'unknownEvent'
  | 'listenerError'
  | 'unsigned'
  | 'unknownKey'
  | 'badSignature'
  | 'expired'
  | 'replayed';

export const DROP_REASONS: readonly DropReason[] = [
  'decode',
  'shape',
  'tooLarge',
  'forbiddenKey',
  'unknownService',
  'unknownEvent',
  'listenerError',
  'unsigned',
  'unknownKey',
  'badSignature',
  'expired',
  'replayed',
];
