import type { RedisSettings } from '../../options/transport-options.js';
import { toBuffer } from '../../shared/bytes.js';
import type { SecretScrubber } from '../../shared/redact.js';
import { StatusReporter } from '../../shared/status.js';
import { Deadline } from '../../shared/timeout.js';
import { loadIoredis } from '../broker-packages.js';
import {
  connectClient,
  duplicateClient,
  openPublisher,
  quit,
  redisScrubber,
  type RedisClient,
} from './redis.clients.js';
import { connectionError, tellingError } from '../tls.hints.js';
import type {
  SyncTransport,
  SyncTransportContext,
  SyncTransportHandlers,
} from '../sync-transport.js';

/**
 * `redis://` and `rediss://` over ioredis, as feathers-sync does it on the wire: `PUBLISH <key>`
 * on one connection, `SUBSCRIBE <key>` on a second (a subscribed connection cannot publish).
 * ioredis reconnects both without a give-up limit; the subscription is renewed on every `ready`.
 * The transport is `ready` while both connections are (a publish-only one opens the first only).
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
  private readonly scrubber: SecretScrubber;

  constructor(private readonly context: SyncTransportContext<RedisSettings>) {
    this.scrubber = redisScrubber(context.uri, context.settings);
  }

  async open(handlers: SyncTransportHandlers): Promise<void> {
    this.status.attach((status, error) => handlers.status(status, error));
    const ioredis = await loadIoredis();
    if (this.closing) return;
    const { uri, key, settings } = this.context;
    const { client: publisher, owned } = openPublisher(ioredis, uri, settings);
    this.ownsPublisher = owned;
    this.publisher = publisher;

    // Every client gets an error listener, or ioredis prints unhandled errors; the status carries it.
    const remember = (error: Error) => {
      this.lastError = tellingError(this.lastError, connectionError(error, 'redis', this.scrubber));
      this.update();
    };
    publisher.on('error', remember);
    publisher.on('ready', () => this.update());
    publisher.on('close', () => this.update());
    connectClient(publisher).catch(() => undefined);
    // Publish-only: no second connection, no subscription.
    if (this.context.subscribe === false) return;

    const subscriber = duplicateClient(publisher, { enableAutoPipelining: false });
    this.subscriber = subscriber;
    subscriber.on('error', remember);
    subscriber.on('close', () => {
      this.subscribed = false;
      this.update();
    });
    subscriber.on('ready', () => this.subscribe());
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (channel.toString() === key) handlers.message(message);
    });

    // A rejected first attempt is not final: ioredis keeps retrying and `ready` fires later.
    connectClient(subscriber).catch(() => undefined);
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
        this.lastError = this.scrubber.error(error);
        this.update();
      },
    );
  }

  /** Ready while the subscription is live and the publisher connected; else why not. */
  private update(): void {
    if (this.closing) return;
    const listening = this.subscribed || this.context.subscribe === false;
    if (listening && this.publisher?.status === 'ready') {
      this.lastError = undefined;
      this.status.ready();
    } else {
      this.status.dropped(this.lastError);
    }
  }
}
