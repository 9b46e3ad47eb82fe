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
  | 'listenerError';

export const DROP_REASONS: readonly DropReason[] = [
  'decode',
  'shape',
  'tooLarge',
  'forbiddenKey',
  'unknownService',
  'unknownEvent',
  'listenerError',
];
