import { SYNC } from '../feathers-sync.constants.js';
import type { SyncLogger, SyncTransport, TransportStatus } from '../transports/sync-transport.js';
import { toLean } from './lean-envelope.js';
import {
  contextForWire,
  isHookContext,
  DROP_REASONS,
  type DropReason,
  type SyncEnvelope,
  type SyncMarker,
  validateEnvelope,
} from './envelope.js';
import type { EventListener, FeathersAppLike, FeathersServiceLike } from './feathers.types.js';
import { findForbiddenKey, hasForbiddenKey } from './forbidden-keys.js';
import { syncedEventsOf } from './service-events.js';
import { RateLimitedWarnings } from './sync-logger.js';

/** Counters returned by `SyncService.stats()`. All start at 0 and only grow, except `pending`. */
export interface SyncStats {
  /** Events handed to the broker. */
  published: number;
  /** Messages that arrived from the broker (or `sync-in`), before any check. */
  received: number;
  /** Remote events emitted on this instance's services. */
  emitted: number;
  /** This instance's own messages coming back, ignored (the origin emitted them at once). */
  echoes: number;
  /** Messages seen twice (same origin and sequence), ignored. */
  duplicates: number;
  /** Messages from another instance that never arrived, detected by its sequence numbers. */
  missed: number;
  /** Events waiting for the broker to come back. */
  pending: number;
  /** Events this instance could not send: serializer error, too large, outbox full, broker refusal, closed. */
  publishFailed: number;
  /** Times the transport lost its connection. */
  disconnects: number;
  /** Inbound messages refused, by reason. */
  dropped: Record<DropReason, number>;
}

export interface SyncEngineOptions {
  instanceId: string;
  serialize: (envelope: SyncEnvelope) => string | Uint8Array;
  deserialize: (payload: string | Uint8Array) => unknown;
  /** True when `deserialize` is JSON.parse: bytes are decoded to text first. */
  jsonDeserializer: boolean;
  /** True when `serialize` is JSON.stringify: our own echoes are recognised without decoding. */
  jsonSerializer: boolean;
  maxMessageSize: number;
  maxPending: number;
  redactParams: ReadonlySet<string>;
  /** `compatible` (feathers-sync peers can read it) or `lean` (smaller; no feathers-sync peers). */
  envelope: 'compatible' | 'lean';
  logger: SyncLogger;
  /** Called on every status change (SyncService keeps `status` and `ready` from it). */
  onStatus: (status: TransportStatus, error?: Error) => void;
}

/** What the engine keeps on each service it patched. */
interface PatchedService {
  path: string;
  events: ReadonlySet<string>;
  originalEmit: FeathersServiceLike['emit'];
}

const PATCHED = Symbol.for('nestjs-feathers-sync/patched');
/** The symbol feathers-sync 3.x uses for the same purpose; hooks written for it keep working. */
const FEATHERS_SYNC_SYMBOL_DESCRIPTION = 'feathers-sync/enabled';
const MAX_TRACKED_ORIGINS = 10_000;
const MAX_BATCH_EVENTS = 512;
const MAX_BATCH_BYTES = 512 * 1024;

type PatchableService = FeathersServiceLike & { [PATCHED]?: PatchedService };

/**
 * The transport-agnostic heart of the module: it patches `emit` on every Feathers service, turns
 * synced events into envelopes for the transport, and turns what the transport delivers back into
 * service events. It knows nothing of brokers.
 */
export class SyncEngine {
  private app?: FeathersAppLike;
  private status: TransportStatus = 'connecting';
  private closed = false;
  private seq = 0;
  /** Messages (and how many events each holds) waiting for the broker to come back. */
  private readonly pending: Array<{ payload: string | Uint8Array; events: number }> = [];
  /** Lean envelopes serialized this event-loop turn, sent together as one broker message. */
  private batch: string[] = [];
  private batchLength = 0;
  private batchTimer?: NodeJS.Immediate;
  private readonly lastSeqByOrigin = new Map<string, number>();
  private readonly warnings: RateLimitedWarnings;
  private readonly counters: Omit<SyncStats, 'pending' | 'dropped'> = {
    published: 0,
    received: 0,
    emitted: 0,
    echoes: 0,
    duplicates: 0,
    missed: 0,
    publishFailed: 0,
    disconnects: 0,
  };
  private readonly dropped = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<
    DropReason,
    number
  >;
  private readonly syncInListener: EventListener = (raw) =>
    this.receive(raw as string | Uint8Array);
  private readonly mixin = (service: FeathersServiceLike, path: string) =>
    this.patch(service, path);

  /**
   * With the default JSON serializer our envelopes start with the origin (`{"sync":{"v":1,"origin":…`,
   * `{"s":[…`, `{"o":…`): our own echo is recognised from its first bytes and never decoded.
   */
  private readonly echoMarks?: { text: string[]; bytes: Buffer[] };
  private readonly originJson: string;

  constructor(
    private readonly transport: SyncTransport,
    private readonly options: SyncEngineOptions,
  ) {
    this.warnings = new RateLimitedWarnings(options.logger);
    this.originJson = JSON.stringify(options.instanceId);
    if (options.jsonSerializer && options.jsonDeserializer) {
      const id = this.originJson;
      const text = [`{"sync":{"v":1,"origin":${id},`, `{"s":[${id},`, `{"o":${id},`];
      this.echoMarks = { text, bytes: text.map((mark) => Buffer.from(mark)) };
    }
  }

  private isOwnEcho(raw: string | Uint8Array): boolean {
    const marks = this.echoMarks!;
    if (typeof raw === 'string') return marks.text.some((mark) => raw.startsWith(mark));
    return marks.bytes.some((mark) => startsWith(raw, mark));
  }

  /** Patches every service already registered and every service registered from now on. */
  attach(app: FeathersAppLike): void {
    this.app = app;
    for (const [path, service] of Object.entries(app.services)) this.patch(service, path);
    app.mixins.push(this.mixin);
    app.on('sync-in', this.syncInListener);
  }

  /** Opens the transport. Never waits for the broker; status changes arrive through `onStatus`. */
  async start(): Promise<void> {
    await this.transport.open({
      message: (payload) => this.receive(payload),
      status: (status, error) => this.setStatus(status, error),
    });
  }

  stats(): SyncStats {
    let pending = this.batch.length;
    for (const message of this.pending) pending += message.events;
    return { ...this.counters, pending, dropped: { ...this.dropped } };
  }

  /**
   * Stops listening, sends what is pending (within `timeoutMs`) and closes the transport. Services
   * stay patched but emit locally only from now on.
   */
  async close(timeoutMs: number): Promise<void> {
    if (this.closed) return;
    this.flushBatch();
    this.closed = true;
    if (this.app) {
      this.app.removeListener('sync-in', this.syncInListener);
      const index = this.app.mixins.indexOf(this.mixin);
      if (index >= 0) this.app.mixins.splice(index, 1);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const outcome = await Promise.race([
        this.transport.close().then(() => 'closed' as const),
        timeout,
      ]);
      if (outcome === 'timeout') {
        this.options.logger.error(
          `The ${this.transport.type} transport did not close within ${timeoutMs} ms; ` +
            'events still in flight may be lost. Raise `closeTimeout` if the broker is slow.',
        );
      }
    } catch (error) {
      this.options.logger.error(
        `Closing the ${this.transport.type} transport failed: ${errorText(error)}`,
      );
    } finally {
      clearTimeout(timer);
      const unsent = this.pending.reduce((sum, message) => sum + message.events, 0);
      if (unsent > 0) {
        this.counters.publishFailed += unsent;
        this.options.logger.warn(
          `${unsent} event(s) were never sent: the broker was unreachable until shutdown.`,
        );
        this.pending.length = 0;
      }
      this.setStatus('closed');
    }
  }

  private patch(service: FeathersServiceLike, path: string): void {
    const target = service as PatchableService;
    // An alias (the same service object under a second path) is patched once, under its first path.
    if (Object.prototype.hasOwnProperty.call(target, PATCHED) || typeof target.emit !== 'function')
      return;
    const record: PatchedService = {
      path,
      events: syncedEventsOf(service),
      originalEmit: target.emit,
    };
    Object.defineProperty(target, PATCHED, {
      value: record,
      enumerable: false,
      configurable: true,
    });
    const publish = (event: string, data: unknown, context: unknown) =>
      this.publish(record.path, event, data, context);
    target.emit = function syncedEmit(
      this: FeathersServiceLike,
      event: string | symbol,
      ...args: unknown[]
    ) {
      if (typeof event === 'string' && record.events.has(event) && !isLocalOnly(args[1])) {
        publish(event, args[0], args[1]);
      }
      return record.originalEmit.call(this, event, ...args);
    };
  }

  /** Serializes once, then sends now, or keeps it for when the broker is back. Never throws. */
  private publish(path: string, event: string, data: unknown, context: unknown): void {
    if (this.closed) {
      this.counters.publishFailed++;
      return;
    }
    let payload: string | Uint8Array;
    const seq = this.seq + 1;
    try {
      const hook = isHookContext(context);
      const wireContext = contextForWire(context, this.options.redactParams, hook);
      const origin = this.options.instanceId;
      if (this.options.envelope === 'lean') {
        const lean = toLean(event, path, data, wireContext, hook, origin, seq);
        payload = this.options.serialize(lean as unknown as SyncEnvelope);
      } else {
        // The stamp first: receivers spot their own echo from the first bytes (feathers-sync ignores key order).
        const envelope: SyncEnvelope = { sync: { v: 1, origin, seq }, event, path, data };
        if (wireContext !== undefined) envelope.context = wireContext;
        payload = this.options.serialize(envelope);
      }
    } catch (error) {
      this.counters.publishFailed++;
      this.warnings.warn(
        'serialize',
        `Event "${path} ${event}" was delivered on this instance only: the serializer failed (${errorText(error)}). ` +
          'Keep values the serializer cannot handle (circular objects, DB handles) out of params, ' +
          'list them in `redactParams`, or set context[SYNC] = false for that call.',
      );
      return;
    }
    this.seq = seq;
    if (exceeds(payload, this.options.maxMessageSize)) {
      this.counters.publishFailed++;
      this.warnings.warn(
        'tooLargeOut',
        `Event "${path} ${event}" was delivered on this instance only: it is ${byteLength(payload)} bytes, ` +
          `over maxMessageSize (${this.options.maxMessageSize}). Raise maxMessageSize or send less.`,
      );
      return;
    }
    if (this.options.envelope === 'lean' && typeof payload === 'string') {
      this.addToBatch(payload);
      return;
    }
    this.flushBatch();
    this.dispatch(payload, 1);
  }

  /**
   * Lean mode: events serialized in the same event-loop turn leave as one broker message,
   * `{"b":[…]}`, so a burst costs one broker write and one delivery per instance, not one per event.
   */
  private addToBatch(payload: string): void {
    if (
      this.batch.length >= MAX_BATCH_EVENTS ||
      this.batchLength + payload.length * 3 > Math.min(MAX_BATCH_BYTES, this.options.maxMessageSize)
    ) {
      this.flushBatch();
    }
    this.batch.push(payload);
    this.batchLength += payload.length;
    this.batchTimer ??= setImmediate(() => this.flushBatch());
  }

  private flushBatch(): void {
    if (this.batchTimer) clearImmediate(this.batchTimer);
    this.batchTimer = undefined;
    const parts = this.batch;
    if (parts.length === 0) return;
    this.batch = [];
    this.batchLength = 0;
    const origin = JSON.stringify(this.options.instanceId);
    this.dispatch(
      parts.length === 1 ? parts[0] : `{"o":${origin},"b":[${parts.join(',')}]}`,
      parts.length,
    );
  }

  /** Sends a message now, or keeps it for when the broker is back (the oldest go first when full). */
  private dispatch(payload: string | Uint8Array, events: number): void {
    this.emitSyncOut(payload);
    if (this.status === 'ready' && this.pending.length === 0) {
      this.send(payload, events);
      return;
    }
    if (this.pending.length >= this.options.maxPending) {
      const dropped = this.pending.shift();
      this.counters.publishFailed += dropped?.events ?? 0;
      this.warnings.warn(
        'outboxFull',
        `The broker has been unreachable for ${this.options.maxPending} messages; the oldest pending ` +
          'events are being dropped. Raise maxPending to keep more.',
      );
    }
    this.pending.push({ payload, events });
  }

  private send(payload: string | Uint8Array, events: number): void {
    try {
      const result = this.transport.publish(payload);
      this.counters.published += events;
      if (result && typeof result.then === 'function') {
        result.catch((error: unknown) => this.publishRejected(error, events));
      }
    } catch (error) {
      this.counters.published += events;
      this.publishRejected(error, events);
    }
  }

  private publishRejected(error: unknown, events: number): void {
    this.counters.published -= events;
    this.counters.publishFailed += events;
    this.warnings.warn(
      'publish',
      `The ${this.transport.type} broker refused ${events} event(s); they reached this instance only (${errorText(error)}).`,
    );
  }

  private emitSyncOut(payload: string | Uint8Array): void {
    const app = this.app;
    if (app && (typeof app.listenerCount !== 'function' || app.listenerCount('sync-out') > 0)) {
      try {
        app.emit('sync-out', payload);
      } catch (error) {
        this.warnings.warn('syncOut', `A 'sync-out' listener threw: ${errorText(error)}`);
      }
    }
  }

  private setStatus(status: TransportStatus, error?: Error): void {
    if (this.closed && status !== 'closed') return;
    const previous = this.status;
    this.status = status;
    if (previous === 'ready' && status !== 'ready') this.counters.disconnects++;
    if (status === 'ready' && this.pending.length > 0) {
      const queued = this.pending.splice(0, this.pending.length);
      for (const { payload, events } of queued) this.send(payload, events);
    }
    this.options.onStatus(status, error);
  }

  /** Everything that arrives goes through here; it never throws back into a broker client. */
  private receive(raw: string | Uint8Array): void {
    this.counters.received++;
    try {
      this.deliver(raw);
    } catch (error) {
      this.drop('listenerError', `a listener threw: ${errorText(error)}`);
    }
  }

  private deliver(raw: string | Uint8Array): void {
    if (typeof raw !== 'string' && !(raw instanceof Uint8Array)) {
      return this.drop('shape', `the transport delivered ${typeof raw}, not bytes`);
    }
    if (this.echoMarks && this.isOwnEcho(raw)) {
      this.counters.echoes++;
      return;
    }
    if (exceeds(raw, this.options.maxMessageSize)) {
      return this.drop(
        'tooLarge',
        `${byteLength(raw)} bytes, over maxMessageSize (${this.options.maxMessageSize})`,
      );
    }
    // JSON.parse wants text: decode bytes once, and run the cheap key pre-check on that text.
    const input = this.options.jsonDeserializer && typeof raw !== 'string' ? toText(raw) : raw;
    let decoded: unknown;
    try {
      decoded = this.options.deserialize(input);
    } catch (error) {
      return this.drop('decode', `the deserializer failed: ${errorText(error)}`);
    }
    if (this.options.jsonDeserializer ? hasForbiddenKey(decoded) : findForbiddenKey(decoded)) {
      const forbidden = findForbiddenKey(decoded) ?? 'a forbidden key';
      return this.drop('forbiddenKey', `it holds the key ${forbidden}`);
    }
    if (isBatch(decoded)) {
      for (const item of decoded.b) this.deliverOne(item);
      return;
    }
    this.deliverOne(decoded);
  }

  private deliverOne(decoded: unknown): void {
    const checked = validateEnvelope(decoded);
    if (!checked.ok) return this.drop(checked.reason, checked.detail);
    const envelope = checked.envelope;

    if (envelope.sync) {
      const { origin, seq } = envelope.sync;
      if (origin === this.options.instanceId) {
        this.counters.echoes++;
        return;
      }
      if (!this.trackSequence(origin, seq)) return;
    }

    const app = this.app;
    const path = envelope.path.replace(/^\/+|\/+$/g, '');
    const service =
      app && Object.prototype.hasOwnProperty.call(app.services, path)
        ? app.services[path]
        : undefined;
    if (!app || !service)
      return this.drop('unknownService', `no service at "${path}" on this instance`);
    const record = (service as PatchableService)[PATCHED];
    const events = record?.events ?? syncedEventsOf(service);
    if (!events.has(envelope.event)) {
      return this.drop(
        'unknownEvent',
        `service "${path}" does not declare the event "${envelope.event}"`,
      );
    }

    const marker: SyncMarker = envelope.sync
      ? { origin: envelope.sync.origin, seq: envelope.sync.seq }
      : {};
    const context: Record<string, unknown> = envelope.context
      ? { ...envelope.context }
      : { path, event: envelope.event, result: envelope.data, params: {} };
    context.app = app;
    context.service = service;
    context.sync = marker;
    const emit = record?.originalEmit ?? service.emit;
    try {
      emit.call(service, envelope.event, envelope.data, context);
    } catch (error) {
      return this.drop(
        'listenerError',
        `a "${path} ${envelope.event}" listener threw: ${errorText(error)}`,
      );
    }
    this.counters.emitted++;
  }

  /** Returns false for a duplicate; counts messages skipped in the sequence as missed. */
  private trackSequence(origin: string, seq: number): boolean {
    const last = this.lastSeqByOrigin.get(origin);
    if (last !== undefined && seq <= last) {
      this.counters.duplicates++;
      return false;
    }
    if (last !== undefined && seq > last + 1) {
      const missed = seq - last - 1;
      this.counters.missed += missed;
      this.warnings.warn(
        'missed',
        `${missed} event(s) from instance ${origin} never arrived (the broker dropped them, ` +
          'typically while a connection was down). Clients of this instance may need to refetch.',
      );
    }
    if (last === undefined && this.lastSeqByOrigin.size >= MAX_TRACKED_ORIGINS) {
      const oldest = this.lastSeqByOrigin.keys().next().value as string;
      this.lastSeqByOrigin.delete(oldest);
    }
    this.lastSeqByOrigin.set(origin, seq);
    return true;
  }

  private drop(reason: DropReason, detail: string): void {
    this.dropped[reason]++;
    this.warnings.warn(
      `drop:${reason}`,
      `Dropped a message from the broker (${reason}): ${detail}.`,
    );
  }
}

/** A lean batch: `{ b: [lean, lean, …] }` (never the shape of a feathers-sync envelope). */
function isBatch(value: unknown): value is { b: unknown[] } {
  if (value === null || typeof value !== 'object') return false;
  const record = value as Record<string, unknown>;
  return Array.isArray(record.b) && record.event === undefined && record.e === undefined;
}

/** `context[SYNC] === false` (ours, or the symbol feathers-sync 3.x exports) keeps an event local. */
function isLocalOnly(context: unknown): boolean {
  if (context === null || typeof context !== 'object') return false;
  const record = context as Record<symbol, unknown>;
  if (record[SYNC] === false) return true;
  for (const symbol of Object.getOwnPropertySymbols(context)) {
    if (symbol.description === FEATHERS_SYNC_SYMBOL_DESCRIPTION && record[symbol] === false)
      return true;
  }
  return false;
}

function startsWith(bytes: Uint8Array, mark: Buffer): boolean {
  if (bytes.byteLength < mark.length) return false;
  for (let i = 0; i < mark.length; i++) if (bytes[i] !== mark[i]) return false;
  return true;
}

function byteLength(payload: string | Uint8Array): number {
  return typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
}

/** A UTF-8 string is at most 3 bytes per UTF-16 unit: skip the exact count for small strings. */
function exceeds(payload: string | Uint8Array, max: number): boolean {
  if (typeof payload === 'string' && payload.length * 3 <= max) return false;
  return byteLength(payload) > max;
}

function toText(bytes: Uint8Array): string {
  return (
    Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  ).toString('utf8');
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
