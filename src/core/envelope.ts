import { fromLean, isLean } from './lean-envelope.js';

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

const HOOK_CONTEXT_OMIT = new Set(['app', 'service', 'self', 'arguments', 'data']);
const PLAIN_CONTEXT_OMIT = new Set(['app', 'service', 'self']);

interface Jsonable {
  toJSON(): unknown;
}

/** Whether `contextForWire` saw a HookContext (derivable keys may then be left out in lean mode). */
export function isHookContext(context: unknown): boolean {
  return (
    context !== null &&
    typeof context === 'object' &&
    typeof (context as Partial<Jsonable>).toJSON === 'function'
  );
}

/**
 * What of a context travels. For a HookContext: `toJSON()` (which includes `path`, `method`, `id`,
 * `result`, `params`, `dispatch`, `type`, `event` and custom keys) minus the app, the service and
 * the copies of the input (`data`, `arguments`) that receivers never need. A plain object passed
 * to a custom `emit()` travels as it is, minus app/service/self.
 */
export function contextForWire(
  context: unknown,
  redactParams: ReadonlySet<string>,
  hook = isHookContext(context),
): Record<string, unknown> | undefined {
  if (context === null || typeof context !== 'object') return undefined;
  const source = hook ? (context as Jsonable).toJSON() : context;
  if (source === null || typeof source !== 'object') return undefined;
  const omit = hook ? HOOK_CONTEXT_OMIT : PLAIN_CONTEXT_OMIT;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    if (omit.has(key)) continue;
    const value = (source as Record<string, unknown>)[key];
    if (value === undefined) continue;
    out[key] = key === 'params' ? redact(value, redactParams) : value;
  }
  return out;
}

function redact(params: unknown, keys: ReadonlySet<string>): unknown {
  if (keys.size === 0 || params === null || typeof params !== 'object') return params;
  const record = params as Record<string, unknown>;
  let hit = false;
  for (const key of keys) {
    if (key in record) {
      hit = true;
      break;
    }
  }
  if (!hit) return params;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(record)) if (!keys.has(key)) out[key] = record[key];
  return out;
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

export type Validated =
  { ok: true; envelope: SyncEnvelope } | { ok: false; reason: DropReason; detail: string };

/** Checks the shape of a deserialized message. Unknown top-level fields are allowed (forward compatibility). */
export function validateEnvelope(value: unknown): Validated {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, reason: 'shape', detail: 'not an object' };
  }
  const record = value as Record<string, unknown>;
  if (isLean(record)) {
    const rebuilt = fromLean(record);
    return typeof rebuilt === 'string'
      ? { ok: false, reason: 'shape', detail: rebuilt }
      : { ok: true, envelope: rebuilt };
  }
  if (typeof record.event !== 'string' || record.event.length === 0) {
    return { ok: false, reason: 'shape', detail: '`event` is not a non-empty string' };
  }
  if (typeof record.path !== 'string') {
    return { ok: false, reason: 'shape', detail: '`path` is not a string' };
  }
  const context = record.context;
  if (
    context !== undefined &&
    context !== null &&
    (typeof context !== 'object' || Array.isArray(context))
  ) {
    return { ok: false, reason: 'shape', detail: '`context` is not an object' };
  }
  if (record.sync !== undefined) {
    const origin: Partial<Record<keyof SyncOrigin, unknown>> | null =
      typeof record.sync === 'object' ? record.sync : null;
    if (
      origin === null ||
      typeof origin.origin !== 'string' ||
      typeof origin.seq !== 'number' ||
      !Number.isSafeInteger(origin.seq)
    ) {
      return { ok: false, reason: 'shape', detail: '`sync` is not { v, origin, seq }' };
    }
  }
  return { ok: true, envelope: record as unknown as SyncEnvelope };
}
