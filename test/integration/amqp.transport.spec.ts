import type * as Amqplib from 'amqplib';
import type * as Net from 'node:net';
import { dirname, join } from 'node:path';
import {
  AmqpTransport,
  FeathersSyncConfigError,
  type FeathersSyncOptions,
  type SyncLogger,
  type TransportStatus,
} from '../../src';
import { BROKERS, describeWithBroker, uniqueKey, freePort } from '../support/brokers';
import { sleep, waitFor } from '../support/feathers-app';
import { openFaultBroker, type FaultBroker } from '../support/faults';
import { transportContext } from '../support/transport-context';

// The very modules amqplib uses (not import-star copies), so that spies see its calls. Its
// package exports no subpaths: the classes behind its channels come by file.
const amqplib = jest.requireActual<typeof Amqplib>('amqplib');
const net = jest.requireActual<typeof Net>('node:net');
const { Channel, ChannelModel } = jest.requireActual<{
  Channel: { prototype: Amqplib.Channel };
  ChannelModel: { prototype: Amqplib.ChannelModel };
}>(join(dirname(require.resolve('amqplib')), 'lib', 'channel_model.js'));

/** The AMQP transport on its own, against the shared RabbitMQ: what the shared suites cannot see. */

const ignore = (): void => undefined;
const BROKER_PORT = Number(new URL(BROKERS.amqp).port || 5672);
const SILENT: SyncLogger = { log: ignore, warn: ignore, error: ignore, debug: ignore };

interface Harness {
  transport: AmqpTransport;
  received: string[];
  statuses: Array<{ status: TransportStatus; error?: Error }>;
  /** Every log line, prefixed with its level (`warn: …`). */
  lines: string[];
  status(): TransportStatus | undefined;
}

const opened: AmqpTransport[] = [];
/** Exchanges the tests made RabbitMQ create (non-durable exchanges stay until a broker restart). */
const exchanges = new Set<string>();

function amqpTransport(key: string, options: Partial<FeathersSyncOptions>, logger: SyncLogger) {
  const transport = new AmqpTransport(
    transportContext('amqp', { uri: BROKERS.amqp, key, ...options }, logger),
  );
  opened.push(transport);
  exchanges.add(key);
  return transport;
}

async function openTransport(
  key: string,
  options: Partial<FeathersSyncOptions> = {},
  uri: string = BROKERS.amqp,
): Promise<Harness> {
  const lines: string[] = [];
  const at = (level: string) => (line: string) => lines.push(`${level}: ${line}`);
  const transport = amqpTransport(
    key,
    { ...options, uri },
    { log: at('log'), warn: at('warn'), error: at('error'), debug: at('debug') },
  );
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

/** The statuses reported since `from` (an index into `statuses`). */
function statusesSince(harness: Harness, from: number): TransportStatus[] {
  return harness.statuses.slice(from).map((s) => s.status);
}

/** A connection of the test's own (a peer, an admin): not named like the ones under fault. */
async function openAdmin(): Promise<{
  connection: Amqplib.ChannelModel;
  channel: Amqplib.Channel;
}> {
  const connection = await amqplib.connect(BROKERS.amqp);
  connection.on('error', ignore);
  const channel = await connection.createChannel();
  channel.on('error', ignore);
  return { connection, channel };
}

/** When amqplib opens a TCP socket to `port`: one per connection attempt, whoever schedules it. */
function watchSockets(port: number): number[] {
  const times: number[] = [];
  const connect = net.connect.bind(net) as (...args: unknown[]) => Net.Socket;
  jest.spyOn(net, 'connect').mockImplementation((...args: unknown[]) => {
    if (Number((args[0] as { port?: unknown }).port) === port) times.push(Date.now());
    return connect(...args);
  });
  return times;
}

/** What amqplib's channels were asked to declare for `key`, and on which channels and connections. */
function recordTopology(key: string) {
  const ours = (queue: unknown): queue is string =>
    typeof queue === 'string' && queue.startsWith(`${key}.`);
  const createChannel = jest.spyOn(ChannelModel.prototype, 'createChannel');
  const assertExchange = jest.spyOn(Channel.prototype, 'assertExchange');
  const assertQueue = jest.spyOn(Channel.prototype, 'assertQueue');
  const bindQueue = jest.spyOn(Channel.prototype, 'bindQueue');
  const consume = jest.spyOn(Channel.prototype, 'consume');
  const consumers = () =>
    consume.mock.contexts.filter((_, i) => ours(consume.mock.calls[i][0])) as Amqplib.Channel[];
  return {
    counts: () => ({
      assertExchange: assertExchange.mock.calls.filter(([name]) => name === key).length,
      assertQueue: assertQueue.mock.calls.filter(([queue]) => ours(queue)).length,
      bindQueue: bindQueue.mock.calls.filter(([queue, source]) => ours(queue) && source === key)
        .length,
      consume: consumers().length,
    }),
    /** Queue names asked for, in order. */
    queueNames: () => assertQueue.mock.calls.map(([queue]) => queue).filter(ours),
    /** The channels that started a consumer on one of the key's queues, in order. */
    consumers,
    /** The connections of those channels, in order. */
    connections: () => {
      const models = createChannel.mock.contexts as Amqplib.ChannelModel[];
      return consumers().map((channel) => {
        const inner = (channel as unknown as { connection: unknown }).connection;
        return models.find((model) => (model.connection as unknown) === inner)!;
      });
    },
  };
}

async function deleteExchanges(names: string[]): Promise<void> {
  if (names.length === 0) return;
  try {
    const { connection } = await openAdmin();
    try {
      for (const name of names) {
        const channel = await connection.createChannel();
        channel.on('error', ignore);
        await channel.deleteExchange(name).catch(ignore);
        await channel.close().catch(ignore);
      }
    } finally {
      await connection.close();
    }
  } catch {
    // RabbitMQ unreachable: those tests created nothing.
  }
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((transport) => transport.close()));
  jest.restoreAllMocks();
  const names = [...exchanges];
  exchanges.clear();
  await deleteExchanges(names);
});

describe('AmqpTransport options', () => {
  const context = (amqp: FeathersSyncOptions['amqp']) =>
    transportContext('amqp', { uri: BROKERS.amqp, key: 'k', amqp }, SILENT);

  it('refuses nonsense delays, expiries and socket options when options resolve (boot)', () => {
    expect(() => context({ reconnectDelay: 0 })).toThrow(FeathersSyncConfigError);
    expect(() => context({ maxReconnectDelay: -1 })).toThrow(/amqp\.maxReconnectDelay/);
    expect(() => context({ queueExpires: 1.5 })).toThrow(/amqp\.queueExpires/);
    expect(() => context({ socketOptions: 'tls' as never })).toThrow(/amqp\.socketOptions/);
    expect(() => new AmqpTransport(context({ queueExpires: 0, queueMaxLength: 10 }))).not.toThrow();
  });
});

describe('AmqpTransport while RabbitMQ is unreachable', () => {
  it('stays connecting, retries with backoff, never logs the password, and closes at once', async () => {
    const port = await freePort();
    const attempts = watchSockets(port);
    const harness = await openTransport(
      uniqueKey('down'),
      { amqp: { reconnectDelay: 50, maxReconnectDelay: 200 } },
      `amqp://guest:s3cr3t-pw@127.0.0.1:${port}`,
    );
    await waitFor(() => attempts.length >= 6, 'six connection attempts');
    // 50, 100, then 167 ms apart (±20% jitter, the cap 200 ms includes it): backoff, not a busy loop.
    const gaps = attempts.slice(1).map((at, i) => at - attempts[i]);
    expect(gaps[0]).toBeGreaterThanOrEqual(40 - 2);
    expect(gaps[1]).toBeGreaterThanOrEqual(80 - 2);
    for (const gap of gaps.slice(2)) expect(gap).toBeGreaterThanOrEqual(133 - 2);
    expect(new Set(harness.statuses.map((s) => s.status))).toEqual(new Set(['connecting']));
    expect(harness.statuses.some((s) => /ECONNREFUSED/.test(String(s.error?.message)))).toBe(true);
    // Every failed attempt is logged: the first at warn, the same failure again at debug.
    const failures = () => harness.lines.filter((line) => line.includes('Could not connect'));
    await waitFor(() => failures().length === attempts.length, 'every attempt logged');
    const warnings = failures().filter((line) => line.startsWith('warn: '));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`127.0.0.1:${port}`);

    const started = Date.now();
    await harness.transport.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(harness.status()).toBe('closed');
    const made = attempts.length;
    await sleep(400); // twice the longest delay: an attempt would have come
    expect(attempts).toHaveLength(made);
    const everything = [
      ...harness.lines,
      ...harness.statuses.map((s) => String(s.error?.message)),
    ].join('\n');
    expect(everything).not.toContain('s3cr3t-pw');
    await expect(harness.transport.publish('late')).rejects.toThrow(/closed/);
  });

  it('close() is idempotent, also before open()', async () => {
    const transport = amqpTransport('never-opened', {}, SILENT);
    exchanges.delete('never-opened');
    const first = transport.close();
    expect(transport.close()).toBe(first);
    await first;
    await transport.open({ message: () => undefined, status: () => undefined });
    await transport.close();
  });

  it('close() during a connection attempt returns at once; the attempt ends by its timeout and none follows', async () => {
    // A host that accepts TCP and never answers the AMQP handshake.
    const sockets: Array<{ opened: number; closed?: number }> = [];
    const server = net.createServer((socket) => {
      const entry: { opened: number; closed?: number } = { opened: Date.now() };
      sockets.push(entry);
      socket.on('error', ignore);
      // Reads (and drops) what comes, so that it sees the client's end.
      socket.resume();
      socket.on('close', () => (entry.closed = Date.now()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as Net.AddressInfo;
      const timeout = 1000;
      const harness = await openTransport(
        uniqueKey('silent'),
        { amqp: { reconnectDelay: 50, maxReconnectDelay: 50, socketOptions: { timeout } } },
        `amqp://guest:guest@127.0.0.1:${port}`,
      );
      await waitFor(() => sockets.length === 1, 'the attempt to reach the silent host');
      const started = Date.now();
      await harness.transport.close();
      expect(Date.now() - started).toBeLessThan(timeout / 2);
      expect(harness.status()).toBe('closed');
      await waitFor(() => sockets[0].closed !== undefined, 'the socket closed', timeout + 5000);
      expect(sockets[0].closed! - sockets[0].opened).toBeLessThan(timeout + 500);
      await sleep(300); // six times the reconnect delay: an attempt would have come
      expect(sockets).toHaveLength(1);
      expect(harness.lines.filter((line) => line.includes('Could not connect'))).toEqual([]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
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
    const { connection: admin, channel } = await openAdmin();
    try {
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
    // As the core does: at most 4096 unsettled publishes, the oldest awaited past that.
    const unsettled: Array<Promise<unknown>> = [];
    const settled: number[] = [];
    let pushedBack = 0;
    for (let i = 0; i < total; i++) {
      while (unsettled.length >= 4096) await unsettled.shift();
      const result = sender.transport.publish(`${i}:${body}`);
      if (result === undefined) continue;
      pushedBack++;
      unsettled.push(result.then(() => settled.push(i)));
    }
    // amqplib pushed back (its channel buffer has a high-water mark) and the transport said so.
    expect(pushedBack).toBeGreaterThan(0);
    await sender.transport.close();
    // Every promise resolves (none rejects): all it accepted reached RabbitMQ, in call order.
    await Promise.all(unsettled);
    expect(settled).toHaveLength(pushedBack);
    expect(settled).toEqual([...settled].sort((a, b) => a - b));
    await waitFor(() => receiver.received.length >= total, 'every message', 30_000);
    await sleep(200);
    expect(receiver.received).toHaveLength(total);
    const order = receiver.received.map((m) => Number(m.slice(0, m.indexOf(':'))));
    expect(order).toEqual(Array.from({ length: total }, (_, i) => i));
  });

  it('delivers binary payloads byte for byte', async () => {
    const key = uniqueKey('bytes');
    const bytes: Buffer[] = [];
    const transport = amqpTransport(key, {}, SILENT);
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

  describe('when its connection or channel fails', () => {
    let fault: FaultBroker;
    beforeAll(async () => {
      fault = await openFaultBroker('amqp');
    });
    afterAll(() => fault?.close());

    /** Options that name the connection for the fault broker, with quick reconnects. */
    const faulty = (amqp: FeathersSyncOptions['amqp'] = {}): Partial<FeathersSyncOptions> => ({
      ...fault.options,
      amqp: { ...fault.options.amqp, reconnectDelay: 100, maxReconnectDelay: 400, ...amqp },
    });

    it('declares the topology once per reconnect, with one consumer and no listeners piling up', async () => {
      const key = uniqueKey('redeclare');
      const topology = recordTopology(key);
      const sockets = watchSockets(BROKER_PORT);
      const harness = await openTransport(key, faulty());
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
      expect(topology.counts()).toEqual({
        assertExchange: rounds + 1,
        assertQueue: rounds + 1,
        bindQueue: rounds + 1,
        consume: rounds + 1,
      });
      // One connection attempt per reconnect, each with one channel.
      expect(sockets).toHaveLength(rounds + 1);
      const connections = topology.connections();
      const channels = topology.consumers();
      expect(new Set(connections).size).toBe(rounds + 1);
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
      const queues = topology.queueNames();
      expect(new Set(queues).size).toBe(1);
      expect(queues[0].startsWith(`${key}.`)).toBe(true);
      expect(harness.statuses.filter((s) => s.status === 'reconnecting').length).toBe(rounds);
    });

    /** Each fault twice in a row, the transport recovering through amqplib's recovery alone. */
    const faults: Array<{
      name: string;
      reason: RegExp;
      inject(target: { queue: string; channel: Amqplib.Channel; admin: Amqplib.Channel }): unknown;
    }> = [
      {
        name: 'RabbitMQ closes its connection (rabbitmqctl close_connection)',
        reason: /CONNECTION_FORCED/,
        inject: () => fault.drop(),
      },
      {
        name: 'an admin deletes its queue (RabbitMQ cancels the consumer)',
        reason: /cancelled the consumer/,
        inject: ({ admin, queue }) => admin.deleteQueue(queue),
      },
      {
        name: 'a channel error (406 PRECONDITION_FAILED on its live channel)',
        reason: /406.*PRECONDITION_FAILED/,
        // Acknowledging a delivery tag the channel never had: RabbitMQ closes the channel alone.
        inject: ({ channel }) =>
          channel.ack({ fields: { deliveryTag: 424_242 } } as Amqplib.Message),
      },
    ];

    it.each(faults)('recovers twice in a row when $name', async ({ reason, inject }) => {
      const key = uniqueKey('recover');
      const { connection: admin, channel: peer } = await openAdmin();
      try {
        const topology = recordTopology(key);
        const sockets = watchSockets(BROKER_PORT);
        const connect = jest.spyOn(amqplib, 'connect');
        const harness = await openTransport(key, faulty());
        await ready(harness);
        // The transport asked amqplib for a recovering connection once; listen to it as well.
        expect(connect).toHaveBeenCalledTimes(1);
        const recovering = (await connect.mock.results[0].value) as Amqplib.RecoveringChannelModel;
        const library: string[] = [];
        recovering.on('reconnect-scheduled', () => library.push('reconnect-scheduled'));
        recovering.on('connect', () => library.push('connect'));

        for (const round of [1, 2]) {
          const from = harness.statuses.length;
          const [queue] = topology.queueNames();
          await inject({ queue, channel: topology.consumers().at(-1)!, admin: peer });
          await waitFor(
            () => statusesSince(harness, from).includes('ready'),
            `ready after fault ${round}`,
            15_000,
          );
          expect(statusesSince(harness, from)).toEqual(['reconnecting', 'ready']);
          expect(harness.statuses[from].error?.message).toMatch(reason);
          expect(await fault.subscriberCount(key)).toBe(1);
          peer.publish(key, '', Buffer.from(`after ${round}`));
          await waitFor(() => harness.received.includes(`after ${round}`), `message ${round}`);
        }
        expect(harness.received).toEqual(['after 1', 'after 2']);
        // amqplib's recovery scheduled and made each reconnection: the transport never connected
        // again itself, and no attempt was made beyond one per fault.
        expect(connect).toHaveBeenCalledTimes(1);
        expect(library).toEqual([
          'reconnect-scheduled',
          'connect',
          'reconnect-scheduled',
          'connect',
        ]);
        expect(sockets).toHaveLength(3);
        // The setup it runs declared the whole topology on each connection, on the same queue.
        expect(topology.counts()).toEqual({
          assertExchange: 3,
          assertQueue: 3,
          bindQueue: 3,
          consume: 3,
        });
        expect(new Set(topology.queueNames()).size).toBe(1);
        const live = topology.consumers().at(-1)!;
        expect(live.listenerCount('drain')).toBe(1);
        expect(live.listenerCount('error')).toBe(1);
      } finally {
        await admin.close();
      }
    });

    it('gets what a peer published while it was disconnected (its queue outlives the drop)', async () => {
      const key = uniqueKey('gap');
      const peer = await openTransport(key);
      const cut = await openTransport(
        key,
        faulty({ reconnectDelay: 1000, maxReconnectDelay: 1000 }),
      );
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
      const topology = recordTopology(key);
      const cut = await openTransport(
        key,
        faulty({ reconnectDelay: 1500, maxReconnectDelay: 1500 }),
      );
      await ready(cut);
      const [oldQueue] = topology.queueNames();
      const peer = await openTransport(key);
      await ready(peer);
      await fault.drop();
      // Stands for a connection of the instance that RabbitMQ has not yet seen die.
      const { connection: zombie, channel } = await openAdmin();
      try {
        await channel.consume(oldQueue, () => undefined, { noAck: true, exclusive: true });
        await waitFor(
          () => cut.lines.some((line) => line.includes('exclusive use')),
          'the refused consumer logged',
          15_000,
        );
        await ready(cut);
        const newQueue = topology.queueNames().at(-1);
        expect(newQueue).not.toBe(oldQueue);
        expect(newQueue?.startsWith(`${key}.`)).toBe(true);
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
      const cut = await openTransport(
        key,
        faulty({ queueExpires: 0, reconnectDelay: 1000, maxReconnectDelay: 5000 }),
      );
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
