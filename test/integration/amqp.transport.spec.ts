import * as amqplibModule from 'amqplib';
import {
  AmqpTransport,
  FeathersSyncConfigError,
  type FeathersSyncOptions,
  type TransportStatus,
} from '../../src';
import { BROKERS, describeWithBroker, uniqueKey, freePort } from '../support/brokers';
import { sleep, waitFor } from '../support/feathers-app';
import { openFaultBroker, type FaultBroker } from '../support/faults';
import { interopDefault } from '../../src/transports/load-package';

// The module object itself (not an import-star copy), so that spies reach the transport's import.
const amqplib = interopDefault(amqplibModule);

/** The AMQP transport on its own, against the shared RabbitMQ: what the shared suites cannot see. */

interface Harness {
  transport: AmqpTransport;
  received: string[];
  statuses: Array<{ status: TransportStatus; error?: Error }>;
  /** Every log line, prefixed with its level (`warn: …`). */
  lines: string[];
  status(): TransportStatus | undefined;
}

const opened: AmqpTransport[] = [];

async function openTransport(
  key: string,
  options: Partial<FeathersSyncOptions> = {},
  uri: string = BROKERS.amqp,
): Promise<Harness> {
  const lines: string[] = [];
  const at = (level: string) => (line: string) => lines.push(`${level}: ${line}`);
  const transport = new AmqpTransport({
    uri,
    key,
    options: { uri, key, ...options },
    logger: { log: at('log'), warn: at('warn'), error: at('error'), debug: at('debug') },
  });
  opened.push(transport);
  const received: string[] = [];
  const statuses: Harness['statuses'] = [];
  await transport.open({
    message: (payload) => received.push(Buffer.from(payload as Uint8Array).toString()),
    status: (status, error) => statuses.push({ status, error }),
  });
  return { transport, received, statuses, lines, status: () => statuses.at(-1)?.status };
}

/** Publishes while open: the transport takes it synchronously (no promise to lose a failure in). */
function send(transport: AmqpTransport, payload: string | Uint8Array): void {
  expect(transport.publish(payload)).toBeUndefined();
}

async function ready(harness: Harness): Promise<void> {
  await waitFor(() => harness.status() === 'ready', 'the transport to be ready', 15_000);
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((transport) => transport.close()));
  jest.restoreAllMocks();
});

describe('AmqpTransport options', () => {
  const context = (amqp: FeathersSyncOptions['amqp']) => ({
    uri: BROKERS.amqp,
    key: 'k',
    options: { amqp },
    logger: console,
  });

  it('refuses nonsense delays, expiries and socket options at construction (boot)', () => {
    expect(() => new AmqpTransport(context({ reconnectDelay: 0 }))).toThrow(
      FeathersSyncConfigError,
    );
    expect(() => new AmqpTransport(context({ maxReconnectDelay: -1 }))).toThrow(
      /amqp\.maxReconnectDelay/,
    );
    expect(() => new AmqpTransport(context({ queueExpires: 1.5 }))).toThrow(/amqp\.queueExpires/);
    expect(() => new AmqpTransport(context({ socketOptions: 'tls' as never }))).toThrow(
      /amqp\.socketOptions/,
    );
    expect(() => new AmqpTransport(context({ queueExpires: 0, queueMaxLength: 10 }))).not.toThrow();
  });
});

describe('AmqpTransport while RabbitMQ is unreachable', () => {
  it('stays connecting, retries with backoff, never logs the password, and closes at once', async () => {
    const port = await freePort();
    const connect = jest.spyOn(amqplib, 'connect');
    const harness = await openTransport(
      uniqueKey('down'),
      { amqp: { reconnectDelay: 50, maxReconnectDelay: 200 } },
      `amqp://guest:s3cr3t-pw@127.0.0.1:${port}`,
    );
    await sleep(1200);
    // 50, 100, 200, 200… ms apart (minus jitter): several attempts, not a busy loop.
    expect(connect.mock.calls.length).toBeGreaterThanOrEqual(4);
    expect(connect.mock.calls.length).toBeLessThan(15);
    expect(new Set(harness.statuses.map((s) => s.status))).toEqual(new Set(['connecting']));
    expect(harness.statuses.some((s) => /ECONNREFUSED/.test(String(s.error?.message)))).toBe(true);
    // The same failure is logged once, not once per attempt.
    const warnings = harness.lines.filter((line) => line.startsWith('warn: Could not connect'));
    expect(warnings).toHaveLength(1);
    expect(harness.lines.filter((line) => line.startsWith('debug: Could not connect')).length).toBe(
      connect.mock.calls.length - 1,
    );
    expect(warnings[0]).toContain(`127.0.0.1:${port}`);

    send(harness.transport, 'kept');
    const started = Date.now();
    await harness.transport.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(harness.status()).toBe('closed');
    const attempts = connect.mock.calls.length;
    await sleep(400);
    expect(connect.mock.calls.length).toBe(attempts);
    const everything = [
      ...harness.lines,
      ...harness.statuses.map((s) => String(s.error?.message)),
    ].join('\n');
    expect(everything).not.toContain('s3cr3t-pw');
    expect(harness.lines.some((line) => line.includes('never sent'))).toBe(true);
    await expect(harness.transport.publish('late')).rejects.toThrow(/closed/);
  });

  it('close() is idempotent, also before open()', async () => {
    const transport = new AmqpTransport({
      uri: BROKERS.amqp,
      key: 'never-opened',
      options: {},
      logger: console,
    });
    const first = transport.close();
    expect(transport.close()).toBe(first);
    await first;
    await transport.open({ message: () => undefined, status: () => undefined });
    await transport.close();
  });
});

describeWithBroker('amqp', 'AmqpTransport against RabbitMQ', () => {
  it('logs a wrong password with a hint, without the password, and keeps trying', async () => {
    const url = new URL(BROKERS.amqp);
    url.password = 'wr0ng-s3cr3t';
    const harness = await openTransport(
      uniqueKey('auth'),
      { amqp: { reconnectDelay: 100, maxReconnectDelay: 100 } },
      url.toString(),
    );
    await waitFor(
      () => harness.statuses.filter((s) => s.error).length >= 3,
      'three refused attempts',
    );
    expect(harness.status()).toBe('connecting');
    const warning = harness.lines.find((line) => line.startsWith('warn: Could not connect'));
    expect(warning).toMatch(/ACCESS.REFUSED/);
    expect(warning).toMatch(/Check the user and password/);
    const everything = [
      ...harness.lines,
      ...harness.statuses.map((s) => String(s.error?.message)),
    ].join('\n');
    expect(everything).not.toContain('wr0ng-s3cr3t');
  });

  it('declares the exchange exactly as feathers-sync does, and explains a 406 until it is fixed', async () => {
    const key = uniqueKey('406');
    const admin = await amqplib.connect(BROKERS.amqp);
    admin.on('error', () => undefined);
    try {
      const channel = await admin.createChannel();
      channel.on('error', () => undefined);
      // Someone declared the exchange durable: neither feathers-sync nor we can use it.
      await channel.assertExchange(key, 'fanout', { durable: true });
      const harness = await openTransport(key, {
        amqp: { reconnectDelay: 100, maxReconnectDelay: 200 },
      });
      await waitFor(() => harness.lines.some((l) => l.includes('406')), 'the 406 logged');
      const warning = harness.lines.find((line) => line.includes('406'));
      expect(warning).toMatch(/fanout with durable: false/);
      expect(harness.status()).toBe('connecting');
      await channel.deleteExchange(key);
      await ready(harness);
      // Now the declaration feathers-sync makes is accepted as equivalent.
      await channel.assertExchange(key, 'fanout', { durable: false });
      await channel.deleteExchange(key);
      await channel.close();
    } finally {
      await admin.close();
    }
  });

  it('keeps 10,000 messages in order through backpressure, and sends what it accepted before close', async () => {
    const key = uniqueKey('order');
    const receiver = await openTransport(key);
    const sender = await openTransport(key);
    await Promise.all([ready(receiver), ready(sender)]);
    const total = 10_000;
    const body = 'x'.repeat(200);
    for (let i = 0; i < total; i++) send(sender.transport, `${i}:${body}`);
    // amqplib pushed back (its buffer is 1024 frames), so the transport held the rest in order.
    expect((sender.transport as unknown as { direct?: unknown }).direct).toBeUndefined();
    await sender.transport.close();
    await waitFor(() => receiver.received.length >= total, 'every message', 30_000);
    await sleep(200);
    expect(receiver.received).toHaveLength(total);
    const order = receiver.received.map((m) => Number(m.slice(0, m.indexOf(':'))));
    expect(order).toEqual(Array.from({ length: total }, (_, i) => i));
  });

  it('delivers binary payloads byte for byte', async () => {
    const key = uniqueKey('bytes');
    const bytes: Buffer[] = [];
    const transport = new AmqpTransport({
      uri: BROKERS.amqp,
      key,
      options: {},
      logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
    });
    opened.push(transport);
    let isReady = false;
    await transport.open({
      message: (payload) => bytes.push(Buffer.from(payload as Uint8Array)),
      status: (status) => (isReady = status === 'ready'),
    });
    await waitFor(() => isReady, 'ready');
    const payload = Uint8Array.from([0, 255, 1, 254, 0x7b, 0x22]);
    send(transport, payload.subarray(1, 5));
    await waitFor(() => bytes.length === 1, 'the binary message');
    expect([...bytes[0]]).toEqual([255, 1, 254, 0x7b]);
  });

  describe('when its connection is dropped', () => {
    let fault: FaultBroker;
    beforeAll(async () => {
      fault = await openFaultBroker('amqp');
    });
    afterAll(() => fault?.close());

    it('declares the topology once per reconnect, with one consumer and no listeners piling up', async () => {
      const key = uniqueKey('redeclare');
      const channels: amqplibModule.Channel[] = [];
      const connections: amqplibModule.ChannelModel[] = [];
      const queueNames: string[] = [];
      const realConnect = amqplib.connect;
      const calls = { assertExchange: 0, assertQueue: 0, bindQueue: 0, consume: 0 };
      jest.spyOn(amqplib, 'connect').mockImplementation(async (...args: unknown[]) => {
        const connection: amqplibModule.ChannelModel = await (
          realConnect as (...a: unknown[]) => Promise<amqplibModule.ChannelModel>
        )(...args);
        connections.push(connection);
        const createChannel = connection.createChannel.bind(connection);
        connection.createChannel = async (...more) => {
          const channel = await createChannel(...more);
          channels.push(channel);
          for (const name of Object.keys(calls) as Array<keyof typeof calls>) {
            const original = (channel as any)[name].bind(channel);
            (channel as any)[name] = (...a: unknown[]) => {
              calls[name]++;
              if (name === 'assertQueue') queueNames.push(String(a[0]));
              return original(...a);
            };
          }
          return channel;
        };
        return connection;
      });

      const harness = await openTransport(key, {
        ...fault.options,
        amqp: { ...fault.options.amqp, reconnectDelay: 100, maxReconnectDelay: 400 },
      });
      await ready(harness);
      const rounds = 3;
      for (let round = 1; round <= rounds; round++) {
        const readies = harness.statuses.filter((s) => s.status === 'ready').length;
        await fault.drop();
        await waitFor(
          () => harness.statuses.filter((s) => s.status === 'ready').length === readies + 1,
          `ready after drop ${round}`,
          15_000,
        );
        expect(await fault.subscriberCount(key)).toBe(1);
      }
      expect(calls).toEqual({
        assertExchange: rounds + 1,
        assertQueue: rounds + 1,
        bindQueue: rounds + 1,
        consume: rounds + 1,
      });
      expect(connections).toHaveLength(rounds + 1);
      expect(channels).toHaveLength(rounds + 1);
      // Dead objects keep only a silent error listener; the live ones have exactly ours.
      for (const dead of connections.slice(0, -1)) {
        expect(dead.listenerCount('close')).toBe(0);
        expect(dead.listenerCount('blocked')).toBe(0);
        expect(dead.listenerCount('error')).toBe(1);
      }
      for (const dead of channels.slice(0, -1)) {
        expect(dead.listenerCount('drain')).toBe(0);
        expect(dead.listenerCount('error')).toBe(1);
      }
      const live = channels.at(-1)!;
      expect(live.listenerCount('drain')).toBe(1);
      expect(live.listenerCount('error')).toBe(1);
      // The same queue every time: what peers publish during a gap waits in it.
      expect(new Set(queueNames).size).toBe(1);
      expect(queueNames[0].startsWith(`${key}.`)).toBe(true);
      expect(harness.statuses.filter((s) => s.status === 'reconnecting').length).toBe(rounds);
    });

    it('gets what a peer published while it was disconnected (its queue outlives the drop)', async () => {
      const key = uniqueKey('gap');
      const peer = await openTransport(key);
      const cut = await openTransport(key, {
        ...fault.options,
        amqp: { ...fault.options.amqp, reconnectDelay: 1000, maxReconnectDelay: 1000 },
      });
      await Promise.all([ready(peer), ready(cut)]);
      send(peer.transport, 'before');
      await waitFor(() => cut.received.length === 1, 'the first message');
      await fault.drop();
      await waitFor(() => cut.status() === 'reconnecting', 'the cut noticed');
      for (const text of ['gap 1', 'gap 2', 'gap 3']) send(peer.transport, text);
      await waitFor(() => cut.received.length === 4, 'the messages from the gap', 15_000);
      send(peer.transport, 'after');
      await waitFor(() => cut.received.length === 5, 'the message after the gap');
      expect(cut.received).toEqual(['before', 'gap 1', 'gap 2', 'gap 3', 'after']);
      expect(await fault.subscriberCount(key)).toBe(2);
    });

    it('moves to a fresh queue when a consumer RabbitMQ still believes alive holds the old one', async () => {
      const key = uniqueKey('zombie');
      const peer = await openTransport(key);
      const cut = await openTransport(key, {
        ...fault.options,
        amqp: { ...fault.options.amqp, reconnectDelay: 1500, maxReconnectDelay: 1500 },
      });
      await Promise.all([ready(peer), ready(cut)]);
      const oldQueue = (cut.transport as unknown as { queueName: string }).queueName;
      await fault.drop();
      // Stands for a connection of the instance that RabbitMQ has not yet seen die.
      const zombie = await amqplib.connect(BROKERS.amqp);
      zombie.on('error', () => undefined);
      try {
        const channel = await zombie.createChannel();
        channel.on('error', () => undefined);
        await channel.consume(oldQueue, () => undefined, { noAck: true, exclusive: true });
        await waitFor(
          () => cut.lines.some((line) => line.includes('exclusive use')),
          'the refused consumer logged',
          15_000,
        );
        await ready(cut);
        const newQueue = (cut.transport as unknown as { queueName: string }).queueName;
        expect(newQueue).not.toBe(oldQueue);
        send(peer.transport, 'after');
        await waitFor(() => cut.received.includes('after'), 'the message on the fresh queue');
        await channel.deleteQueue(oldQueue);
      } finally {
        await zombie.close();
      }
    });

    it('with queueExpires: 0, uses a server-named queue that goes with the connection', async () => {
      const key = uniqueKey('exclusive');
      const peer = await openTransport(key);
      const cut = await openTransport(key, {
        ...fault.options,
        amqp: { ...fault.options.amqp, queueExpires: 0, reconnectDelay: 1000 },
      });
      await Promise.all([ready(peer), ready(cut)]);
      await fault.drop();
      await waitFor(() => cut.status() === 'reconnecting', 'the cut noticed');
      send(peer.transport, 'lost');
      await ready(cut);
      await waitFor(async () => (await fault.subscriberCount(key)) === 2, 'two consumers');
      send(peer.transport, 'after');
      await waitFor(() => cut.received.length >= 1, 'the message after the gap');
      await sleep(200);
      expect(cut.received).toEqual(['after']);
    });
  });
});
