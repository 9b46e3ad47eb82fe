import 'reflect-metadata';
import { once } from 'node:events';
import { join } from 'node:path';
import { feathers, type Application, type Params } from '@feathersjs/feathers';
import {
  Module,
  type DynamicModule,
  type INestApplicationContext,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { paramsFactory } from './payload.js';
import type { BenchData, InstanceConfig } from './protocol.js';
import { BENCH_OTEL_OPTION } from './telemetry-option.js';

/**
 * One instance of a system under test. `send` is what the sender does per event: a service call
 * for our module and feathers-sync (as an app does it), one publish for the raw client.
 */
export interface BenchSystem {
  send(data: BenchData): Promise<unknown>;
  /** Turns counting of the bytes handed to the broker on or off (and resets the counters). */
  countBytes(on: boolean): void;
  bytes(): { events: number; bytes: number; dataBytes: number };
  /** Extra counters the system exposes (our module's `SyncService.stats()`). */
  stats(): unknown;
  close(): Promise<void>;
}

/** Called on every instance for every event it receives. */
export type Deliver = (data: BenchData) => void;

export async function createSystem(config: InstanceConfig, deliver: Deliver): Promise<BenchSystem> {
  switch (config.system) {
    case 'ours':
      return createOurs(config, deliver);
    case 'feathers-sync':
      return createFeathersSync(config, deliver);
    case 'raw':
      switch (config.broker) {
        case 'redis':
          return createRawRedis(config, deliver);
        case 'amqp':
          return createRawAmqp(config, deliver);
        case 'nats':
          return createRawNats(config, deliver);
      }
  }
  throw new Error(`unknown system ${String(config.system)}`);
}

/** The service every Feathers app of the bench has: an in-memory `create`. */
class MessageService {
  private nextId = 1;
  async create(data: BenchData, _params?: Params): Promise<BenchData> {
    return { ...data, id: this.nextId++ };
  }
}

type BenchApp = Application<{ messages: MessageService }>;

function byteLength(payload: unknown): number {
  if (typeof payload === 'string') return Buffer.byteLength(payload);
  if (payload instanceof Uint8Array) return payload.byteLength;
  return 0;
}

/**
 * Counts what a Feathers app hands to its broker, from the `sync-out` event (emitted by
 * feathers-sync and by our module with each serialized broker message), without touching the
 * serializer. `events` counts the service calls, so a message that carries several events (a
 * batch) is shared between them.
 */
class SyncOutCounter {
  events = 0;
  bytes = 0;
  dataBytes = 0;
  on = false;
  private readonly listener = (payload: unknown) => {
    this.bytes += byteLength(payload);
  };
  constructor(private readonly app: BenchApp) {}
  set(on: boolean): void {
    this.events = 0;
    this.bytes = 0;
    this.dataBytes = 0;
    if (on && !this.on) this.app.on('sync-out', this.listener);
    if (!on && this.on) this.app.removeListener('sync-out', this.listener);
    this.on = on;
  }
}

function feathersSend(
  app: BenchApp,
  counter: SyncOutCounter,
  config: InstanceConfig,
): BenchSystem['send'] {
  const service = app.service('messages');
  const params = paramsFactory(config.params);
  return async (data) => {
    const result = await service.create(data, params());
    if (counter.on) {
      counter.events++;
      counter.dataBytes += Buffer.byteLength(JSON.stringify(result));
    }
    return result;
  };
}

interface SyncServiceLike {
  ready: Promise<void>;
  stats(): unknown;
}

interface SyncPackage {
  FeathersSyncModule: { forRoot(options: Record<string, unknown>): DynamicModule };
  SyncService: Type<SyncServiceLike>;
}

/** Our module, as users run it: a Nest application context that owns a Feathers app. */
async function createOurs(config: InstanceConfig, deliver: Deliver): Promise<BenchSystem> {
  // The `otel` variants: an SDK registered before the module boots (see telemetry-sdk.ts).
  const { [BENCH_OTEL_OPTION]: withSdk, ...oursOptions } = config.oursOptions;
  const telemetry =
    withSdk === 'metrics' || withSdk === 'traces'
      ? (await import('./telemetry-sdk.js')).registerBenchTelemetry(withSdk)
      : undefined;
  const pkg = (await import(join(config.moduleDir, 'index.js'))) as SyncPackage;
  const app: BenchApp = feathers();
  app.use('messages', new MessageService());
  app.service('messages').on('created', (data: BenchData) => deliver(data));

  @Module({
    imports: [
      pkg.FeathersSyncModule.forRoot({
        uri: config.uri,
        key: config.key,
        app,
        logger: false,
        connectTimeout: 15_000,
        ...oursOptions,
      }),
    ],
  })
  class BenchAppModule {}

  const nest: INestApplicationContext = await NestFactory.createApplicationContext(BenchAppModule, {
    logger: false,
  });
  const sync = nest.get(pkg.SyncService);
  try {
    await sync.ready;
  } catch (error) {
    await nest.close().catch(() => undefined);
    throw error;
  }
  const counter = new SyncOutCounter(app);
  return {
    send: feathersSend(app, counter, config),
    countBytes: (on) => counter.set(on),
    bytes: () => ({ events: counter.events, bytes: counter.bytes, dataBytes: counter.dataBytes }),
    stats: () => sync.stats(),
    close: async () => {
      await nest.close();
      await telemetry?.shutdown();
    },
  };
}

interface FeathersSyncCompat {
  ready: Promise<unknown>;
  pub?: { close?: () => Promise<unknown>; quit?: () => Promise<unknown> };
  sub?: { close?: () => Promise<unknown>; quit?: () => Promise<unknown> };
  connection?: { close(): Promise<unknown> };
}

/** feathers-sync 3.x on a plain Feathers app, configured the way its README says. */
async function createFeathersSync(config: InstanceConfig, deliver: Deliver): Promise<BenchSystem> {
  const feathersSync = (await import('feathers-sync')).default as unknown as (
    options: Record<string, unknown>,
  ) => (app: BenchApp) => void;
  const app: BenchApp = feathers();
  app.configure(
    feathersSync({
      uri: config.uri,
      key: config.key,
      // Its NATS adapter connects without the uri unless the servers are given here too.
      ...(config.broker === 'nats' ? { natsConnectionOptions: { servers: [config.uri] } } : {}),
    }),
  );
  // feathers-sync only patches services registered after it is configured.
  app.use('messages', new MessageService());
  app.service('messages').on('created', (data: BenchData) => deliver(data));
  const compat = (app as unknown as { sync: FeathersSyncCompat }).sync;
  const readyValue = await compat.ready;
  const counter = new SyncOutCounter(app);
  return {
    send: feathersSend(app, counter, config),
    countBytes: (on) => counter.set(on),
    bytes: () => ({ events: counter.events, bytes: counter.bytes, dataBytes: counter.dataBytes }),
    stats: () => undefined,
    close: async () => {
      switch (config.broker) {
        case 'redis':
          await Promise.allSettled([closeClient(compat.pub), closeClient(compat.sub)]);
          return;
        case 'amqp':
          await compat.connection?.close();
          return;
        case 'nats':
          await (readyValue as { close(): Promise<void> }).close();
          return;
      }
    },
  };
}

function closeClient(client: FeathersSyncCompat['pub']): Promise<unknown> {
  if (!client) return Promise.resolve();
  if (typeof client.close === 'function') return client.close();
  return client.quit?.() ?? Promise.resolve();
}

/** Counts bytes for the raw clients, which serialize the data themselves. */
class RawCounter {
  events = 0;
  bytes = 0;
  on = false;
  set(on: boolean): void {
    this.events = 0;
    this.bytes = 0;
    this.on = on;
  }
  add(length: number): void {
    if (!this.on) return;
    this.events++;
    this.bytes += length;
  }
  snapshot() {
    // The raw payload is the event's own data: both figures are the same.
    return { events: this.events, bytes: this.bytes, dataBytes: this.bytes };
  }
}

/** ioredis: PUBLISH per event on one connection, SUBSCRIBE on a second one. */
async function createRawRedis(config: InstanceConfig, deliver: Deliver): Promise<BenchSystem> {
  const { Redis } = await import('ioredis');
  const pub = new Redis(config.uri, { lazyConnect: true });
  const sub = new Redis(config.uri, { lazyConnect: true });
  pub.on('error', () => undefined);
  sub.on('error', () => undefined);
  let nextId = 1;
  sub.on('message', (channel: string, message: string) => {
    if (channel === config.key) deliver(JSON.parse(message) as BenchData);
  });
  await Promise.all([pub.connect(), sub.connect()]);
  await sub.subscribe(config.key);
  const counter = new RawCounter();
  return {
    send: (data) => {
      const json = JSON.stringify({ ...data, id: nextId++ });
      if (counter.on) counter.add(Buffer.byteLength(json));
      return pub.publish(config.key, json);
    },
    countBytes: (on) => counter.set(on),
    bytes: () => counter.snapshot(),
    stats: () => undefined,
    close: async () => {
      await Promise.allSettled([sub.quit(), pub.quit()]);
    },
  };
}

/** amqplib: a fanout exchange, one server-named queue per instance, one publish per event. */
async function createRawAmqp(config: InstanceConfig, deliver: Deliver): Promise<BenchSystem> {
  const amqp = await import('amqplib');
  const connection = await amqp.connect(config.uri);
  connection.on('error', () => undefined);
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  await channel.assertExchange(config.key, 'fanout', { durable: false });
  const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
  await channel.bindQueue(queue, config.key, '');
  await channel.consume(
    queue,
    (message) => {
      if (message) deliver(JSON.parse(message.content.toString()) as BenchData);
    },
    { noAck: true },
  );
  const counter = new RawCounter();
  let nextId = 1;
  let drained: Promise<unknown> | undefined;
  return {
    send: async (data) => {
      const bytes = Buffer.from(JSON.stringify({ ...data, id: nextId++ }));
      if (counter.on) counter.add(bytes.byteLength);
      if (!channel.publish(config.key, '', bytes)) {
        drained ??= once(channel, 'drain').finally(() => (drained = undefined));
        await drained;
      }
    },
    countBytes: (on) => counter.set(on),
    bytes: () => counter.snapshot(),
    stats: () => undefined,
    close: async () => {
      await connection.close();
    },
  };
}

/**
 * nats.js 3.x (`@nats-io/transport-node`), the client our module runs on when it is installed:
 * publish and subscribe on one connection.
 */
async function createRawNats(config: InstanceConfig, deliver: Deliver): Promise<BenchSystem> {
  const { connect } = await import('@nats-io/transport-node');
  const connection = await connect({ servers: config.uri });
  const decoder = new TextDecoder();
  connection.subscribe(config.key, {
    callback: (error: Error | null, message: { data: Uint8Array }) => {
      if (!error) deliver(JSON.parse(decoder.decode(message.data)) as BenchData);
    },
  });
  await connection.flush();
  const counter = new RawCounter();
  let nextId = 1;
  return {
    send: (data) => {
      const bytes = Buffer.from(JSON.stringify({ ...data, id: nextId++ }));
      if (counter.on) counter.add(bytes.byteLength);
      connection.publish(config.key, bytes);
      return Promise.resolve();
    },
    countBytes: (on) => counter.set(on),
    bytes: () => counter.snapshot(),
    stats: () => undefined,
    close: () => connection.close(),
  };
}
