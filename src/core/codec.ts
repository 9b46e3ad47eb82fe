import { byteLength, exceedsBytes, startsWithBytes, toBuffer, toText } from '../shared/bytes.js';
import { errorText } from '../shared/errors.js';
import type { DropReason, SyncEnvelope, SyncOrigin } from './envelope.types.js';
import { validateEnvelope, type Validated } from './envelope-shape.js';
import { CANARY_EVENT } from './canary.js';
import { findForbiddenKey, hasForbiddenKeyInJson } from './forbidden-keys.js';
import { toLean, toLeanStamp } from './lean-envelope.js';
import { sentTwice, stringifyOnce, worthSplicing } from './send-once.js';
import { Signer, type SigningSettings } from './signer.js';
import type { SyncObserver } from './sync-observer.js';
import { contextForWire, isHookContext } from './wire-context.js';

export interface CodecOptions {
  instanceId: string;
  serialize: (envelope: SyncEnvelope) => string | Uint8Array;
  deserialize: (payload: string | Uint8Array) => unknown;
  /** `serialize` is JSON.stringify: lean envelopes can be joined into one batch frame. */
  jsonSerializer: boolean;
  /** `deserialize` is JSON.parse: bytes are decoded to text first, keys checked the fast way. */
  jsonDeserializer: boolean;
  envelope: 'compatible' | 'lean';
  redactParams: ReadonlySet<string>;
  maxMessageSize: number;
  /** Set when `instanceId` is fixed: tells this start's sequence from an earlier start's. */
  epoch?: number;
  /** Messages are signed and checked (absent: they travel unsigned, as feathers-sync's do). */
  signing?: SigningSettings;
  /** Adds a send time and a trace context to each stamp (OpenTelemetry; absent: nothing). */
  observer?: SyncObserver;
}

/**
 * `trusted` is false for an unsigned message that `signing.acceptUnsigned` lets in: its stamp
 * proves nothing, so it is neither deduplicated nor allowed to move an origin's sequence.
 */
export type Decoded =
  | { ok: true; items: Validated[]; trusted: boolean }
  | { ok: false; reason: DropReason; detail: string };

/**
 * Everything that knows the wire: builds the compatible and the lean envelope, frames a lean batch,
 * signs what leaves, recognises our own echo from its first bytes, and turns received bytes back
 * into envelopes (size, signature, decoding, forbidden keys, batches, shape). The key order of
 * what we send is written here only: the echo marks are derived from the same builders.
 */
export class Codec {
  /** Lean envelopes of one turn can be joined into one message (they are JSON text). */
  readonly canFrame: boolean;
  /** Signs and checks messages when `signing` is set. */
  readonly signer?: Signer;
  private readonly originJson: string;
  private readonly echoMarks?: { text: string[]; bytes: Buffer[] };

  constructor(private readonly options: CodecOptions) {
    this.canFrame = options.envelope === 'lean' && options.jsonSerializer;
    if (options.signing) this.signer = new Signer(options.signing);
    this.originJson = JSON.stringify(options.instanceId);
    if (options.jsonSerializer && options.jsonDeserializer) {
      const text = this.echoMarksOf(options.instanceId);
      this.echoMarks = { text, bytes: text.map((mark) => Buffer.from(mark)) };
    }
  }

  /**
   * Serializes one event (throws what the serializer throws), signed, except a lean part of a
   * batch: `frame` signs the batch.
   */
  encode(
    seq: number,
    path: string,
    event: string,
    data: unknown,
    context: unknown,
  ): string | Uint8Array {
    const hook = isHookContext(context);
    const wireContext = contextForWire(context, this.options.redactParams, hook);
    const stamp: SyncOrigin = { v: 1, origin: this.options.instanceId, seq };
    if (this.options.epoch !== undefined) stamp.epoch = this.options.epoch;
    if (this.signer) stamp.ts = Date.now();
    if (this.options.observer !== undefined) this.options.observer.publishing(stamp, path, event);
    if (
      this.options.envelope === 'compatible' &&
      this.options.jsonSerializer &&
      sentTwice(data, wireContext) &&
      worthSplicing(data as object)
    ) {
      const text = stringifyOnce(data, wireContext as Record<string, unknown>, (d, c) =>
        compatibleEnvelope(stamp, event, path, d, c),
      );
      return this.signer ? this.signer.sign(text, true) : text;
    }
    const envelope =
      this.options.envelope === 'lean'
        ? (toLean(
            event,
            path,
            data,
            wireContext,
            hook,
            toLeanStamp(stamp),
          ) as unknown as SyncEnvelope)
        : compatibleEnvelope(stamp, event, path, data, wireContext);
    const payload = this.options.serialize(envelope);
    if (!this.signer || this.canFrame) return payload;
    return this.signer.sign(payload, this.options.jsonSerializer);
  }

  /**
   * Canary number `n`, in the compatible form whatever `envelope` says (every receiver reads it),
   * signed when signing is on. `path` names a service this instance syncs, so that a feathers-sync
   * peer finds it; `canary` comes before `origin`, so it is never taken for an echo.
   */
  encodeCanary(n: number, path: string): string | Uint8Array {
    const stamp = { v: 1, canary: n, origin: this.options.instanceId, seq: 0 } as SyncOrigin;
    if (this.options.epoch !== undefined) stamp.epoch = this.options.epoch;
    stamp.ts = Date.now();
    const payload = this.options.serialize(
      compatibleEnvelope(stamp, CANARY_EVENT, path, null, undefined),
    );
    return this.signer ? this.signer.sign(payload, this.options.jsonSerializer) : payload;
  }

  /**
   * Several lean envelopes (JSON text, see `canFrame`) as one message: `{"o":origin,"b":[…]}`;
   * signed when signing is on.
   */
  frame(parts: readonly string[]): string {
    const text =
      parts.length === 1 ? parts[0] : `{"o":${this.originJson},"b":[${parts.join(',')}]}`;
    return this.signer ? this.signer.signJson(text) : text;
  }

  /** Over `maxMessageSize`. */
  tooLarge(payload: string | Uint8Array): boolean {
    return exceedsBytes(payload, this.options.maxMessageSize);
  }

  /** An outgoing event over `maxMessageSize`, counting the signature a batch frame adds later. */
  tooLargeToSend(payload: string | Uint8Array): boolean {
    const reserve = this.signer && this.canFrame ? this.signer.overhead : 0;
    return exceedsBytes(payload, this.options.maxMessageSize - reserve);
  }

  /** Our own message coming back, recognised without decoding it (JSON serializers only). */
  isOwnEcho(raw: string | Uint8Array): boolean {
    const marks = this.echoMarks;
    if (!marks) return false;
    if (typeof raw === 'string') return marks.text.some((mark) => raw.startsWith(mark));
    return marks.bytes.some((mark) => startsWithBytes(raw, mark));
  }

  /** Bytes from the broker to checked envelopes; never throws. */
  decode(raw: string | Uint8Array): Decoded {
    if (this.tooLarge(raw)) {
      return {
        ok: false,
        reason: 'tooLarge',
        detail: `${byteLength(raw)} bytes, over maxMessageSize (${this.options.maxMessageSize})`,
      };
    }
    // The signature first: nothing of an unverified message is decoded.
    let body = raw;
    let trusted = true;
    if (this.signer) {
      const verified = this.signer.verify(raw);
      if (!verified.ok) return verified;
      body = verified.body;
      trusted = verified.signed;
    }
    // JSON.parse wants text: decode bytes once. Other deserializers get a Buffer (the documented
    // type), whatever kind of Uint8Array the broker client produced.
    const input =
      typeof body === 'string'
        ? body
        : this.options.jsonDeserializer
          ? toText(body)
          : toBuffer(body);
    let decoded: unknown;
    try {
      decoded = this.options.deserialize(input);
    } catch (error) {
      return {
        ok: false,
        reason: 'decode',
        detail: `the deserializer failed: ${errorText(error)}`,
      };
    }
    // A JSON.parse result has no cycles or Maps: the fast check, and the slow one to name the key.
    if (
      this.options.jsonDeserializer
        ? hasForbiddenKeyInJson(input as string, decoded)
        : findForbiddenKey(decoded)
    ) {
      const forbidden = findForbiddenKey(decoded) ?? 'a forbidden key';
      return { ok: false, reason: 'forbiddenKey', detail: `it holds the key ${forbidden}` };
    }
    const items = isBatch(decoded) ? decoded.b : [decoded];
    return { ok: true, items: items.map(validateEnvelope), trusted };
  }

  /**
   * The first bytes of each form we send, up to and including our origin. Built by serializing a
   * probe with a sentinel origin through the same builders, so they cannot drift from `encode`.
   */
  private echoMarksOf(origin: string): string[] {
    const sentinel = '\u0000origin\u0000';
    const sentinelJson = JSON.stringify(sentinel);
    const probes = [
      JSON.stringify(
        compatibleEnvelope({ v: 1, origin: sentinel, seq: 0 }, 'e', 'p', null, undefined),
      ),
      JSON.stringify(toLean('e', 'p', null, undefined, false, [sentinel, 0])),
      `{"o":${sentinelJson},"b":[]}`,
    ];
    return probes.map((probe) => {
      const at = probe.indexOf(sentinelJson);
      // Up to the origin and the character after it, so an id is never a prefix of another one.
      return probe.slice(0, at) + JSON.stringify(origin) + probe.charAt(at + sentinelJson.length);
    });
  }
}

/** The feathers-sync 3.x envelope plus our stamp, first so that echoes are spotted early. */
function compatibleEnvelope(
  stamp: SyncOrigin,
  event: string,
  path: string,
  data: unknown,
  context: Record<string, unknown> | undefined,
): SyncEnvelope {
  const envelope: SyncEnvelope = { sync: stamp, event, path, data };
  if (context !== undefined) envelope.context = context;
  return envelope;
}

/** A lean batch: `{ o, b: [lean, lean, …] }` (never the shape of a feathers-sync envelope). */
function isBatch(value: unknown): value is { b: unknown[] } {
  if (value === null || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  return Array.isArray(record.b) && record.event === undefined && record.e === undefined;
}
