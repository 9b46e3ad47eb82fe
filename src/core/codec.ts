import { byteLength, exceedsBytes, startsWithBytes, toBuffer, toText } from '../shared/bytes.js';
import { errorText } from '../shared/errors.js';
import type { DropReason, SyncEnvelope, SyncOrigin } from './envelope.types.js';
import { validateEnvelope, type Validated } from './envelope-shape.js';
import { findForbiddenKey, hasForbiddenKey } from './forbidden-keys.js';
import { toLean, toLeanStamp } from './lean-envelope.js';
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
}

export type Decoded =
  { ok: true; items: Validated[] } | { ok: false; reason: DropReason; detail: string };

/**
 * Everything that knows the wire: builds the compatible and the lean envelope, frames a lean batch,
 * recognises our own echo from its first bytes, and turns received bytes back into envelopes
 * (size, decoding, forbidden keys, batches, shape). The key order of what we send is written here
 * only: the echo marks are derived from the same builders.
 */
export class Codec {
  /** Lean envelopes of one turn can be joined into one message (they are JSON text). */
  readonly canFrame: boolean;
  private readonly originJson: string;
  private readonly echoMarks?: { text: string[]; bytes: Buffer[] };

  constructor(private readonly options: CodecOptions) {
    this.canFrame = options.envelope === 'lean' && options.jsonSerializer;
    this.originJson = JSON.stringify(options.instanceId);
    if (options.jsonSerializer && options.jsonDeserializer) {
      const text = this.echoMarksOf(options.instanceId);
      this.echoMarks = { text, bytes: text.map((mark) => Buffer.from(mark)) };
    }
  }

  /** Serializes one event (throws what the serializer throws). */
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
    return this.options.serialize(envelope);
  }

  /** Several lean envelopes (JSON text, see `canFrame`) as one message: `{"o":origin,"b":[…]}`. */
  frame(parts: readonly string[]): string {
    return parts.length === 1 ? parts[0] : `{"o":${this.originJson},"b":[${parts.join(',')}]}`;
  }

  /** Over `maxMessageSize`. */
  tooLarge(payload: string | Uint8Array): boolean {
    return exceedsBytes(payload, this.options.maxMessageSize);
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
    // JSON.parse wants text: decode bytes once. Other deserializers get a Buffer (the documented
    // type), whatever kind of Uint8Array the broker client produced.
    const input =
      typeof raw === 'string' ? raw : this.options.jsonDeserializer ? toText(raw) : toBuffer(raw);
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
    if (this.options.jsonDeserializer ? hasForbiddenKey(decoded) : findForbiddenKey(decoded)) {
      const forbidden = findForbiddenKey(decoded) ?? 'a forbidden key';
      return { ok: false, reason: 'forbiddenKey', detail: `it holds the key ${forbidden}` };
    }
    const items = isBatch(decoded) ? decoded.b : [decoded];
    return { ok: true, items: items.map(validateEnvelope) };
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
