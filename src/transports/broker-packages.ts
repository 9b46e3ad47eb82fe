import type * as Amqplib from 'amqplib';
import type * as Ioredis from 'ioredis';
import type * as NatsJetStream from '@nats-io/jetstream';
import type * as NatsTransportNode from '@nats-io/transport-node';
import type * as Nats from 'nats';
import { FeathersSyncMissingPackageError } from '../errors/sync.errors.js';
import { messages } from '../errors/sync.messages.js';

/**
 * The broker clients, each loaded once and only when its scheme is used, so an app on Redis
 * installs ioredis alone. Each loader is a literal `import('pkg')` so bundlers and both module
 * systems see the dependency. The factory calls them at boot (a missing package fails boot); the
 * transports call them again and get the same module.
 */

let ioredis: Promise<typeof Ioredis> | undefined;
let amqplib: Promise<typeof Amqplib> | undefined;
let nats: Promise<typeof Nats> | undefined;
let natsTransportNode: Promise<typeof NatsTransportNode> | undefined;
let natsJetStream: Promise<typeof NatsJetStream> | undefined;

export function loadIoredis(): Promise<typeof Ioredis> {
  return (ioredis ??= load('ioredis', 'redis://', () => import('ioredis')));
}

export function loadAmqplib(): Promise<typeof Amqplib> {
  return (amqplib ??= load('amqplib', 'amqp://', () => import('amqplib')));
}

/** The NATS 2.x client. Which NATS client a transport uses is nats-client.ts's choice. */
export function loadNats(): Promise<typeof Nats> {
  return (nats ??= load('nats', 'nats://', () => import('nats')));
}

/** The NATS 3.x client (core NATS); JetStream comes in its own package, below. */
export function loadNatsTransportNode(): Promise<typeof NatsTransportNode> {
  return (natsTransportNode ??= load(
    '@nats-io/transport-node',
    'nats://',
    () => import('@nats-io/transport-node'),
  ));
}

export function loadNatsJetStream(): Promise<typeof NatsJetStream> {
  return (natsJetStream ??= load(
    '@nats-io/jetstream',
    'nats://',
    () => import('@nats-io/jetstream'),
  ));
}

async function load<T>(name: string, scheme: string, loader: () => Promise<T>): Promise<T> {
  try {
    return interopDefault(await loader());
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (
      (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') &&
      String((error as Error).message).includes(name)
    ) {
      throw new FeathersSyncMissingPackageError(messages.missingPackage(name, scheme));
    }
    throw error;
  }
}

/** ES module namespaces of CommonJS packages put the exports under `default`. */
export function interopDefault<T>(mod: T | { default: T }): T {
  const withDefault = mod as { default?: T };
  return withDefault.default !== undefined && withDefault.default !== null
    ? withDefault.default
    : (mod as T);
}
