import {
  isStampEpoch,
  isStampTime,
  type DropReason,
  type SyncEnvelope,
  type SyncOrigin,
} from './envelope.types.js';
import { fromLean, isLean } from './lean-envelope.js';

export type Validated =
  { ok: true; envelope: SyncEnvelope } | { ok: false; reason: DropReason; detail: string };

/**
 * Checks the shape of one deserialized message, in either wire form (lean ones are rebuilt into
 * the compatible form). Unknown top-level fields are allowed (forward compatibility).
 */
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
      !Number.isSafeInteger(origin.seq) ||
      !isStampEpoch(origin.epoch) ||
      !isStampTime(origin.ts) ||
      !(
        origin.canary === undefined ||
        (Number.isSafeInteger(origin.canary) && (origin.canary as number) > 0)
      )
    ) {
      return {
        ok: false,
        reason: 'shape',
        detail: '`sync` is not { v, origin, seq, epoch?, ts?, canary? }',
      };
    }
  }
  return { ok: true, envelope: record as unknown as SyncEnvelope };
}
