import { FeathersSyncConfigError } from '../errors/sync.errors.js';
import { messages } from '../errors/sync.messages.js';
import { redactUri } from '../core/redact.js';
import type { FeathersSyncOptions } from '../feathers-sync.options.js';
import { loadPackage } from './load-package.js';
import { AmqpTransport } from './amqp/amqp.transport.js';
import { ClusterTransport } from './cluster/cluster.transport.js';
import { MemoryTransport } from './memory/memory.transport.js';
import { NatsTransport } from './nats/nats.transport.js';
import { RedisTransport } from './redis/redis.transport.js';
import type { SyncTransport, SyncTransportClass, SyncTransportContext } from './sync-transport.js';

interface SchemeEntry {
  transport: SyncTransportClass;
  /** The optional peer package the transport needs, checked at boot so a missing one fails fast. */
  peer?: { name: string; load: () => Promise<unknown> };
}

const ioredis = { name: 'ioredis', load: () => import('ioredis') };
const amqplib = { name: 'amqplib', load: () => import('amqplib') };
const nats = { name: 'nats', load: () => import('nats') };

/**
 * The one place that maps a uri scheme to a transport class. Broker clients are optional peers:
 * only the one the scheme needs is loaded.
 */
const SCHEMES: Record<string, SchemeEntry> = {
  redis: { transport: RedisTransport, peer: ioredis },
  rediss: { transport: RedisTransport, peer: ioredis },
  amqp: { transport: AmqpTransport, peer: amqplib },
  amqps: { transport: AmqpTransport, peer: amqplib },
  nats: { transport: NatsTransport, peer: nats },
  memory: { transport: MemoryTransport },
  cluster: { transport: ClusterTransport },
};

/** Every scheme the map above knows, for error messages (never a second list to keep in step). */
const SUPPORTED_SCHEMES = Object.keys(SCHEMES).map((scheme) => `${scheme}://`);

export async function createTransport(
  options: FeathersSyncOptions,
  context: Omit<SyncTransportContext, 'uri' | 'options'>,
): Promise<SyncTransport> {
  const full: SyncTransportContext = { ...context, uri: options.uri, options };
  const custom = options.transport;
  if (custom !== undefined) {
    if (isTransportInstance(custom)) return custom;
    if (typeof custom === 'function') return new custom(full);
    throw new FeathersSyncConfigError(messages.invalidTransport(custom));
  }
  if (options.uri === undefined || options.uri === '') {
    throw new FeathersSyncConfigError(messages.noUriNoTransport());
  }
  if (typeof options.uri !== 'string') {
    throw new FeathersSyncConfigError(messages.invalidOption('uri', 'a string', options.uri));
  }
  const scheme = schemeOf(options.uri);
  const entry = Object.prototype.hasOwnProperty.call(SCHEMES, scheme) ? SCHEMES[scheme] : undefined;
  if (!entry)
    throw new FeathersSyncConfigError(
      messages.unknownScheme(`${scheme}://`, redactUri(options.uri), SUPPORTED_SCHEMES),
    );
  if (entry.peer) await loadPackage(entry.peer.name, `${scheme}://`, entry.peer.load);
  return new entry.transport(full);
}

function schemeOf(uri: string): string {
  const match = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri);
  if (!match)
    throw new FeathersSyncConfigError(messages.invalidUri(redactUri(uri), SUPPORTED_SCHEMES));
  try {
    new URL(uri);
  } catch {
    throw new FeathersSyncConfigError(messages.invalidUri(redactUri(uri), SUPPORTED_SCHEMES));
  }
  return match[1].toLowerCase();
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
