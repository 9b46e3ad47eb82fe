import { isStampEpoch, isStampTime, type SyncEnvelope, type SyncOrigin } from './envelope.types.js';

/**
 * The lean wire form, for fleets without feathers-sync peers (they cannot read it). It sends the
 * event's data once and only the parts of the context a receiver cannot rebuild:
 *
 *   { e: event, p: path, d: data, c?: hook context minus derivable keys, x?: plain context | null,
 *     s: [origin, seq, epoch?, ts?, trace context?] }
 *
 * On receipt the full context is rebuilt: `result` (when it was the data itself), `event`, `path`,
 * `method` (from the standard event name), `type: 'around'` and empty `params`. A hook context
 * whose every key is derivable sends no `c` at all (the common case); `x: null` marks an event
 * emitted without any context.
 */
export interface LeanEnvelope {
  e: string;
  p: string;
  d?: unknown;
  /** A hook context, with the keys the receiver rebuilds left out. */
  c?: Record<string, unknown>;
  /** A plain context object passed to a custom `emit()`, sent as it is; `null`: no context. */
  x?: Record<string, unknown> | null;
  s: LeanStamp;
}

/**
 * `[origin, seq]`, then the epoch (0: none) when there is one or a send time, then the send time,
 * then the trace context (which comes with a send time).
 */
export type LeanStamp =
  | [string, number]
  | [string, number, number]
  | [string, number, number, number]
  | [string, number, number, number, Record<string, string>];

/** The lean stamp of a compatible one: trailing fields only when they are set. */
export function toLeanStamp(stamp: SyncOrigin): LeanStamp {
  if (stamp.ts !== undefined && stamp.tc !== undefined) {
    return [stamp.origin, stamp.seq, stamp.epoch ?? 0, stamp.ts, stamp.tc];
  }
  if (stamp.ts !== undefined) return [stamp.origin, stamp.seq, stamp.epoch ?? 0, stamp.ts];
  if (stamp.epoch !== undefined) return [stamp.origin, stamp.seq, stamp.epoch];
  return [stamp.origin, stamp.seq];
}

const METHOD_OF_EVENT: Readonly<Record<string, string>> = {
  created: 'create',
  updated: 'update',
  patched: 'patch',
  removed: 'remove',
};

export function toLean(
  event: string,
  path: string,
  data: unknown,
  context: Record<string, unknown> | undefined,
  isHookContext: boolean,
  stamp: LeanStamp,
): LeanEnvelope {
  // The stamp first: receivers spot their own echo from the first bytes.
  const lean: LeanEnvelope = { s: stamp, e: event, p: path, d: data };
  if (context === undefined) {
    lean.x = null;
    return lean;
  }
  if (!isHookContext) {
    lean.x = context;
    return lean;
  }
  const compact: Record<string, unknown> = {};
  for (const key of Object.keys(context)) {
    const value = context[key];
    if (key === 'result' && value === data) continue;
    if (key === 'event' && value === event) continue;
    if (key === 'path' && value === path) continue;
    if (key === 'type' && value === 'around') continue;
    if (key === 'method' && value === METHOD_OF_EVENT[event]) continue;
    if (key === 'params' && isEmptyObject(value)) continue;
    compact[key] = value;
    lean.c = compact;
  }
  return lean;
}

/** Whether a decoded message is in the lean form (feathers-sync's form has `event`/`path`). */
export function isLean(record: Record<string, unknown>): boolean {
  return typeof record.e === 'string' && record.event === undefined;
}

/** Rebuilds the compatible envelope; returns a string describing the problem for a bad shape. */
export function fromLean(record: Record<string, unknown>): SyncEnvelope | string {
  const { e: event, p: path, d: data, c: compact, x: plain, s: stamp } = record;
  if (typeof event !== 'string' || event.length === 0) return '`e` is not a non-empty string';
  if (typeof path !== 'string') return '`p` is not a string';
  if (
    !Array.isArray(stamp) ||
    stamp.length < 2 ||
    stamp.length > 5 ||
    typeof stamp[0] !== 'string' ||
    !Number.isSafeInteger(stamp[1]) ||
    !isStampEpoch(stamp[2]) ||
    !isStampTime(stamp[3])
  ) {
    return '`s` is not [origin, seq, epoch?, ts?, trace context?]';
  }
  const sync: SyncOrigin = { v: 1, origin: stamp[0], seq: stamp[1] as number };
  if (stamp.length > 2 && stamp[2] !== 0) sync.epoch = stamp[2] as number;
  if (stamp.length > 3) sync.ts = stamp[3] as number;
  // Read by the observer only through a getter that takes strings: any other value is ignored.
  if (stamp.length > 4) sync.tc = stamp[4] as Record<string, string>;
  const envelope: SyncEnvelope = { event, path, data, sync };
  if (plain === null) return envelope;
  if (isPlainRecord(plain)) {
    envelope.context = plain;
  } else if (plain !== undefined || (compact !== undefined && !isPlainRecord(compact))) {
    return '`c`/`x` is not an object';
  } else {
    envelope.context = {
      event,
      result: data,
      params: {},
      path,
      method: METHOD_OF_EVENT[event],
      type: 'around',
      ...compact,
    };
  }
  return envelope;
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isEmptyObject(value: unknown): boolean {
  if (!isPlainRecord(value)) return false;
  for (const _key in value) return false;
  return true;
}
