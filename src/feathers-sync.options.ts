import type { LoggerService } from '@nestjs/common';
import type { FeathersAppLike } from './core/feathers.types.js';
import type { SyncEnvelope } from './core/envelope.js';
import type { SyncTransport, SyncTransportClass } from './transports/sync-transport.js';

/** Options of `FeathersSyncModule.forRoot()` / `forRootAsync()`. */
export interface FeathersSyncOptions {
  /**
   * Broker address; the scheme picks the transport: `redis://`, `rediss://`, `amqp://`, `amqps://`,
   * `nats://`, `cluster://` (Node cluster workers on one machine), `memory://`. Credentials in it
   * are used, never logged.
   */
  uri?: string;
  /** Redis channel, AMQP exchange and NATS subject. Default `feathers-sync`. */
  key?: string;
  /**
   * The Feathers application. When absent: a provider under `FEATHERS_APP` anywhere in the Nest
   * app, else the Nest HTTP adapter's instance when that is a Feathers app.
   */
  app?: FeathersAppLike;
  /** Turns an envelope into bytes. Default `JSON.stringify`. */
  serialize?: (envelope: SyncEnvelope) => string | Uint8Array;
  /** Turns bytes from the broker back into an envelope. Default `JSON.parse`. */
  deserialize?: (payload: string | Uint8Array) => unknown;
  /** A custom transport: a class implementing `SyncTransport`, or an instance of one. */
  transport?: SyncTransport | SyncTransportClass;
  /** `ready` rejects after this many ms without a live subscription (the transport keeps trying). Default 30000. */
  connectTimeout?: number;
  /** Make boot itself wait for the broker, and fail after `connectTimeout`. Default false. */
  waitForBroker?: boolean;
  /** How long `app.close()` may spend flushing pending events. Default 5000 ms. */
  closeTimeout?: number;
  /** Larger messages are dropped (inbound) or not sent (outbound), and counted. Default 4 MiB. */
  maxMessageSize?: number;
  /** Events kept while the broker is unreachable, sent once it is back; the oldest go first. Default 10000. */
  maxPending?: number;
  /**
   * Wire form. `compatible` (default): the feathers-sync 3.x envelope, readable by feathers-sync
   * peers. `lean`: the event's data once plus what the context cannot rebuild (about 1.1–1.3x the
   * data's own size); only for fleets where no instance runs feathers-sync. Receivers read both.
   */
  envelope?: 'compatible' | 'lean';
  /** Keys of `context.params` never put on the bus. Default `['authentication', 'headers', 'connection']`. */
  redactParams?: readonly string[];
  /** Where the module logs; `false` silences it. Default `new Logger('FeathersSyncModule')`. */
  logger?: LoggerService | false;
  /** Identifies this instance in envelopes. Default: random per start. */
  instanceId?: string;
  /** Redis settings (`redis://`, `rediss://`). */
  redis?: RedisTransportOptions;
  /** AMQP settings (`amqp://`, `amqps://`). */
  amqp?: AmqpTransportOptions;
  /** NATS settings (`nats://`). */
  nats?: NatsTransportOptions;
}

/** An ioredis `Redis` or `Cluster` (typed structurally: ioredis is an optional peer). */
export interface RedisClientLike {
  duplicate(...args: never[]): unknown;
  publish(channel: string, message: string | Buffer): Promise<unknown>;
  status: string;
}

export interface RedisTransportOptions {
  /**
   * An existing ioredis client (or Cluster) used to publish. The module subscribes on a
   * `duplicate()` of it and closes only what it created.
   */
  client?: RedisClientLike;
  /** ioredis options for the connections the module creates (merged over the uri). */
  options?: Record<string, unknown>;
}

export interface AmqpTransportOptions {
  /**
   * amqplib socket options passed to `connect()`: TLS (`ca`, `cert`, `key`, `passphrase`,
   * `servername`…), `timeout` (connect and handshake, default 10000 ms), `noDelay`, `keepAlive`,
   * `clientProperties` (e.g. `connection_name`), `credentials` (e.g. EXTERNAL). amqplib's own
   * `recovery` is ignored: the transport reconnects by itself. Heartbeat, frameMax and vhost go in
   * the uri (`amqp://user:pass@host:5672/vhost?heartbeat=10`).
   */
  socketOptions?: Record<string, unknown>;
  /** Delay before the first reconnection attempt, doubled up to `maxReconnectDelay`. Default 500 ms. */
  reconnectDelay?: number;
  /** Upper bound of the reconnection delay. Default 5000 ms. */
  maxReconnectDelay?: number;
  /**
   * How long (ms) RabbitMQ keeps this instance's queue, and the events published into it, while
   * the instance is disconnected; it consumes them when it is back within that time. Default
   * 60000. `0`: a server-named exclusive queue that goes with the connection (events published
   * while an instance is disconnected are lost for it, and counted as missed).
   */
  queueExpires?: number;
  /**
   * Most events RabbitMQ holds in this instance's queue; beyond it the oldest are dropped (and
   * counted as missed by the receiver). Default: no limit.
   */
  queueMaxLength?: number;
}

export interface NatsTransportOptions {
  /**
   * nats.js `ConnectionOptions` (user, pass, token, authenticator, tls, name, servers, pingInterval…),
   * merged over the uri: they win over its credentials, and `servers` are added to its host. The
   * module's defaults, which these replace: `maxReconnectAttempts: -1` (never give up),
   * `reconnectTimeWait: 500`, `reconnectJitter: 500`, `waitOnFirstConnect: true`.
   */
  connectionOptions?: Record<string, unknown>;
  /**
   * After a reconnect, how long (ms) the transport stays `reconnecting` before it reports `ready`
   * and the events kept during the outage go out. NATS delivers a message only to subscriptions
   * live at that moment: after a broker restart the delay lets the other instances, which lost
   * their connection at the same time, subscribe again first. Default: `reconnectTimeWait` plus
   * the largest jitter (1000 ms with the defaults). 0 reports `ready` as soon as the server has
   * the subscription.
   */
  resumeDelay?: number;
}
