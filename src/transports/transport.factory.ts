import { FeathersSyncConfigError } from '../errors/sync.errors.js';
import { messages } from '../errors/sync.messages.js';
import type { ResolvedSyncOptions } from '../options/resolve-options.js';
import type { Retention } from '../options/transport-options.js';
import { splitHostList } from '../shared/host-list.js';
import { redactUri } from '../shared/redact.js';
import { AmqpStreamTransport } from './amqp/amqp-stream.transport.js';
import { AmqpTransport } from './amqp/amqp.transport.js';
import { ClusterTransport } from './cluster/cluster.transport.js';
import { MemoryTransport } from './memory/memory.transport.js';
import { NatsJetStreamTransport } from './nats/nats-jetstream.transport.js';
import { NatsTransport } from './nats/nats.transport.js';
import { RedisStreamTransport } from './redis/redis-stream.transport.js';
import { RedisTransport } from './redis/redis.transport.js';
import { loadAmqplib, loadIoredis } from './broker-packages.js';
import { loadNatsClient } from './nats/nats-client.js';
import { parseNatsUri } from './nats/nats-uri.js';
import { shardedPubSub } from './redis/redis.clients.js';
import { parseRedisUri } from './redis/redis-uri.js';
import type { SyncTransport, SyncTransportContext } from './sync-transport.js';

type Transports = ResolvedSyncOptions['transports'];

interface SchemeEntry {
  /** Builds the transport for the delivery mode in the context, with its own settings. */
  create: (
    context: SyncTransportContext<undefined>,
    transports: Transports,
    retention: Retention,
  ) => SyncTransport;
  /** The optional peer package the transport needs, loaded at boot so a missing one fails fast. */
  load?: (delivery: ResolvedSyncOptions['delivery'], transports: Transports) => Promise<unknown>;
  /** Throws a config error when the uri is malformed for this transport. Default: `checkUrl`. */
  check?: (uri: string) => void;
}

const redis: SchemeEntry = {
  // A cluster or sentinel uri is checked host by host, and its error shows the form it expects.
  check: (uri) => {
    if (parseRedisUri(uri).kind === 'server') checkUrl(uri);
  },
  create: (context, { redis }, retention) => {
    if (context.delivery !== 'recoverable')
      return new RedisTransport({ ...context, settings: redis });
    if (shardedPubSub(context.uri, redis)) {
      throw new FeathersSyncConfigError(messages.shardedNotRecoverable());
    }
    return new RedisStreamTransport({ ...context, settings: { ...redis, retention } });
  },
  load: loadIoredis,
};
const amqp: SchemeEntry = {
  create: (context, { amqp }, retention) =>
    context.delivery === 'recoverable'
      ? new AmqpStreamTransport({ ...context, settings: { ...amqp, retention } })
      : new AmqpTransport({ ...context, settings: amqp }),
  load: loadAmqplib,
};

const nats: SchemeEntry = {
  create: (context, { nats }, retention) =>
    context.delivery === 'recoverable'
      ? new NatsJetStreamTransport({ ...context, settings: { ...nats, retention } })
      : new NatsTransport({ ...context, settings: nats }),
  // A NATS uri may list several servers, each with a scheme of its own: its own parser checks it.
  check: (uri) => void parseNatsUri(uri),
  load: (delivery, { nats }) => loadNatsClient(nats.client, delivery),
};

/**
 * The one place that maps a uri scheme to a transport. Broker clients are optional peers: only
 * the one the scheme needs is loaded.
 */
const SCHEMES: Record<string, SchemeEntry> = {
  redis,
  rediss: redis,
  // A Redis Cluster by its seed nodes, a Sentinel group by its sentinels (see redis-uri.ts).
  'redis+cluster': redis,
  'rediss+cluster': redis,
  'redis+sentinel': redis,
  'rediss+sentinel': redis,
  amqp,
  amqps: amqp,
  nats,
  // nats.js / nats.go spell "this server requires TLS" as tls://.
  tls: nats,
  // In one process nothing is ever lost: both modes are the same bus.
  memory: { create: (context) => new MemoryTransport(context) },
  cluster: {
    create: (context) => {
      if (context.delivery === 'recoverable') {
        throw new FeathersSyncConfigError(messages.noDurableLog('cluster://'));
      }
      return new ClusterTransport(context);
    },
  },
};

/** Every scheme the map above knows, for error messages (never a second list to keep in step). */
const SUPPORTED_SCHEMES = Object.keys(SCHEMES).map((scheme) => `${scheme}://`);

export async function createTransport(options: ResolvedSyncOptions): Promise<SyncTransport> {
  const context: SyncTransportContext<undefined> = {
    uri: options.uri,
    key: options.key,
    logger: options.logger,
    closeTimeout: options.closeTimeout,
    delivery: options.delivery,
    subscribe: options.subscribe,
    settings: undefined,
  };
  const custom = options.transport;
  if (custom !== undefined) {
    if (isTransportInstance(custom)) return custom;
    if (typeof custom === 'function') return new custom(context);
    throw new FeathersSyncConfigError(messages.invalidTransport(custom));
  }
  if (options.uri === undefined || options.uri === '') {
    throw new FeathersSyncConfigError(messages.noUriNoTransport());
  }
  const scheme = schemeOf(options.uri);
  const entry = Object.prototype.hasOwnProperty.call(SCHEMES, scheme) ? SCHEMES[scheme] : undefined;
  if (!entry)
    throw new FeathersSyncConfigError(
      messages.unknownScheme(`${scheme}://`, redactUri(options.uri), SUPPORTED_SCHEMES),
    );
  (entry.check ?? checkUrl)(options.uri);
  await entry.load?.(options.delivery, options.transports);
  return entry.create(context, options.transports, options.retention);
}

function schemeOf(uri: string): string {
  const match = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri);
  if (!match)
    throw new FeathersSyncConfigError(messages.invalidUri(redactUri(uri), SUPPORTED_SCHEMES));
  return match[1].toLowerCase();
}

/** A uri `URL` can parse; a list of servers (`h1:p1,h2:p2`) is checked by its first server. */
function checkUrl(uri: string): void {
  try {
    new URL(splitHostList(uri)?.single ?? uri);
  } catch {
    throw new FeathersSyncConfigError(messages.invalidUri(redactUri(uri), SUPPORTED_SCHEMES));
  }
}

function isTransportInstance(value: unknown): value is SyncTransport {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Partial<SyncTransport>;
  return (
    typeof candidate.type === 'string' &&
    typeof candidate.open === 'function' &&
    typeof candidate.publish === 'function' &&
    typeof candidate.close === 'function'
  );
}
