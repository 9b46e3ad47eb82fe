import type { Cluster, Redis, RedisOptions } from 'ioredis';
import type { RedisTransportOptions } from '../../feathers-sync.options';
import { interopDefault, loadPackage } from '../load-package.js';
import type {
  SyncTransport,
  SyncTransportContext,
  SyncTransportHandlers,
  TransportStatus,
} from '../sync-transport.js';

type RedisClient = Redis | Cluster;

/**
 * `redis://` and `rediss://` over ioredis, as feathers-sync does it on the wire: `PUBLISH <key>`
 * on one connection, `SUBSCRIBE <key>` on a second (a subscribed connection cannot publish).
 * ioredis reconnects without a give-up limit; the subscription is renewed on every `ready`.
 */
export class RedisTransport implements SyncTransport {
  readonly type = 'redis';
  private readonly key: string;
  private readonly uri?: string;
  private readonly settings: RedisTransportOptions;
  private publisher?: RedisClient;
  private subscriber?: RedisClient;
  private ownsPublisher = false;
  private closing = false;
  private status: TransportStatus = 'connecting';
  private handlers?: SyncTransportHandlers;

  constructor(context: SyncTransportContext) {
    this.key = context.key;
    this.uri = context.uri;
    this.settings = context.options.redis ?? {};
  }

  async open(handlers: SyncTransportHandlers): Promise<void> {
    this.handlers = handlers;
    handlers.status('connecting');
    const ioredis = await loadPackage('ioredis', 'redis://', () => import('ioredis'));
    if (this.closing) return;
    const RedisClass = interopDefault(ioredis);
    const ownOptions: RedisOptions = {
      lazyConnect: true,
      // Writes issued in the same tick go out in one round trip; order is kept.
      enableAutoPipelining: true,
      // Keep retrying a publish across reconnects instead of failing it after 20 attempts.
      maxRetriesPerRequest: null,
      ...(this.settings.options as RedisOptions | undefined),
    };
    const supplied = this.settings.client as RedisClient | undefined;
    this.ownsPublisher = !supplied;
    this.publisher =
      supplied ?? (this.uri ? new RedisClass(this.uri, ownOptions) : new RedisClass(ownOptions));
    this.subscriber = (this.publisher as Redis).duplicate({
      lazyConnect: true,
      enableAutoPipelining: false,
    });

    // Every client gets an error listener, or ioredis prints unhandled errors; the status carries it.
    this.publisher.on('error', (error: Error) =>
      this.report(this.status === 'ready' ? 'ready' : this.status, error),
    );
    this.subscriber.on('error', (error: Error) => this.report(this.statusAfterDrop(), error));
    this.subscriber.on('close', () => this.report(this.statusAfterDrop()));
    this.subscriber.on('ready', () => this.subscribe());
    this.subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (channel.toString() === this.key) handlers.message(message);
    });

    if (this.ownsPublisher || this.publisher.status === 'wait') {
      this.publisher.connect().catch(() => undefined);
    }
    // A rejected first attempt is not final: ioredis keeps retrying and `ready` fires later.
    this.subscriber.connect().catch(() => undefined);
  }

  publish(payload: Uint8Array | string): Promise<unknown> {
    const publisher = this.publisher;
    if (!publisher) return Promise.reject(new Error('the Redis transport is not open'));
    const message = typeof payload === 'string' ? payload : toBuffer(payload);
    // The reply (a subscriber count) is not needed: hand the command's own promise back.
    return publisher.publish(this.key, message);
  }

  async close(): Promise<void> {
    this.closing = true;
    const subscriber = this.subscriber;
    const publisher = this.publisher;
    if (subscriber) await quit(subscriber);
    if (publisher && this.ownsPublisher) await quit(publisher);
    this.report('closed');
  }

  private subscribe(): void {
    const subscriber = this.subscriber;
    if (!subscriber || this.closing) return;
    subscriber.subscribe(this.key).then(
      () => this.report('ready'),
      (error: Error) => this.report(this.statusAfterDrop(), error),
    );
  }

  private statusAfterDrop(): TransportStatus {
    if (this.closing) return 'closed';
    return this.status === 'connecting' ? 'connecting' : 'reconnecting';
  }

  private report(status: TransportStatus, error?: Error): void {
    if (this.status === 'closed') return;
    if (status === this.status && !error) return;
    this.status = status;
    this.handlers?.status(status, error);
  }
}

/** QUIT waits for replies still due (our flush); a client that is down is just disconnected. */
async function quit(client: RedisClient): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // fall through to a hard disconnect
    }
  }
  client.disconnect();
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
