import type { Cluster, Redis, RedisOptions } from 'ioredis';
import type { RedisSettings } from '../../options/transport-options.js';
import { toBuffer } from '../../shared/bytes.js';
import { asError } from '../../shared/errors.js';
import { StatusReporter } from '../../shared/status.js';
import { Deadline } from '../../shared/timeout.js';
import { loadIoredis } from '../broker-packages.js';
import type {
  SyncTransport,
  SyncTransportContext,
  SyncTransportHandlers,
} from '../sync-transport.js';

type RedisClient = Redis | Cluster;

/**
 * `redis://` and `rediss://` over ioredis, as feathers-sync does it on the wire: `PUBLISH <key>`
 * on one connection, `SUBSCRIBE <key>` on a second (a subscribed connection cannot publish).
 * ioredis reconnects both without a give-up limit; the subscription is renewed on every `ready`.
 * The transport is `ready` while both connections are.
 */
export class RedisTransport implements SyncTransport {
  readonly type = 'redis';
  private readonly status = new StatusReporter();
  private publisher?: RedisClient;
  private subscriber?: RedisClient;
  private ownsPublisher = false;
  private subscribed = false;
  private closing = false;
  private lastError?: Error;

  constructor(private readonly context: SyncTransportContext<RedisSettings>) {}

  async open(handlers: SyncTransportHandlers): Promise<void> {
    this.status.attach((status, error) => handlers.status(status, error));
    const { Redis: RedisClass } = await loadIoredis();
    if (this.closing) return;
    const { uri, key, settings } = this.context;
    const ownOptions: RedisOptions = {
      lazyConnect: true,
      // Writes issued in the same tick go out in one round trip; order is kept.
      enableAutoPipelining: true,
      // The core keeps every event until Redis replied and sends again what a dropped connection
      // lost: ioredis must neither queue commands while disconnected nor hold them across a
      // reconnect (that would be a second, unbounded queue).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      ...(settings.options as RedisOptions),
    };
    const supplied = settings.client as RedisClient | undefined;
    this.ownsPublisher = !supplied;
    const publisher =
      supplied ?? (uri ? new RedisClass(uri, ownOptions) : new RedisClass(ownOptions));
    const subscriber = (publisher as Redis).duplicate({
      lazyConnect: true,
      enableAutoPipelining: false,
    });
    this.publisher = publisher;
    this.subscriber = subscriber;

    // Every client gets an error listener, or ioredis prints unhandled errors; the status carries it.
    const remember = (error: Error) => {
      this.lastError = asError(error);
      this.update();
    };
    publisher.on('error', remember);
    subscriber.on('error', remember);
    publisher.on('ready', () => this.update());
    publisher.on('close', () => this.update());
    subscriber.on('close', () => {
      this.subscribed = false;
      this.update();
    });
    subscriber.on('ready', () => this.subscribe());
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (channel.toString() === key) handlers.message(message);
    });

    if (this.ownsPublisher || publisher.status === 'wait') {
      publisher.connect().catch(() => undefined);
    }
    // A rejected first attempt is not final: ioredis keeps retrying and `ready` fires later.
    subscriber.connect().catch(() => undefined);
  }

  publish(payload: Uint8Array | string): Promise<unknown> {
    const publisher = this.publisher;
    if (!publisher) return Promise.reject(new Error('the Redis transport is not open'));
    const message = typeof payload === 'string' ? payload : toBuffer(payload);
    // The reply (a subscriber count) is not needed: hand the command's own promise back.
    return publisher.publish(this.context.key, message);
  }

  async close(): Promise<void> {
    this.closing = true;
    const deadline = new Deadline(this.context.closeTimeout);
    const subscriber = this.subscriber;
    const publisher = this.publisher;
    if (subscriber) await quit(subscriber, deadline);
    if (publisher && this.ownsPublisher) await quit(publisher, deadline);
    this.status.closed();
  }

  private subscribe(): void {
    const subscriber = this.subscriber;
    if (!subscriber || this.closing) return;
    subscriber.subscribe(this.context.key).then(
      () => {
        this.subscribed = true;
        this.update();
      },
      (error: unknown) => {
        this.lastError = asError(error);
        this.update();
      },
    );
  }

  /** Ready while the subscription is live and the publisher connected; else why not. */
  private update(): void {
    if (this.closing) return;
    if (this.subscribed && this.publisher?.status === 'ready') {
      this.lastError = undefined;
      this.status.ready();
    } else {
      this.status.dropped(this.lastError);
    }
  }
}

/** QUIT waits for replies still due (our flush); past the deadline, or when down, disconnect. */
async function quit(client: RedisClient, deadline: Deadline): Promise<void> {
  if (client.status === 'ready' && (await deadline.within(client.quit())) === 'done') return;
  client.disconnect();
}
