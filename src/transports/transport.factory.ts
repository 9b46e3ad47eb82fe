import { FeathersSyncConfigError } from '../errors/sync.errors.js';
import { messages } from '../errors/sync.messages.js';
import type { ResolvedSyncOptions } from '../options/resolve-options.js';
import type { Retention } from '../options/transport-options.js';
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
}

const redis: SchemeEntry = {
  create: (context, { redis }, retention) =>
    context.delivery === 'recoverable'
      ? new RedisStreamTransport({ ...context, settings: { ...redis, retention } })
      : new RedisTransport({ ...context, settings: redis }),
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
  load: (delivery, { nats }) => loadNatsClient(nats.client, delivery),
};

/**
 * The one place that maps a uri scheme to a transport. Broker clients are optional peers: only
 * the one the scheme needs is loaded.
 */
const SCHEMES: Record<string, SchemeEntry> = {
  redis,
  rediss: redis,
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
  await entry.load?.(options.delivery, options.transports);
  return entry.create(context, options.transports, options.retention);
}

function schemeOf(uri: string): string {
  const match = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri);
  if (!match)
    throw new FeathersSyncConfigError(messages.invalidUri(redactUri(uri), SUPPORTED_SCHEMES));
  const scheme = match[1].toLowerCase();
  // A NATS uri may list several servers, which `URL` does not parse: its own parser checks it.
  if (scheme === 'nats' || scheme === 'tls') {
    parseNatsUri(uri);
    return scheme;
  }
  try {
    new URL(uri);
  } catch {
    throw new FeathersSyncConfigError(messages.invalidUri(redactUri(uri), SUPPORTED_SCHEMES));
  }
  return scheme;
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
