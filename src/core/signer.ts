import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { toBuffer } from '../shared/bytes.js';
import type { DropReason } from './envelope.types.js';

/** The `signing` option as the core uses it (checked and built by src/options/signing-options.ts). */
export interface SigningSettings {
  /** Key id → secret. Every listed key is accepted. */
  keys: ReadonlyMap<string, KeyObject>;
  /** Id of the key this instance signs with. */
  current: string;
  /** Signed messages sent longer ago than this are refused (`expired`). */
  maxAgeMs?: number;
  /** Let unsigned messages (feathers-sync peers) through, their stamps ignored. */
  acceptUnsigned: boolean;
  /** What a signature is bound to besides the bytes: the channel / exchange / subject name. */
  scope: string;
}

/** Key ids travel in clear in every message. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
const MAX_KEY_ID = 64;

const MAC_BYTES = 32;
/** base64url of 32 bytes, unpadded. */
const MAC_CHARS = 43;
const JSON_FIELD = ',"sig":"';
const JSON_TAIL = '"}';
/** Bytes after the signed part of a JSON message: the MAC and `"}`. */
const JSON_SUFFIX = MAC_CHARS + JSON_TAIL.length;
const BINARY_MAGIC = [0x00, 0x46, 0x53, 0x53]; // "\0FSS"
const BINARY_VERSION = 1;
/** magic, version, key id length. */
const BINARY_HEAD = BINARY_MAGIC.length + 2;
const DOMAIN = 'nestjs-feathers-sync/sig/1\n';

const QUOTE = 0x22;
const DOT = 0x2e;
const CLOSE_BRACE = 0x7d;

export type SignatureRefusal = Extract<DropReason, 'unsigned' | 'unknownKey' | 'badSignature'>;

export type Verified =
  | { ok: true; body: string | Uint8Array; signed: boolean }
  | { ok: false; reason: SignatureRefusal; detail: string };

interface Key {
  id: string;
  idBytes: Buffer;
  /** The secret bound to the channel: HMAC-SHA256(secret, DOMAIN + channel). */
  channelKey: KeyObject;
  /** What the JSON form appends before the MAC: `,"sig":"<id>.` */
  jsonHead: string;
  /** magic, version, id length, id. */
  binaryHead: Buffer;
}

/**
 * HMAC-SHA256 over the exact bytes that travel, with a key id; checked before anything is decoded.
 *
 * JSON form (the default serializer): the serialized envelope with one more top-level field,
 * last, which feathers-sync peers ignore:
 *
 *     {…the envelope…,"sig":"<key id>.<MAC>"}
 *
 * Binary form (any other serializer):
 *
 *     00 46 53 53 ("\0FSS") | 01 (version) | key id length (1 byte) | key id | body | MAC (32 bytes)
 *
 * where body is the serializer's output as it is. In both, MAC = HMAC-SHA256(K, every byte of the
 * message before the MAC), so the key id is covered, with K = HMAC-SHA256(secret of the key id,
 * "nestjs-feathers-sync/sig/1\n" + the channel name `key`): a message signed for one channel does
 * not verify on another. The JSON form carries the MAC base64url-encoded (43 characters), the
 * binary form raw.
 */
export class Signer {
  readonly maxAgeMs?: number;
  readonly acceptUnsigned: boolean;
  /** Most bytes signing adds to a message. */
  readonly overhead: number;
  private readonly ring: Key[];
  private readonly current: Key;

  constructor(settings: SigningSettings) {
    this.maxAgeMs = settings.maxAgeMs;
    this.acceptUnsigned = settings.acceptUnsigned;
    this.ring = [...settings.keys].map(([id, secret]) => {
      if (!KEY_ID_PATTERN.test(id)) throw new Error('invalid signing key id');
      const idBytes = Buffer.from(id, 'latin1');
      return {
        id,
        idBytes,
        channelKey: createSecretKey(
          createHmac('sha256', secret).update(DOMAIN).update(settings.scope).digest(),
        ),
        jsonHead: `${JSON_FIELD}${id}.`,
        binaryHead: Buffer.concat([
          Buffer.from([...BINARY_MAGIC, BINARY_VERSION, idBytes.length]),
          idBytes,
        ]),
      };
    });
    const current = this.ring.find((key) => key.id === settings.current);
    if (!current) throw new Error('signing.current is not a key id of signing.keys');
    this.current = current;
    this.overhead = Math.max(
      current.jsonHead.length + JSON_SUFFIX - 1,
      current.binaryHead.length + MAC_BYTES,
    );
  }

  /** Signs a JSON object text in the JSON form (the result is text), anything else in the binary form. */
  sign(payload: string | Uint8Array, json: boolean): string | Buffer {
    if (
      json &&
      typeof payload === 'string' &&
      payload.charCodeAt(payload.length - 1) === CLOSE_BRACE
    ) {
      return this.signJson(payload);
    }
    const key = this.current;
    const body = typeof payload === 'string' ? Buffer.from(payload) : toBuffer(payload);
    const end = key.binaryHead.length + body.length;
    const out = Buffer.allocUnsafe(end + MAC_BYTES);
    key.binaryHead.copy(out, 0);
    body.copy(out, key.binaryHead.length);
    createHmac('sha256', key.channelKey).update(out.subarray(0, end)).digest().copy(out, end);
    return out;
  }

  /** A JSON object text (`{…}`) with its signature spliced in as the last field. */
  signJson(text: string): string {
    const key = this.current;
    const open = text.slice(0, -1);
    const mac = createHmac('sha256', key.channelKey)
      .update(open)
      .update(key.jsonHead)
      .digest('base64url');
    return open + key.jsonHead + mac + JSON_TAIL;
  }

  /**
   * The message's signature checked against its bytes. On success `body` is what the deserializer
   * gets: the message itself for the JSON form (JSON.parse reads the extra field like any other),
   * the bytes inside the frame for the binary form. Never throws.
   */
  verify(raw: string | Uint8Array): Verified {
    if (typeof raw !== 'string' && startsWithMagic(raw)) return this.verifyBinary(toBuffer(raw));
    const idStart = jsonKeyIdStart(raw);
    if (idStart < 0) {
      return this.acceptUnsigned
        ? { ok: true, body: raw, signed: false }
        : {
            ok: false,
            reason: 'unsigned',
            detail:
              'it carries no signature (feathers-sync peers and unsigned instances cannot sign; ' +
              'set signing.acceptUnsigned: true only for a migration window)',
          };
    }
    const macStart = raw.length - JSON_SUFFIX;
    const key = this.keyAt(raw, idStart, macStart - 1);
    if (!key) return unknownKey(raw, idStart, macStart - 1);
    const signedPart = typeof raw === 'string' ? raw.slice(0, macStart) : raw.subarray(0, macStart);
    const expected = Buffer.from(
      createHmac('sha256', key.channelKey).update(signedPart).digest('base64url'),
      'latin1',
    );
    const received =
      typeof raw === 'string'
        ? Buffer.from(raw.slice(macStart, macStart + MAC_CHARS), 'latin1')
        : raw.subarray(macStart, macStart + MAC_CHARS);
    return safeEqual(expected, received) ? { ok: true, body: raw, signed: true } : badSignature();
  }

  private verifyBinary(raw: Buffer): Verified {
    const idLength = raw[BINARY_MAGIC.length + 1];
    const bodyStart = BINARY_HEAD + idLength;
    const macStart = raw.length - MAC_BYTES;
    if (raw[BINARY_MAGIC.length] !== BINARY_VERSION || idLength === 0 || bodyStart > macStart) {
      return badSignature('its binary signature frame is malformed');
    }
    const key = this.keyAt(raw, BINARY_HEAD, bodyStart);
    if (!key) return unknownKey(raw, BINARY_HEAD, bodyStart);
    const expected = createHmac('sha256', key.channelKey)
      .update(raw.subarray(0, macStart))
      .digest();
    return safeEqual(expected, raw.subarray(macStart))
      ? { ok: true, body: raw.subarray(bodyStart, macStart), signed: true }
      : badSignature();
  }

  /** The key whose id is at [start, end) of the message, compared without copying it out. */
  private keyAt(raw: string | Uint8Array, start: number, end: number): Key | undefined {
    const length = end - start;
    const text = typeof raw === 'string' ? raw : undefined;
    const bytes = typeof raw === 'string' ? undefined : toBuffer(raw);
    for (const key of this.ring) {
      if (key.idBytes.length !== length) continue;
      if (
        text !== undefined
          ? text.startsWith(key.id, start)
          : key.idBytes.compare(bytes!, start, end) === 0
      ) {
        return key;
      }
    }
    return undefined;
  }
}

/**
 * Constant-time comparison. `timingSafeEqual` throws on different lengths (which are not secret),
 * so they are compared first.
 */
export function safeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}

function startsWithMagic(raw: Uint8Array): boolean {
  if (raw.byteLength < BINARY_HEAD + 1 + MAC_BYTES) return false;
  for (let i = 0; i < BINARY_MAGIC.length; i++) if (raw[i] !== BINARY_MAGIC[i]) return false;
  return true;
}

function codeAt(raw: string | Uint8Array, index: number): number {
  return typeof raw === 'string' ? raw.charCodeAt(index) : raw[index];
}

/**
 * Where the key id of a JSON-form signature starts, read from the end: `,"sig":"<id>.<43 chars>"}`
 * (the id ends before the dot). -1 when the message does not end that way (unsigned).
 */
function jsonKeyIdStart(raw: string | Uint8Array): number {
  const length = typeof raw === 'string' ? raw.length : raw.byteLength;
  const idEnd = length - JSON_SUFFIX - 1;
  if (
    idEnd < JSON_FIELD.length + 1 ||
    codeAt(raw, length - 1) !== CLOSE_BRACE ||
    codeAt(raw, length - 2) !== QUOTE ||
    codeAt(raw, idEnd) !== DOT
  ) {
    return -1;
  }
  let quote = idEnd - 1;
  const stop = Math.max(0, idEnd - MAX_KEY_ID - 1);
  while (quote >= stop && codeAt(raw, quote) !== QUOTE) quote--;
  const fieldStart = quote - JSON_FIELD.length + 1;
  if (quote < stop || fieldStart < 1 || quote + 1 === idEnd) return -1;
  for (let i = 0; i < JSON_FIELD.length; i++) {
    if (codeAt(raw, fieldStart + i) !== JSON_FIELD.charCodeAt(i)) return -1;
  }
  return quote + 1;
}

function unknownKey(raw: string | Uint8Array, start: number, end: number): Verified {
  const id =
    typeof raw === 'string' ? raw.slice(start, end) : toBuffer(raw).toString('latin1', start, end);
  // The id comes off the wire: named only when it is a well-formed id, never echoed otherwise.
  const named = KEY_ID_PATTERN.test(id) ? `"${id}"` : 'a malformed key id';
  return {
    ok: false,
    reason: 'unknownKey',
    detail:
      `it is signed with ${named}, which is not in signing.keys (a key already removed here, ` +
      'or one not rolled out to this instance yet)',
  };
}

function badSignature(
  detail = 'its signature does not match its bytes (altered on the way, or signed with another ' +
    'secret under the same key id)',
): Verified {
  return { ok: false, reason: 'badSignature', detail };
}
