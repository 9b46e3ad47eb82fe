import { createSecretKey, type KeyObject } from 'node:crypto';
import { KEY_ID_PATTERN, type SigningSettings } from '../core/signer.js';
import { FeathersSyncConfigError } from '../errors/sync.errors.js';
import { messages } from '../errors/sync.messages.js';
import { fail, numberOption } from './checks.js';

/** The `signing` option: HMAC-SHA256 signatures on every message, with key rotation. */
export interface SigningOptions {
  /**
   * Key id → secret (at least 32 bytes; a string counts its UTF-8 bytes). Every listed key is
   * accepted; list the next key here on every instance before any instance signs with it. Key ids
   * travel in clear: 1 to 64 of letters, digits, `.`, `_`, `:`, `-` (a date or version).
   * Generate a secret with `openssl rand -base64 32`.
   */
  keys: Record<string, string | Buffer>;
  /** Id of the key this instance signs with. */
  current: string;
  /**
   * Optional: signed messages sent longer ago than this (by the sender's clock) are refused. Sequence
   * numbers already refuse replays of what an instance has seen; this also bounds replays to
   * instances that have not (one started after the message was sent).
   */
  maxAgeMs?: number;
  /**
   * Let unsigned messages through (feathers-sync peers, instances not signing yet), for a
   * migration window only: anyone who can publish on the broker can then forge events. Default false.
   */
  acceptUnsigned?: boolean;
}

/** The hash's own output size: RFC 2104 strongly discourages HMAC keys shorter than it. */
const MIN_KEY_BYTES = 32;

/**
 * Checks the `signing` option and turns its secrets into KeyObjects (which never print their
 * material). `scope` is the channel name signatures are bound to. `recoverableWindowMs` is how far
 * back a recoverable instance catches up (`retention.maxAgeMs` with `delivery: 'recoverable'`):
 * `maxAgeMs` must not refuse what catching up legitimately delivers. Errors never show a secret.
 */
export function resolveSigning(
  given: SigningOptions | undefined,
  scope: string,
  recoverableWindowMs?: number,
): SigningSettings | undefined {
  if (given === undefined) return undefined;
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new FeathersSyncConfigError(messages.signingNotAnObject(given));
  }
  const source: unknown = given.keys;
  if (source === null || typeof source !== 'object' || Array.isArray(source)) {
    throw new FeathersSyncConfigError(messages.signingNoKeys(source));
  }
  const ids = Object.keys(source);
  if (ids.length === 0) throw new FeathersSyncConfigError(messages.signingNoKeys(source));
  const keys = new Map<string, KeyObject>();
  for (const id of ids) {
    if (!KEY_ID_PATTERN.test(id)) throw new FeathersSyncConfigError(messages.signingBadKeyId());
    keys.set(id, secretOf(id, (source as Record<string, unknown>)[id]));
  }
  if (typeof given.current !== 'string' || !keys.has(given.current)) {
    throw new FeathersSyncConfigError(messages.signingCurrentUnknown(given.current, ids));
  }
  const maxAgeMs =
    given.maxAgeMs === undefined
      ? undefined
      : numberOption('signing.maxAgeMs', given.maxAgeMs, 0, { integer: true });
  if (
    maxAgeMs !== undefined &&
    recoverableWindowMs !== undefined &&
    maxAgeMs < recoverableWindowMs
  ) {
    throw new FeathersSyncConfigError(
      messages.signingUndercutsRetention(maxAgeMs, recoverableWindowMs),
    );
  }
  if (given.acceptUnsigned !== undefined && typeof given.acceptUnsigned !== 'boolean') {
    fail('signing.acceptUnsigned', 'true or false', given.acceptUnsigned);
  }
  return {
    keys,
    current: given.current,
    maxAgeMs,
    acceptUnsigned: given.acceptUnsigned === true,
    scope,
  };
}

function secretOf(id: string, value: unknown): KeyObject {
  if (value === undefined || value === null || value === '') {
    throw new FeathersSyncConfigError(messages.signingKeyMissing(id));
  }
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
    throw new FeathersSyncConfigError(messages.signingKeyNotSecret(id, value));
  }
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  if (bytes.length === 0) throw new FeathersSyncConfigError(messages.signingKeyMissing(id));
  if (bytes.length < MIN_KEY_BYTES) {
    throw new FeathersSyncConfigError(messages.signingKeyTooShort(id, bytes.length));
  }
  const key = createSecretKey(bytes);
  bytes.fill(0);
  return key;
}
