import type { SyncLogger } from '../shared/logger.js';
import { fail, numberOption, objectOption } from './checks.js';

/**
 * Each broker's settings: what a user may pass (`…TransportOptions`), what its transport receives
 * (`…Settings`: checked, with every default applied), and the one function that turns one into the
 * other.
 */

/** How far back an instance can catch up in `delivery: 'recoverable'`. */
export interface RetentionOptions {
  /** Messages older than this are dropped from the broker's log. Default 120000 (2 minutes). */
  maxAgeMs?: number;
  /** At most this many messages are kept in the broker's log. Default 100000. */
  maxEvents?: number;
}

export interface Retention {
  maxAgeMs: number;
  maxEvents: number;
}

export function resolveRetention(given: RetentionOptions | undefined): Retention {
  const retention = objectOption('retention', given, 'an object ({ maxAgeMs?, maxEvents? })');
  return {
    maxAgeMs: numberOption('retention.maxAgeMs', retention.maxAgeMs, 120_000, { integer: true }),
    maxEvents: numberOption('retention.maxEvents', retention.maxEvents, 100_000, { integer: true }),
  };
}

/** An ioredis `Redis` or `Cluster` (typed structurally: ioredis is an optional peer). */
export interface RedisClientLike {
  duplicate(...args: never[]): unknown;
  publish(channel: string, message: string | Buffer): Promise<unknown>;
  status: string;
}

export interface RedisTransportOptions {
  /**
   * An existing ioredis client (or Cluster) used to publish. The module subscribes (with
   * `delivery: 'recoverable'`: reads the key's stream) on a `duplicate()` of it and closes only
   * what it created.
   */
  client?: RedisClientLike;
  /**
   * ioredis options for the connections the module creates, merged over what the uri says: for
   * `redis+cluster://` the Cluster's options (with `redisOptions` for each node's connection), else
   * a connection's options.
   */
  options?: Record<string, unknown>;
  /**
   * Sharded pub/sub (`SPUBLISH` / `SSUBSCRIBE`, Redis 7+): only the shard that owns the key's slot
   * carries the events, instead of every node of a Cluster. feathers-sync peers use classic
   * pub/sub and do not hear sharded events. Default: the uri's `?sharded=` (false without it).
   * `delivery: 'broadcast'` only.
   */
  sharded?: boolean;
}

export interface RedisSettings {
  client?: RedisClientLike;
  options: Record<string, unknown>;
  /** Set when the user chose; else the uri decides. */
  sharded?: boolean;
}

export function resolveRedisSettings(given: RedisTransportOptions | undefined): RedisSettings {
  const redis = objectOption('redis', given, 'an object ({ client?, options?, sharded? })');
  const client = redis.client as RedisClientLike | undefined;
  if (client !== undefined && (client === null || typeof client.duplicate !== 'function')) {
    fail('redis.client', 'an ioredis Redis or Cluster instance', client);
  }
  if (redis.sharded !== undefined && typeof redis.sharded !== 'boolean') {
    fail('redis.sharded', 'true or false', redis.sharded);
  }
  return {
    client,
    options: objectOption('redis.options', redis.options, 'an object of ioredis options'),
    ...(redis.sharded === undefined ? {} : { sharded: redis.sharded }),
  };
}

export interface AmqpTransportOptions {
  /**
   * amqplib socket options passed to `connect()`: TLS (`ca`, `cert`, `key`, `passphrase`,
   * `servername`…), `timeout` (connect and handshake, default 10000 ms or `closeTimeout` if lower), `noDelay`, `keepAlive`,
   * `clientProperties` (e.g. `connection_name`), `credentials` (e.g. EXTERNAL). Reconnection is
   * amqplib's own recovery, tuned with `reconnectDelay` and `maxReconnectDelay`; a `recovery` here
   * is ignored. Heartbeat, frameMax and vhost go in the uri
   * (`amqp://user:pass@host:5672/vhost?heartbeat=10`).
   */
  socketOptions?: Record<string, unknown>;
  /** Delay before the first reconnection attempt, doubled (with jitter) up to `maxReconnectDelay`. Default 500 ms. */
  reconnectDelay?: number;
  /** Upper bound of the reconnection delay, jitter included. Default 1000 ms: back within a second of RabbitMQ. */
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
  /**
   * `delivery: 'recoverable'`: the size in bytes of the stream's segment files. RabbitMQ drops a
   * stream's data by whole segments only, when a write fills a segment: its own default (500 MB)
   * would never trim a sync log, so `retention.maxAgeMs` would not apply. Every instance on the
   * key must use the same value. Default 1000000 (1 MB).
   */
  streamSegmentBytes?: number;
  /**
   * `delivery: 'recoverable'`: most bytes the stream keeps (`x-max-length-bytes`), beside
   * `retention.maxAgeMs`. RabbitMQ streams cannot count messages, so `retention.maxEvents` does
   * not apply to them; bound the log's size with this. Every instance on the key must use the
   * same value. Default: no byte limit.
   */
  streamMaxBytes?: number;
  /**
   * `delivery: 'recoverable'`: how many messages RabbitMQ sends ahead of this instance's
   * acknowledgements (the stream consumer's prefetch). It bounds what an instance slower than the
   * publishers holds in memory; the rest waits in the stream. Default 500.
   */
  streamPrefetch?: number;
}

export interface AmqpSettings {
  socketOptions: Record<string, unknown>;
  reconnectDelay: number;
  maxReconnectDelay: number;
  queueExpires: number;
  queueMaxLength?: number;
  streamSegmentBytes: number;
  streamMaxBytes?: number;
  streamPrefetch: number;
}

/**
 * amqplib has no handshake timeout of its own: a host that accepts TCP and stays silent would hang
 * an attempt. Recovery cannot abort an attempt in flight, so it also bounds how long such an
 * attempt outlives `app.close()`: never longer than the close budget by default.
 */
const AMQP_SOCKET_TIMEOUT = 10_000;

export function resolveAmqpSettings(
  given: AmqpTransportOptions | undefined,
  key: string,
  logger: SyncLogger,
  closeTimeout: number,
): AmqpSettings {
  const amqp = objectOption('amqp', given, 'an object of AMQP settings');
  const reconnectDelay = numberOption('amqp.reconnectDelay', amqp.reconnectDelay, 500, {
    integer: true,
  });
  const maxReconnectDelay = numberOption('amqp.maxReconnectDelay', amqp.maxReconnectDelay, 1000, {
    integer: true,
  });
  const queueExpires = numberOption('amqp.queueExpires', amqp.queueExpires, 60_000, {
    allowZero: true,
    integer: true,
  });
  const queueMaxLength =
    amqp.queueMaxLength === undefined
      ? undefined
      : numberOption('amqp.queueMaxLength', amqp.queueMaxLength, 0, { integer: true });
  const streamSegmentBytes = numberOption(
    'amqp.streamSegmentBytes',
    amqp.streamSegmentBytes,
    1_000_000,
    { integer: true },
  );
  const streamMaxBytes =
    amqp.streamMaxBytes === undefined
      ? undefined
      : numberOption('amqp.streamMaxBytes', amqp.streamMaxBytes, 0, { integer: true });
  const streamPrefetch = numberOption('amqp.streamPrefetch', amqp.streamPrefetch, 500, {
    integer: true,
  });
  // AMQP's prefetch count is a 16-bit field.
  if (streamPrefetch > 65_535) fail('amqp.streamPrefetch', 'at most 65535', streamPrefetch);
  const socket = objectOption(
    'amqp.socketOptions',
    amqp.socketOptions,
    'an object of amqplib socket options',
  );
  const { recovery, ...socketOptions } = socket;
  if (recovery !== undefined) {
    logger.warn(
      'amqp.socketOptions.recovery is ignored: the AMQP transport runs amqplib’s recovery itself ' +
        '(tune it with amqp.reconnectDelay and amqp.maxReconnectDelay).',
    );
  }
  return {
    socketOptions: {
      timeout: Math.min(AMQP_SOCKET_TIMEOUT, closeTimeout),
      ...socketOptions,
      // Names the connection in the RabbitMQ management UI; the user's properties win.
      clientProperties: {
        connection_name: `nestjs-feathers-sync ${key}`,
        ...(socketOptions.clientProperties as Record<string, unknown> | undefined),
      },
    },
    reconnectDelay,
    maxReconnectDelay: Math.max(reconnectDelay, maxReconnectDelay),
    queueExpires,
    queueMaxLength,
    streamSegmentBytes,
    streamMaxBytes,
    streamPrefetch,
  };
}

/** The NATS client packages the module can run on. */
export type NatsClientName = 'nats' | '@nats-io/transport-node';

const NATS_CLIENTS: readonly NatsClientName[] = ['@nats-io/transport-node', 'nats'];

export interface NatsTransportOptions {
  /**
   * Which NATS client to use. Default: the 3.x client (`@nats-io/transport-node`, plus
   * `@nats-io/jetstream` for `delivery: 'recoverable'`) when installed, else `nats` 2.x.
   * `'nats'` forces the 2.x client even when 3.x is installed; `'@nats-io/transport-node'`
   * requires the 3.x client (boot fails when it is missing).
   */
  client?: NatsClientName;
  /**
   * nats.js `ConnectionOptions` (user, pass, token, authenticator, tls, name, servers, pingInterval…),
   * merged over the uri: they win over its credentials, and `servers` are added to its servers. The
   * module's defaults, which these replace: `maxReconnectAttempts: -1` (never give up),
   * `reconnectTimeWait: 250`, `reconnectJitter: 250` (`reconnectJitterTLS: 750`): each reconnection
   * attempt within a second of the last, `waitOnFirstConnect: true`.
   */
  connectionOptions?: Record<string, unknown>;
  /**
   * After a reconnect, how long (ms) the transport stays `reconnecting` before it reports `ready`
   * and the events kept during the outage go out. NATS delivers a message only to subscriptions
   * live at that moment: after a broker restart the delay lets the other instances, which lost
   * their connection at the same time, subscribe again first. Default: `reconnectTimeWait` plus
   * the largest jitter (500 ms with the defaults, 1000 ms with TLS). 0 reports `ready` as soon as the server has
   * the subscription. Broadcast delivery only: a recoverable instance reads the stream from where
   * it stopped, so it reports `ready` as soon as it reads again.
   */
  resumeDelay?: number;
  /**
   * `delivery: 'recoverable'`: how many servers keep a copy of the JetStream stream (its
   * `num_replicas`). Default 1, what a single server can do; 3 on a cluster of 3 or more servers
   * keeps the log through the loss of one. Used when the stream is created or its settings change.
   */
  streamReplicas?: number;
}

export interface NatsSettings {
  /** undefined: the 3.x client when installed, else 2.x. */
  client?: NatsClientName;
  /** The module's defaults with the user's connection options over them. */
  connectionOptions: Record<string, unknown>;
  resumeDelay: number;
  streamReplicas: number;
}

/** JetStream keeps at most 5 copies of a stream. */
const MAX_STREAM_REPLICAS = 5;

export function resolveNatsSettings(
  given: NatsTransportOptions | undefined,
  uri: string | undefined,
): NatsSettings {
  const nats = objectOption('nats', given, 'an object of NATS settings');
  const supplied = objectOption(
    'nats.connectionOptions',
    nats.connectionOptions,
    'an object of nats.js ConnectionOptions',
  );
  if (supplied.port !== undefined && uri !== undefined) {
    fail(
      'nats.connectionOptions.port',
      'left out when the uri names the server (put the port in the uri)',
      supplied.port,
    );
  }
  const connectionOptions: Record<string, unknown> = {
    maxReconnectAttempts: -1,
    // A server that comes back is dialed again within 250-500 ms, and the events kept meanwhile go
    // out after resumeDelay (the same bound): the first event is through within about a second.
    reconnectTimeWait: 250,
    reconnectJitter: 250,
    // A TLS handshake costs the server more, so a fleet spreads out further (still within a second).
    reconnectJitterTLS: 750,
    // Boot must not fail when NATS is down: nats.js then keeps dialing until a server answers.
    waitOnFirstConnect: true,
    ...supplied,
  };
  const client = nats.client as NatsClientName | undefined;
  if (client !== undefined && !NATS_CLIENTS.includes(client)) {
    fail('nats.client', `one of ${NATS_CLIENTS.map((c) => `'${c}'`).join(', ')}`, client);
  }
  const wait = Number(connectionOptions.reconnectTimeWait) || 0;
  const tls = Boolean(connectionOptions.tls) || /^tls:\/\//i.test(uri ?? '');
  const jitter =
    Number(tls ? connectionOptions.reconnectJitterTLS : connectionOptions.reconnectJitter) || 0;
  const resumeDelay = numberOption('nats.resumeDelay', nats.resumeDelay, wait + jitter, {
    allowZero: true,
  });
  const streamReplicas = numberOption('nats.streamReplicas', nats.streamReplicas, 1, {
    integer: true,
  });
  if (streamReplicas > MAX_STREAM_REPLICAS) {
    fail('nats.streamReplicas', `an integer from 1 to ${MAX_STREAM_REPLICAS}`, streamReplicas);
  }
  return { client, connectionOptions, resumeDelay, streamReplicas };
}
