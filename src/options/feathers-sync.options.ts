import type { LoggerService } from '@nestjs/common';
import type { SyncEnvelope } from '../core/envelope.types.js';
import type { FeathersAppLike } from '../core/feathers.types.js';
import type {
  SyncDelivery,
  SyncTransport,
  SyncTransportClass,
} from '../transports/sync-transport.js';
import type { SyncDirection } from '../core/routing.js';
import type { ServiceRoutingOptions } from './routing-options.js';
import type { SigningOptions } from './signing-options.js';
import type {
  AmqpTransportOptions,
  NatsTransportOptions,
  RedisTransportOptions,
  RetentionOptions,
} from './transport-options.js';

/** Options of `FeathersSyncModule.forRoot()` / `forRootAsync()`. */
export interface FeathersSyncOptions {
  /**
   * Broker address; the scheme picks the transport: `redis://`, `rediss://`, `redis+cluster://`
   * and `redis+sentinel://` (and their `rediss+` forms), `amqp://`, `amqps://`, `nats://`,
   * `cluster://` (Node cluster workers on one machine), `memory://`. Credentials in it are used,
   * never logged.
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
  /**
   * A custom transport: a class implementing `SyncTransport` (constructed with `{ uri, key, logger,
   * closeTimeout }`), or an instance of one (built with whatever settings it needs).
   */
  transport?: SyncTransport | SyncTransportClass;
  /**
   * `broadcast` (default): the broker's pub/sub, as feathers-sync does; an instance that is cut
   * off misses what is published meanwhile (counted in `missed`). `recoverable`: the broker's own
   * durable log (Redis Streams, NATS JetStream, RabbitMQ stream queues); an instance that was cut
   * off catches up from where it stopped, within `retention`, and publishing waits for the
   * broker's acknowledgement. What cannot be recovered is reported on `SyncService.gaps$`.
   */
  delivery?: SyncDelivery;
  /** How far back a `recoverable` instance can catch up (the broker keeps that much). */
  retention?: RetentionOptions;
  /** `ready` rejects after this many ms without a live subscription (the transport keeps trying). Default 30000. */
  connectTimeout?: number;
  /** Make boot itself wait for the broker, and fail after `connectTimeout`. Default false. */
  waitForBroker?: boolean;
  /** How long `app.close()` may spend flushing pending events and closing connections. Default 5000 ms. */
  closeTimeout?: number;
  /** Larger messages are dropped (inbound) or not sent (outbound), and counted. Default 4 MiB. */
  maxMessageSize?: number;
  /**
   * Most events waiting for the broker (it is down or slow) or sent and not yet taken by it; past
   * it the oldest waiting events are dropped and counted in `publishFailed`. Default 10000.
   */
  maxPending?: number;
  /** The same bound in bytes. Default 64 MiB. */
  maxPendingBytes?: number;
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
  /**
   * Identifies this instance in envelopes. Default: random per start. A fixed id must belong to one
   * running instance at a time; its messages then carry an epoch (the start time), so that a
   * restart, which begins again at sequence 1, is not taken for a replay.
   */
  instanceId?: string;
  /**
   * Sign every message (HMAC-SHA256 with a key id) and refuse messages that are unsigned, signed
   * with an unknown key, altered, replayed or older than `maxAgeMs`. See the README's "Security".
   */
  signing?: SigningOptions;
  /**
   * Which services sync, on both sides: an event of a service left out is not published, and not
   * emitted when it arrives from another instance. Paths or RegExps. Default: every service.
   */
  services?: ServiceRoutingOptions;
  /**
   * `both` (default). `publish`: this instance only sends (a queue consumer, a cron); it opens no
   * subscription, consumer or log reader. `subscribe`: it only listens (a socket gateway); its
   * events stay local.
   */
  direction?: SyncDirection;
  /**
   * The canary: every `heartbeatMs` the instance publishes a small message and checks that it comes
   * back through its own subscription; none back for 3 intervals makes the status `stale`.
   * `0` turns it off. Default 5000.
   */
  heartbeatMs?: number;
  /** Redis settings (`redis://`, `rediss://`). */
  redis?: RedisTransportOptions;
  /** AMQP settings (`amqp://`, `amqps://`). */
  amqp?: AmqpTransportOptions;
  /** NATS settings (`nats://`). */
  nats?: NatsTransportOptions;
}
