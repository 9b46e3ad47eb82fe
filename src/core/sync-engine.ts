import { errorText } from '../shared/errors.js';
import { RateLimitedWarnings, type SyncLogger } from '../shared/logger.js';
import type { SyncStatus, TransportStatus } from '../shared/status.js';
import { within } from '../shared/timeout.js';
import type { SyncDelivery, SyncTransport } from '../transports/sync-transport.js';
import { Canary, PeerCanaries } from './canary.js';
import { Codec, type CodecOptions } from './codec.js';
import type { SyncOrigin } from './envelope.types.js';
import type { EventListener, FeathersAppLike } from './feathers.types.js';
import { Outbox } from './outbox.js';
import { Receiver } from './receiver.js';
import { ServiceRouting, type ServiceRoutingRules, type SyncDirection } from './routing.js';
import { SequenceTracker } from './sequence-tracker.js';
import { ServiceHook } from './service-hook.js';
import { createCounters, type SyncStats } from './sync-stats.js';

/** Events that could not be recovered: `origin` is `*` when the broker cannot say whose they were. */
export interface SyncGap {
  origin: string;
  missing: number;
}

export interface SyncEngineOptions extends CodecOptions {
  delivery: SyncDelivery;
  /** `publish`: nothing is received; `subscribe`: nothing is published. */
  direction: SyncDirection;
  /** Which services sync (absent: all). */
  routing?: ServiceRoutingRules;
  /** The canary's interval in ms (0: off). */
  heartbeatMs: number;
  maxPending: number;
  maxPendingBytes: number;
  /** The transport's close budget; the engine only waits a little longer for a transport that overruns it. */
  closeTimeout: number;
  logger: SyncLogger;
  /**
   * Called on every status change (SyncService keeps `status` and `ready` from it): the
   * transport's, or `stale` while it is ready but the canary does not come back.
   */
  onStatus: (status: SyncStatus, error?: Error) => void;
  /** Called for every loss that could not be recovered. */
  onGap: (gap: SyncGap) => void;
}

/** Largest lean batch frame (also bounded by maxMessageSize). */
const MAX_BATCH_BYTES = 512 * 1024;
/** How much longer than its own budget the engine waits for a transport's close(). */
const CLOSE_GRACE_MS = 1000;

/**
 * The transport-agnostic heart of the module, wiring its parts: the service hook hands each synced
 * event to the codec, the outbox takes it to the transport; what the transport delivers goes
 * through the receiver back into the services. It knows nothing of brokers.
 */
export class SyncEngine {
  private app?: FeathersAppLike;
  private status: TransportStatus = 'connecting';
  private readonly canary?: Canary;
  private readonly peerCanaries = new PeerCanaries();
  private closed = false;
  private seq = 0;
  /**
   * Messages the broker said it lost without naming their senders, not yet matched by a jump in
   * some sender's sequence: such a jump is then the same loss, and is not counted twice.
   */
  private unattributed = 0;
  private readonly counters = createCounters();
  private readonly warnings: RateLimitedWarnings;
  private readonly codec: Codec;
  private readonly hook = new ServiceHook();
  private readonly outbox: Outbox;
  private readonly receiver: Receiver;
  private readonly routing?: ServiceRouting;
  private readonly syncInListener: EventListener = (raw) =>
    this.receiver.receive(raw as string | Uint8Array);

  constructor(
    private readonly transport: SyncTransport,
    private readonly options: SyncEngineOptions,
  ) {
    this.warnings = new RateLimitedWarnings(options.logger);
    this.codec = new Codec(options);
    if (options.routing) this.routing = new ServiceRouting(options.routing);
    this.outbox = new Outbox(
      (payload) => transport.publish(payload),
      {
        maxPending: options.maxPending,
        maxPendingBytes: options.maxPendingBytes,
        frame: this.codec.canFrame ? (parts) => this.codec.frame(parts) : undefined,
        maxFrameBytes:
          Math.min(MAX_BATCH_BYTES, options.maxMessageSize) - (this.codec.signer?.overhead ?? 0),
        formed: (payload) => this.emitSyncOut(payload),
        type: transport.type,
        retryRefused: options.delivery === 'recoverable',
      },
      this.counters,
      this.warnings,
    );
    if (options.heartbeatMs > 0 && options.direction !== 'publish') {
      this.canary = new Canary({
        intervalMs: options.heartbeatMs,
        instanceId: options.instanceId,
        epoch: options.epoch,
        send: (n) => this.sendCanary(n),
        changed: () => this.report(),
      });
    }
    const tracker = new SequenceTracker((origin, missing) => this.missed(origin, missing));
    this.receiver = new Receiver({
      instanceId: options.instanceId,
      codec: this.codec,
      tracker,
      hook: this.hook,
      counters: this.counters,
      warnings: this.warnings,
      app: () => this.app,
      maxAgeMs: options.signing?.maxAgeMs,
      observer: options.observer,
      routing: this.routing,
      canary: (stamp) => this.canaryArrived(stamp),
    });
  }

  /** Patches every service already registered and every service registered from now on. */
  attach(app: FeathersAppLike): void {
    this.app = app;
    const { direction } = this.options;
    // A subscribe-only instance still patches its services: received events are emitted through them.
    this.hook.attach(app, (path, event, data, context) => {
      if (direction !== 'subscribe') this.publish(path, event, data, context);
    });
    if (direction !== 'publish') app.on('sync-in', this.syncInListener);
  }

  /** Opens the transport. Never waits for the broker; status changes arrive through `onStatus`. */
  async start(): Promise<void> {
    // Publish-only: the transport opens no subscription; what a custom one delivers anyway is ignored.
    const receives = this.options.direction !== 'publish';
    await this.transport.open({
      message: (payload) => {
        if (receives) this.receiver.receive(payload);
      },
      status: (status, error) => this.setStatus(status, error),
      gap: (missing, reason) => this.lostByBroker(missing, reason),
    });
  }

  stats(): SyncStats {
    const { dropped, ...counters } = this.counters;
    return {
      ...counters,
      pending: this.outbox.pending,
      dropped: { ...dropped },
      canary: this.canary?.stats() ?? null,
    };
  }

  /**
   * Stops listening, hands what is pending to the transport and closes it (the transport flushes
   * within `closeTimeout`); what never reached the broker is counted in `publishFailed`. Services
   * stay patched but emit locally only from now on.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.canary?.stop();
    this.hook.detach();
    this.app?.removeListener('sync-in', this.syncInListener);
    this.outbox.flushAll();
    this.closed = true;
    const closing = this.transport.close();
    const outcome = await within(
      closing.catch((error: unknown) => {
        this.options.logger.error(
          `Closing the ${this.transport.type} transport failed: ${errorText(error)}`,
        );
      }),
      this.options.closeTimeout + CLOSE_GRACE_MS,
    );
    if (outcome === 'timeout') {
      this.options.logger.error(
        `The ${this.transport.type} transport did not close within closeTimeout ` +
          `(${this.options.closeTimeout} ms); events still in flight may be lost.`,
      );
    }
    const unsent = this.outbox.abandon();
    if (unsent > 0) {
      this.counters.publishFailed += unsent;
      this.options.logger.warn(
        `${unsent} event(s) were never sent: the ${this.transport.type} broker did not take them ` +
          'before shutdown (it was unreachable or too slow).',
      );
    }
    this.setStatus('closed');
  }

  /** Serializes the event and hands it to the outbox. Never throws into the service's emit. */
  private publish(path: string, event: string, data: unknown, context: unknown): void {
    if (this.routing && !this.routing.allows(path)) return;
    if (this.closed) {
      this.counters.publishFailed++;
      return;
    }
    const seq = this.seq + 1;
    let payload: string | Uint8Array;
    try {
      payload = this.codec.encode(seq, path, event, data, context);
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
    if (this.codec.tooLargeToSend(payload)) {
      this.counters.publishFailed++;
      this.warnings.warn(
        'tooLargeOut',
        `Event "${path} ${event}" was delivered on this instance only: it is over maxMessageSize ` +
          `(${this.options.maxMessageSize} bytes). Raise maxMessageSize or send less.`,
      );
      return;
    }
    this.outbox.push(payload);
  }

  /** A jump in a sender's sequence: events that never arrived. */
  private missed(origin: string, missing: number): void {
    const known = Math.min(missing, this.unattributed);
    this.unattributed -= known;
    this.counters.missed += missing - known;
    this.warnings.warn(
      'missed',
      `${missing} event(s) from instance ${origin} never arrived (the broker dropped them, ` +
        'typically while a connection was down). Clients of this instance may need to refetch.',
    );
    this.options.onGap({ origin, missing });
  }

  /** The transport's log lost messages before this instance read them. */
  private lostByBroker(missing: number, reason: string): void {
    if (this.closed || !(missing > 0)) return;
    this.unattributed += missing;
    this.counters.missed += missing;
    this.warnings.warn(
      'lostByBroker',
      `The ${this.transport.type} broker lost ${missing} message(s) before this instance read ` +
        `them (${reason}). Clients of this instance may need to refetch.`,
    );
    this.options.onGap({ origin: '*', missing });
  }

  /** A trusted canary: ours proves the receive path; another's may settle a loss the log reported. */
  private canaryArrived(stamp: SyncOrigin & { canary: number }): void {
    if (stamp.origin === this.options.instanceId) return this.canary?.arrived(stamp);
    // The log counted these canaries among the messages it lost: they were no events.
    const canaries = Math.min(
      this.peerCanaries.seen(stamp.origin, stamp.epoch, stamp.canary),
      this.unattributed,
    );
    this.unattributed -= canaries;
    this.counters.missed -= canaries;
  }

  /** Canary `n` through the outbox, naming a service this instance syncs (none yet: no beat). */
  private sendCanary(n: number): boolean {
    const services = this.app?.services ?? {};
    const path = Object.keys(services).find((name) => !this.routing || this.routing.allows(name));
    if (path === undefined || this.closed) return false;
    try {
      this.outbox.pushCanary(this.codec.encodeCanary(n, path));
      return true;
    } catch (error) {
      this.warnings.warn('canary', `The canary could not be serialized: ${errorText(error)}`);
      return false;
    }
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
    this.outbox.setReady(status === 'ready');
    this.canary?.transportReady(status === 'ready');
    this.report(error);
  }

  /** The transport's status, or `stale` while it is ready and the canary does not come back. */
  private report(error?: Error): void {
    const stale = this.status === 'ready' && this.canary?.stale === true;
    this.options.onStatus(stale ? 'stale' : this.status, error);
  }
}
