import { randomBytes } from 'node:crypto';
import cluster, { type Worker } from 'node:cluster';
import { FeathersSyncConfigError } from '../../errors/sync.errors.js';
import { toBuffer } from '../../shared/bytes.js';
import { asError, errorText } from '../../shared/errors.js';
import type { SyncLogger } from '../../shared/logger.js';
import { StatusReporter } from '../../shared/status.js';
import type {
  SyncTransport,
  SyncTransportContext,
  SyncTransportHandlers,
} from '../sync-transport.js';

/**
 * `cluster://`: the workers of one Node cluster sync through the primary, which relays every
 * message to the other workers, as @socket.io/cluster-adapter does. No broker: the IPC channels
 * Node opens between the primary and each worker carry the messages. For one machine only.
 *
 * ```ts
 * // primary (before forking):  setupClusterSyncPrimary();
 * // each worker:               FeathersSyncModule.forRoot({ uri: 'cluster://' })
 * ```
 */

/** Marks our IPC messages among whatever else the app sends over the same channel. */
const TAG = 'nestjs-feathers-sync/cluster';
const VERSION = 1;

type Frame =
  /** worker → primary: start relaying `key` to subscription `sub`; answered with `subscribed`. */
  | { t: 'subscribe'; key: string; sub: string }
  | { t: 'subscribed'; key: string; sub: string }
  | { t: 'unsubscribe'; key: string; sub: string }
  /** One payload; `bin` when `data` is base64 of bytes (the default IPC serialization is JSON). */
  | { t: 'publish'; key: string; from: string; data: string; bin?: true };

type Envelope = Frame & { [TAG]: typeof VERSION };

function frame(body: Frame): Envelope {
  return { [TAG]: VERSION, ...body };
}

function isFrame(message: unknown): message is Envelope {
  return (
    message !== null &&
    typeof message === 'object' &&
    (message as Record<string, unknown>)[TAG] === VERSION &&
    typeof (message as Record<string, unknown>).key === 'string'
  );
}

/** Resubscribe delays while the primary stays silent: quick at first, then every few seconds. */
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 2000;
/** Silence long enough to say that the primary probably never called setupClusterSyncPrimary(). */
const SILENT_PRIMARY_WARNING_MS = 5000;

const notAWorker = () =>
  'The cluster:// transport of FeathersSyncModule syncs the workers of a Node cluster, and this ' +
  'process is not one (it has no IPC channel to a primary). Fork the app with node:cluster and ' +
  'call setupClusterSyncPrimary() in the primary, or use a broker uri (redis://, amqp://, nats://).';
const silentPrimary = (ms: number) =>
  `No answer from the cluster primary after ${ms} ms: call setupClusterSyncPrimary() from ` +
  'nestjs-feathers-sync in the primary process before forking the workers. Still trying.';
const channelClosed = () => 'the IPC channel to the cluster primary is closed';

type Send = (message: Envelope, callback: (error: Error | null) => void) => void;

/** The worker side: one subscription on `key`, relayed by the primary. */
export class ClusterTransport implements SyncTransport {
  readonly type = 'cluster';
  private readonly key: string;
  private readonly logger: SyncLogger;
  /** Identifies this subscription: the primary never sends a message back to its sender. */
  private readonly sub = randomBytes(9).toString('base64url');
  private readonly send: Send;
  private handlers?: SyncTransportHandlers;
  private readonly status = new StatusReporter();
  private retryTimer?: NodeJS.Timeout;
  private retryDelay = FIRST_RETRY_MS;
  private silentSince = 0;
  private warned = false;
  private closing = false;
  private readonly subscribes: boolean;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly onMessage = (message: unknown) => this.receive(message);
  private readonly onDisconnect = () => {
    this.status.dropped(new Error(channelClosed()));
  };

  constructor(context: SyncTransportContext<unknown>) {
    // Fail boot, not the first publish: without a channel to a primary nothing can ever sync.
    const send = process.send?.bind(process);
    if (typeof send !== 'function') throw new FeathersSyncConfigError(notAWorker());
    this.send = send;
    this.key = context.key;
    this.logger = context.logger;
    this.subscribes = context.subscribe !== false;
  }

  open(handlers: SyncTransportHandlers): void {
    this.handlers = handlers;
    this.status.attach((status, error) => handlers.status(status, error));
    process.on('message', this.onMessage);
    process.on('disconnect', this.onDisconnect);
    this.silentSince = Date.now();
    // Publish-only: the primary relays to subscribers only; this worker just sends.
    if (this.subscribes) this.subscribe();
    else queueMicrotask(() => this.status.ready());
  }

  publish(payload: Uint8Array | string): Promise<void> {
    const body =
      typeof payload === 'string'
        ? frame({ t: 'publish', key: this.key, from: this.sub, data: payload })
        : frame({
            t: 'publish',
            key: this.key,
            from: this.sub,
            data: toBuffer(payload).toString('base64'),
            bin: true,
          });
    return this.track(body);
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.retryTimer);
    if (process.connected && this.subscribes) {
      await this.track(frame({ t: 'unsubscribe', key: this.key, sub: this.sub })).catch(
        () => undefined,
      );
    }
    // What publish() accepted is handed to the channel before we call it closed.
    await Promise.allSettled([...this.inFlight]);
    // Our listeners keep the IPC channel referenced; without them the worker may exit by itself.
    process.removeListener('message', this.onMessage);
    process.removeListener('disconnect', this.onDisconnect);
    this.status.closed();
  }

  private subscribe(): void {
    if (this.closing || this.status.isReady) return;
    if (process.connected) {
      this.track(frame({ t: 'subscribe', key: this.key, sub: this.sub })).catch(() => undefined);
    }
    if (!this.warned && Date.now() - this.silentSince >= SILENT_PRIMARY_WARNING_MS) {
      this.warned = true;
      this.logger.warn(silentPrimary(SILENT_PRIMARY_WARNING_MS));
    }
    // The primary may set up its relay after forking, or drop a frame: ask again until it answers.
    this.retryTimer = setTimeout(() => this.subscribe(), this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, MAX_RETRY_MS);
  }

  private receive(message: unknown): void {
    if (this.closing || !isFrame(message) || message.key !== this.key) return;
    if (message.t === 'subscribed' && message.sub === this.sub) {
      clearTimeout(this.retryTimer);
      this.status.ready();
      return;
    }
    if (message.t !== 'publish' || message.from === this.sub || typeof message.data !== 'string') {
      return;
    }
    const payload = message.bin ? Buffer.from(message.data, 'base64') : message.data;
    try {
      this.handlers?.message(payload);
    } catch (error) {
      // A listener throwing here would surface as an uncaught exception of the whole worker.
      this.logger.error(`cluster:// message handler threw: ${errorText(error)}`);
    }
  }

  /** Sends one frame; settles once Node has written it to the channel (or failed to). */
  private track(body: Envelope): Promise<void> {
    const sent = new Promise<void>((resolve, reject) => {
      try {
        this.send(body, (error) => (error ? reject(error) : resolve()));
      } catch (error) {
        reject(asError(error));
      }
    });
    this.inFlight.add(sent);
    const forget = () => this.inFlight.delete(sent);
    sent.then(forget, forget);
    return sent;
  }
}

/** What setupClusterSyncPrimary() returns. */
export interface ClusterSyncPrimary {
  /** Stops relaying and forgets every subscription (the workers keep running). */
  close(): void;
}

let active: ClusterSyncPrimary | undefined;

/**
 * Turns the cluster primary into the relay for `cluster://`. Call it once in the primary, before
 * forking the workers (later works too: workers keep asking until the primary answers). Each
 * message goes to every other subscribed worker in the order it arrived, never back to its sender.
 */
export function setupClusterSyncPrimary(): ClusterSyncPrimary {
  if (!cluster.isPrimary) {
    throw new FeathersSyncConfigError(
      'setupClusterSyncPrimary() runs in the cluster primary; workers use ' +
        "FeathersSyncModule.forRoot({ uri: 'cluster://' }).",
    );
  }
  if (active) return active;

  /** key → worker → that worker's subscription ids on the key. */
  const subscriptions = new Map<string, Map<Worker, Set<string>>>();

  const forget = (worker: Worker) => {
    for (const [key, workers] of subscriptions) {
      workers.delete(worker);
      if (workers.size === 0) subscriptions.delete(key);
    }
  };

  const onMessage = (worker: Worker, message: unknown) => {
    if (!isFrame(message)) return;
    switch (message.t) {
      case 'subscribe': {
        let workers = subscriptions.get(message.key);
        if (!workers) subscriptions.set(message.key, (workers = new Map<Worker, Set<string>>()));
        let subs = workers.get(worker);
        if (!subs) workers.set(worker, (subs = new Set<string>()));
        subs.add(message.sub);
        deliver(worker, frame({ t: 'subscribed', key: message.key, sub: message.sub }));
        return;
      }
      case 'unsubscribe': {
        const workers = subscriptions.get(message.key);
        const subs = workers?.get(worker);
        subs?.delete(message.sub);
        if (workers && subs?.size === 0) workers.delete(worker);
        if (workers?.size === 0) subscriptions.delete(message.key);
        return;
      }
      case 'publish': {
        const workers = subscriptions.get(message.key);
        if (!workers) return;
        for (const [target, subs] of workers) {
          // The sender's own process gets it only for another subscription living there.
          if (target === worker && subs.size === 1 && subs.has(message.from)) continue;
          deliver(target, message);
        }
        return;
      }
      default:
        return;
    }
  };

  cluster.on('message', onMessage);
  cluster.on('exit', forget);

  const relay: ClusterSyncPrimary = {
    close() {
      cluster.removeListener('message', onMessage);
      cluster.removeListener('exit', forget);
      subscriptions.clear();
      if (active === relay) active = undefined;
    },
  };
  active = relay;
  return relay;
}

/** A worker that is gone just misses the message; the callback keeps Node from raising 'error'. */
function deliver(worker: Worker, message: Envelope): void {
  if (!worker.isConnected()) return;
  worker.send(message, undefined, () => undefined);
}
