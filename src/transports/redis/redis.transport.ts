import type { RedisSettings } from '../../options/transport-options.js';
import { toBuffer } from '../../shared/bytes.js';
import type { SecretScrubber } from '../../shared/redact.js';
import { StatusReporter } from '../../shared/status.js';
import { Deadline } from '../../shared/timeout.js';
import { loadIoredis } from '../broker-packages.js';
import { ClusterWriteGate } from './redis-write-gate.js';
import {
  CLUSTER_READ_RETRIES,
  connectClient,
  duplicateClient,
  openPublisher,
  quit,
  clusterPublish,
  redisScrubber,
  reviveOnEnd,
  shardedPubSub,
  type RedisClient,
} from './redis.clients.js';
import { connectionError, tellingError } from '../tls.hints.js';
import type {
  SyncTransport,
  SyncTransportContext,
  SyncTransportHandlers,
} from '../sync-transport.js';

/**
 * `redis://` and `rediss://` (and `redis+cluster://`, `redis+sentinel://`) over ioredis, as
 * feathers-sync does it on the wire: `PUBLISH <key>` on one connection, `SUBSCRIBE <key>` on a
 * second (a subscribed connection cannot publish); with `sharded`, `SPUBLISH` / `SSUBSCRIBE`.
 * ioredis reconnects both without a give-up limit, follows Cluster slot moves and Sentinel
 * failovers; the subscription is renewed on every `ready`. The transport is `ready` while both
 * connections are (a publish-only one opens the first only).
 */
export class RedisTransport implements SyncTransport {
  readonly type = 'redis';
  private readonly status = new StatusReporter();
  private publisher?: RedisClient;
  private subscriber?: RedisClient;
  private ownsPublisher = false;
  private subscribed = false;
  private sharded = false;
  private gate?: ClusterWriteGate;
  private publishOnSlot?: (message: string | Buffer) => Promise<unknown>;
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
    const sharded = shardedPubSub(uri, settings);
    this.sharded = sharded;
    this.publishOnSlot = clusterPublish(publisher, key, sharded);
    // EXISTS goes to the master of the key's slot, as every write does here.
    this.gate = new ClusterWriteGate(
      publisher,
      () => publisher.exists(key),
      () => this.update(),
    );
    this.publisher = publisher;

    // Every client gets an error listener, or ioredis prints unhandled errors; the status carries it.
    const remember = (error: Error) => {
      this.lastError = tellingError(this.lastError, connectionError(error, 'redis', this.scrubber));
      this.update();
    };
    publisher.on('error', remember);
    publisher.on('ready', () => this.update());
    publisher.on('close', () => this.update());
    const closing = () => this.closing;
    if (owned) reviveOnEnd(publisher, closing);
    connectClient(publisher).catch(() => undefined);
    // Publish-only: no second connection, no subscription.
    if (this.context.subscribe === false) return;

    const subscriber = duplicateClient(
      publisher,
      { enableAutoPipelining: false },
      // One subscriber connection per master, each following its shard through failovers.
      { shardedSubscribers: sharded, ...CLUSTER_READ_RETRIES },
    );
    this.subscriber = subscriber;
    subscriber.on('error', remember);
    subscriber.on('close', () => {
      this.subscribed = false;
      this.update();
    });
    subscriber.on('ready', () => this.subscribe());
    subscriber.on(
      sharded ? 'smessageBuffer' : 'messageBuffer',
      (channel: Buffer, message: Buffer) => {
        if (channel.toString() === key) handlers.message(message);
      },
    );
    reviveOnEnd(subscriber, closing);

    // A rejected first attempt is not final: ioredis keeps retrying and `ready` fires later.
    connectClient(subscriber).catch(() => undefined);
  }

  publish(payload: Uint8Array | string): Promise<unknown> {
    const publisher = this.publisher;
    if (!publisher) return Promise.reject(new Error('the Redis transport is not open'));
    const message = typeof payload === 'string' ? payload : toBuffer(payload);
    // The reply (a subscriber count) is not needed: hand the command's own promise back.
    const key = this.context.key;
    const sent = this.sharded
      ? publisher.spublish(key, message)
      : (this.publishOnSlot?.(message) ?? publisher.publish(key, message));
    return this.gate!.watch(sent);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.gate?.stop();
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
    const subscribing = this.sharded
      ? subscriber.ssubscribe(this.context.key)
      : subscriber.subscribe(this.context.key);
    subscribing.then(
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
    const blocked = this.gate?.blockedBy;
    if (blocked) this.lastError = blocked;
    const listening = this.subscribed || this.context.subscribe === false;
    if (listening && this.publisher?.status === 'ready' && !blocked) {
      this.lastError = undefined;
      this.status.ready();
    } else {
      this.status.dropped(this.lastError);
    }
  }
}
