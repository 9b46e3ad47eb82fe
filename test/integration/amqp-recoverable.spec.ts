import type * as Amqplib from 'amqplib';
import { rmSync } from 'node:fs';
import type * as Net from 'node:net';
import { dirname, join } from 'node:path';
import { FeathersSyncConfigError, type FeathersSyncOptions, type SyncLogger } from '../../src';
import type { TransportStatus } from '../../src';
import { resolveOptions } from '../../src/options/resolve-options';
import { AmqpStreamTransport } from '../../src/transports/amqp/amqp-stream.transport';
import { StreamReader } from '../../src/transports/amqp/amqp.stream-reader';
import { BROKERS, describeWithBroker, uniqueKey } from '../support/brokers';
import { CutProxy } from '../support/cut-proxy';
import { describeWithBinaries } from '../support/durable';
import { recordEvents, sleep, waitFor } from '../support/feathers-app';
import { closePeer, startFeathersSyncPeer } from '../support/feathers-sync-peer';
import { closeAll, startInstance, type Instance } from '../support/instances';
import { RabbitNode } from '../support/processes/rabbitmq-node';

/**
 * What `delivery: 'recoverable'` over RabbitMQ streams guarantees beyond the suites every broker
 * runs: reading on from its own offset after a reconnect (also before anything arrived), the gap
 * count when retention trimmed past it, bounded buffers for a slow reader, a message RabbitMQ
 * could not route, feathers-sync peers, the boot errors a user can fix, and a clean close.
 */

// The very modules amqplib uses, so that spies see its calls (its package exports no subpaths).
const amqplib = jest.requireActual<typeof Amqplib>('amqplib');
const net = jest.requireActual<typeof Net>('node:net');
const { Channel } = jest.requireActual<{ Channel: { prototype: Amqplib.Channel } }>(
  join(dirname(require.resolve('amqplib')), 'lib', 'channel_model.js'),
);

const ignore = (): void => undefined;
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => String(from + i));

function captureLogger(): { lines: string[]; logger: SyncLogger } {
  const lines: string[] = [];
  const at = (level: string) => (message: unknown) => lines.push(`${level}: ${String(message)}`);
  return { lines, logger: { log: at('log'), warn: at('warn'), error: at('error'), debug: ignore } };
}

interface Opened {
  transport: AmqpStreamTransport;
  received: string[];
  gaps: number[];
  statuses: TransportStatus[];
  lines: string[];
}

const transports: AmqpStreamTransport[] = [];
const connections: Amqplib.ChannelModel[] = [];
const proxies: CutProxy[] = [];
/** Streams the tests declared on the shared broker: durable, so deleted after the suite. */
const streams = new Set<string>();

/** The transport as the module builds it, opened, recording what it hands on. */
async function open(
  key: string,
  options: Partial<FeathersSyncOptions> = {},
  onMessage: (payload: Buffer) => void = ignore,
): Promise<Opened> {
  const uri = options.uri ?? BROKERS.amqp;
  const resolved = resolveOptions({ logger: false, uri, key, delivery: 'recoverable', ...options });
  const { lines, logger } = captureLogger();
  const transport = new AmqpStreamTransport({
    uri,
    key,
    logger,
    closeTimeout: resolved.closeTimeout,
    delivery: 'recoverable',
    settings: { ...resolved.transports.amqp, retention: resolved.retention },
  });
  transports.push(transport);
  streams.add(`${key}.stream`);
  const opened: Opened = { transport, received: [], gaps: [], statuses: [], lines };
  await transport.open({
    message: (payload) => {
      const bytes = Buffer.from(payload as Uint8Array);
      onMessage(bytes);
      opened.received.push(bytes.toString());
    },
    status: (status) => opened.statuses.push(status),
    gap: (missing) => opened.gaps.push(missing),
  });
  return opened;
}

const readies = (opened: Opened) => opened.statuses.filter((s) => s === 'ready').length;

async function ready(opened: Opened, count = 1): Promise<void> {
  await waitFor(() => readies(opened) >= count, `ready #${count}`, 20_000);
}

/** A plain amqplib connection of the test's own (a publisher, an admin). */
async function admin(): Promise<{
  connection: Amqplib.ChannelModel;
  channel: Amqplib.ConfirmChannel;
}> {
  const connection = await amqplib.connect(BROKERS.amqp);
  connection.on('error', ignore);
  connections.push(connection);
  const channel = await connection.createConfirmChannel();
  channel.on('error', ignore);
  return { connection, channel };
}

/** Publishes to the key's exchange as a peer would, and waits for RabbitMQ's confirms. */
async function publishConfirmed(
  channel: Amqplib.ConfirmChannel,
  key: string,
  payloads: Array<string | Buffer>,
) {
  for (const payload of payloads) channel.publish(key, '', Buffer.from(payload));
  await channel.waitForConfirms();
}

async function proxy(): Promise<CutProxy> {
  const port = Number(new URL(BROKERS.amqp).port || 5672);
  const created = await CutProxy.start({ host: '127.0.0.1', port });
  proxies.push(created);
  return created;
}

/** Every socket amqplib opens from now on. */
function watchSockets(): Net.Socket[] {
  const sockets: Net.Socket[] = [];
  const connect = net.connect.bind(net) as (...args: unknown[]) => Net.Socket;
  jest.spyOn(net, 'connect').mockImplementation((...args: unknown[]) => {
    const socket = connect(...args);
    sockets.push(socket);
    return socket;
  });
  return sockets;
}

/** What RabbitMQ sent the channel of the connection from `localPort` and has no ack for yet. */
async function unackedOf(localPort: number): Promise<number> {
  const { execFile } = await import('node:child_process');
  const listing = await new Promise<string>((resolve, reject) =>
    execFile(
      'rabbitmqctl',
      ['-q', 'list_channels', 'name', 'messages_unacknowledged', '--no-table-headers'],
      { timeout: 30_000 },
      (error, stdout) => (error ? reject(new Error(error.message)) : resolve(stdout)),
    ),
  );
  const line = listing.split('\n').find((row) => row.includes(`:${localPort} -> `));
  return Number(line?.split('\t').at(-1) ?? 0);
}

describe('where a resumed stream consumer starts (no broker)', () => {
  const channel = {} as Amqplib.ConfirmChannel;
  const read = { offset: 41, content: Buffer.from('the last one'), probe: undefined };

  it('skips the message it resumed at when it is the one it read, else says the stream was replaced', () => {
    const again = new StreamReader(channel, 41, read, 10);
    expect(again.firstDelivery(41, Buffer.from('the last one'), undefined)).toBe('again');
    // Only the first delivery is checked.
    expect(again.firstDelivery(42, Buffer.from('next'), undefined)).toBe(0);
    const other = new StreamReader(channel, 41, read, 10);
    expect(other.firstDelivery(41, Buffer.from('another'), undefined)).toBe('replaced');
    const probe = new StreamReader(channel, 41, read, 10);
    expect(probe.firstDelivery(41, Buffer.from('the last one'), 'a-probe')).toBe('replaced');
  });

  it('proves at least half of a trimmed distance, and never counts the skip at a segment start', () => {
    // Resumed at 41 (read), 42 would be new: 43 is one skipped number (a segment start), no loss.
    expect(
      new StreamReader(channel, 41, read, 10).firstDelivery(43, Buffer.from('x'), undefined),
    ).toBe(0);
    // 42..141 gone: 100 numbers, of which up to 50 can be segment starts: at least 50 messages.
    expect(
      new StreamReader(channel, 41, read, 10).firstDelivery(142, Buffer.from('x'), undefined),
    ).toBe(50);
    // Joined at 42 (nothing to read again): 43 is the segment skip.
    expect(
      new StreamReader(channel, 42, undefined, 10).firstDelivery(43, Buffer.from('x'), undefined),
    ).toBe(0);
    // After the stream started over it reads from its first offset, and checks nothing.
    expect(
      new StreamReader(channel, 'first', undefined, 10).firstDelivery(
        0,
        Buffer.from('x'),
        undefined,
      ),
    ).toBe(0);
  });
});

describeWithBroker('amqp', 'amqp:// with delivery: recoverable (RabbitMQ streams)', () => {
  let instances: Instance[] = [];

  afterEach(async () => {
    jest.restoreAllMocks();
    await closeAll(instances);
    await Promise.all(transports.splice(0).map((transport) => transport.close()));
    await Promise.all(connections.splice(0).map((c) => c.close().catch(ignore)));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });
  afterAll(async () => {
    const { connection, channel } = await admin();
    for (const stream of streams) await channel.deleteQueue(stream).catch(ignore);
    await connection.close();
  });

  it('resumes after a reconnect where it stopped: nothing lost, nothing replayed', async () => {
    const key = uniqueKey('resume');
    const cut = await proxy();
    const consume = jest.spyOn(Channel.prototype, 'consume');
    const reader = await open(key, { uri: cut.uri(BROKERS.amqp), amqp: { reconnectDelay: 100 } });
    await ready(reader);
    const { channel } = await admin();
    await publishConfirmed(channel, key, range(1, 50));
    await waitFor(() => reader.received.length === 50, 'the first 50');

    const outage = cut.cut(1_000);
    await waitFor(() => reader.statuses.at(-1) === 'reconnecting', 'the drop');
    await publishConfirmed(channel, key, range(51, 100));
    await outage;
    await ready(reader, 2);
    await publishConfirmed(channel, key, range(101, 110));
    await waitFor(() => reader.received.length >= 110, 'all 110');
    await sleep(300);

    expect(reader.received).toEqual(range(1, 110));
    expect(reader.gaps).toEqual([]);
    const offsets = consume.mock.calls
      .filter(([queue]) => queue === `${key}.stream`)
      .map(([, , options]) => (options?.arguments as Record<string, unknown>)['x-stream-offset']);
    // Each connection: a probe consumer finds the end ('next'), then the reader starts right
    // after it (joining), or at the 50th message it read (resuming: read again, to prove the
    // stream is the same, and not handed on twice), as a 64-bit long.
    expect(offsets).toEqual([
      'next',
      { '!': 'long', value: expect.any(Number) },
      'next',
      { '!': 'long', value: expect.any(Number) },
    ]);
    const [joined, resumed] = [offsets[1], offsets[3]] as Array<{ value: number }>;
    expect(resumed.value).toBe(joined.value + 49);
  });

  it('knows its offset before the first message: a reconnect before anything arrived loses nothing', async () => {
    const key = uniqueKey('before-first');
    const cut = await proxy();
    const reader = await open(key, { uri: cut.uri(BROKERS.amqp), amqp: { reconnectDelay: 100 } });
    await ready(reader);
    const outage = cut.cut(1_000);
    await waitFor(() => reader.statuses.at(-1) === 'reconnecting', 'the drop');
    const { channel } = await admin();
    await publishConfirmed(channel, key, range(1, 20));
    await outage;
    await ready(reader, 2);
    await waitFor(() => reader.received.length >= 20, 'the 20 published while it was away');
    await sleep(300);
    // The probe it read back to learn its offset never reaches the core.
    expect(reader.received).toEqual(range(1, 20));
  });

  it('reports a gap when retention trimmed the stream past its offset: at least half the loss, never more', async () => {
    const key = uniqueKey('trimmed');
    const cut = await proxy();
    const settings = {
      retention: { maxAgeMs: 1_000, maxEvents: 100 },
      amqp: { reconnectDelay: 100, streamSegmentBytes: 20_000 },
    };
    const reader = await open(key, { ...settings, uri: cut.uri(BROKERS.amqp) });
    await ready(reader);
    const { channel } = await admin();
    const body = (n: number) => `${n}:${'x'.repeat(200)}`;
    let n = 0;
    const publish = (count: number) =>
      publishConfirmed(
        channel,
        key,
        Array.from({ length: count }, () => body(++n)),
      );
    await publish(10);
    await waitFor(() => reader.received.length === 10, 'the first 10');

    // Away 3.5 s while ~200 KB/s flow: 20 KB segments roll and those older than 1 s go.
    const outage = cut.cut(3_500);
    while (!(await Promise.race([outage.then(() => true), sleep(50).then(() => false)]))) {
      await publish(10);
    }
    await ready(reader, 2);
    const last = n + 10;
    await publish(10);
    await waitFor(() => reader.received.at(-1)?.startsWith(`${last}:`) === true, 'the last one');

    const heard = reader.received.map((payload) => Number(payload.split(':')[0]));
    const firstAfter = heard[10];
    const lost = firstAfter - 11;
    expect(lost).toBeGreaterThan(100);
    // Everything from there on arrived, in order, once.
    expect(heard).toEqual([...range(1, 10), ...range(firstAfter, last)].map(Number));
    // Offsets skip a number per segment, so the transport proves only part of the loss; the
    // senders' sequence numbers account for the rest (the engine counts it once).
    expect(reader.gaps).toHaveLength(1);
    expect(reader.gaps[0]).toBeGreaterThanOrEqual(Math.ceil(lost / 2));
    expect(reader.gaps[0]).toBeLessThanOrEqual(lost);
  });

  it('keeps its own buffers bounded by the prefetch when it reads slower than the stream fills', async () => {
    const key = uniqueKey('slow');
    const sockets = watchSockets();
    const size = 4096;
    const total = 2_000;
    const prefetch = 50;
    const samples: Array<{ processed: number; bytesRead: number }> = [];
    // The reader's connection: the only socket opened until it is ready.
    const socket = () => sockets[0];
    let processed = 0;
    const reader = await open(key, { amqp: { streamPrefetch: prefetch } }, () => {
      // A receiver whose loop is busy 2 ms per event: ~500 events/s.
      const until = Date.now() + 2;
      while (Date.now() < until);
      processed++;
      samples.push({ processed, bytesRead: socket().bytesRead });
    });
    await ready(reader);
    jest.restoreAllMocks();
    expect(sockets).toHaveLength(1);
    const start = socket().bytesRead;

    const unacked: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) unacked.push(await unackedOf(socket().localPort!));
    })();
    const { channel } = await admin();
    const published = publishConfirmed(
      channel,
      key,
      Array.from({ length: total }, (_, i) => Buffer.alloc(size, i % 256)),
    );
    await published;
    // RabbitMQ stored all 8 MB while the reader had taken only part of it: the stream holds it.
    const processedWhenStored = processed;
    await waitFor(() => processed === total, 'every message read', 60_000);
    sampling = false;
    await sampler;

    expect(processedWhenStored).toBeLessThan(total / 2);
    const perMessage = (socket().bytesRead - start) / total;
    const backlog = Math.max(...samples.map((s) => s.bytesRead - start - s.processed * perMessage));
    // Read off the socket and not handled yet: less than a prefetch window.
    expect(backlog).toBeLessThan(prefetch * perMessage);
    // Sent by RabbitMQ and not acknowledged yet (socket buffers included): the prefetch, plus up
    // to a chunk (RabbitMQ sends whole chunks; 50 gave 56 to 256 here), never what the stream holds.
    expect(Math.max(...unacked)).toBeGreaterThan(0);
    expect(Math.max(...unacked)).toBeLessThan(total / 4);
    expect(reader.received.length).toBe(total);
  });

  it('treats a message RabbitMQ could not route as refused, and declares the binding again', async () => {
    const key = uniqueKey('unbound');
    const opened = await open(key, { amqp: { reconnectDelay: 100 } });
    await ready(opened);
    const { channel } = await admin();
    await channel.unbindQueue(`${key}.stream`, key, '');
    await expect(opened.transport.publish('lost?')).rejects.toThrow(
      /could not route|channel closed/,
    );
    await ready(opened, 2);
    await opened.transport.publish('after');
    await waitFor(() => opened.received.includes('after'), 'its own message back');
    expect(opened.received).toEqual(['after']);
    expect(opened.lines.join('\n')).toMatch(/RabbitMQ returned a message/);
  });

  it('mixes with feathers-sync 3.1.1: each hears the other through the fanout exchange', async () => {
    const key = uniqueKey('interop');
    streams.add(`${key}.stream`);
    const peer = await startFeathersSyncPeer('amqp', key);
    try {
      instances = [await startInstance({ uri: BROKERS.amqp, key, delivery: 'recoverable' })];
      await instances[0].sync.ready;
      const ours = recordEvents(instances[0].app, 'todos', ['created']);
      const theirs = recordEvents(peer, 'todos', ['created']);
      await peer.service('todos').create({ text: 'from feathers-sync' });
      await instances[0].app.service('todos').create({ text: 'from us' });
      await waitFor(() => ours.length >= 2 && theirs.length >= 2, 'both events on both sides');
      await sleep(300);
      // Each side emits its own event at once and the other's when it arrives.
      expect(ours.map((r) => r.data.text).sort()).toEqual(['from feathers-sync', 'from us']);
      expect(theirs.map((r) => r.data.text).sort()).toEqual(['from feathers-sync', 'from us']);
      expect(instances[0].sync.stats()).toEqual(expect.objectContaining({ emitted: 1, echoes: 1 }));
    } finally {
      await closePeer(peer);
    }
  });

  it('fails boot naming the setting when another instance declared the stream with another retention', async () => {
    const key = uniqueKey('mismatch');
    streams.add(`${key}.stream`);
    const first = await startInstance({
      uri: BROKERS.amqp,
      key,
      delivery: 'recoverable',
      retention: { maxAgeMs: 60_000 },
    });
    instances = [first];
    await first.sync.ready;
    await expect(
      startInstance({ uri: BROKERS.amqp, key, delivery: 'recoverable', waitForBroker: true }),
    ).rejects.toThrow(
      /retention\.maxAgeMs \(x-max-age\): every instance on key ".+" must use the same retention/,
    );
  });

  it('close() waits for the confirms of what it accepted, then leaves no socket open', async () => {
    const key = uniqueKey('close');
    const sockets = watchSockets();
    const opened = await open(key);
    await ready(opened);
    const confirmed = Array.from({ length: 2_000 }, (_, i) => opened.transport.publish(`${i}`));
    await opened.transport.close();
    await expect(Promise.all(confirmed)).resolves.toHaveLength(2_000);
    expect(opened.statuses.at(-1)).toBe('closed');
    expect(sockets.length).toBeGreaterThan(0);
    expect(sockets.every((socket) => socket.destroyed)).toBe(true);
    await expect(opened.transport.publish('late')).rejects.toThrow(/closed/);
  });
});

describeWithBinaries(
  'amqp',
  'amqp:// with delivery: recoverable on a RabbitMQ without streams',
  () => {
    let node: RabbitNode | undefined;
    let instances: Instance[] = [];

    beforeAll(async () => {
      // Every feature flag but stream_queue: what a node upgraded from 3.8 has until they are enabled.
      node = await RabbitNode.start({
        auth: { user: 'sync', password: 'n0t-in-logs' },
        featureFlags: [
          'quorum_queue',
          'implicit_default_bindings',
          'virtual_host_metadata',
          'maintenance_mode_status',
          'user_limits',
        ],
      });
    });
    afterEach(() => closeAll(instances));
    afterAll(() => node?.remove());

    it('fails boot with the fix, and only logs it without waitForBroker', async () => {
      const options = {
        uri: node!.uri,
        key: uniqueKey('nostreams'),
        delivery: 'recoverable' as const,
      };
      const failure = await startInstance({ ...options, waitForBroker: true }).then(
        () => undefined,
        (error: Error) => error,
      );
      expect(failure).toBeInstanceOf(FeathersSyncConfigError);
      expect(failure?.message).toMatch(/rabbitmqctl enable_feature_flag stream_queue/);
      expect(failure?.message).not.toContain('n0t-in-logs');

      const { lines, logger } = captureLogger();
      const instance = await startInstance({ ...options, logger });
      instances = [instance];
      const refused = await instance.sync.ready.then(
        () => undefined,
        (error: Error) => error,
      );
      expect(refused?.message).toMatch(/enable_feature_flag stream_queue/);
      expect(instance.sync.status).toBe('connecting');
      expect(lines.join('\n')).toMatch(/error: .*enable_feature_flag stream_queue/);
      expect(lines.join('\n')).not.toContain('n0t-in-logs');
    });
  },
);

describeWithBinaries(
  'amqp',
  'amqp:// with delivery: recoverable on a RabbitMQ that lost its data',
  () => {
    let node: RabbitNode | undefined;
    let cut: CutProxy | undefined;
    let instances: Instance[] = [];

    beforeAll(async () => {
      node = await RabbitNode.start();
    });
    afterEach(async () => {
      await closeAll(instances);
      await cut?.close();
    });
    afterAll(() => node?.remove());

    it('declares the stream again, counts what a reader could not get, and the flow resumes', async () => {
      const key = uniqueKey('wiped');
      const rabbit = node!;
      cut = await CutProxy.start({ host: '127.0.0.1', port: rabbit.port });
      const fast = {
        delivery: 'recoverable' as const,
        key,
        amqp: { reconnectDelay: 100, maxReconnectDelay: 500 },
      };
      const publisher = await startInstance({ ...fast, uri: rabbit.uri });
      const { lines, logger } = captureLogger();
      const reader = await startInstance({ ...fast, uri: cut.uri(rabbit.uri), logger });
      instances = [publisher, reader];
      await Promise.all(instances.map((instance) => instance.sync.ready));
      const heard = recordEvents(reader.app, 'todos', ['created']);
      const gaps: unknown[] = [];
      reader.sync.gaps$.subscribe((gap) => gaps.push(gap));
      let n = 0;
      const publish = async (count: number) => {
        for (let i = 0; i < count; i++) await publisher.app.service('todos').create({ n: ++n });
        await waitFor(() => publisher.sync.stats().published === n, `${n} stored`, 30_000);
      };
      await publish(5);
      await waitFor(() => heard.length === 5, 'the first 5');

      // The reader is away while the node loses its data dir and comes back empty.
      const away = cut.cut(12_000);
      await publish(5);
      await rabbit.stop();
      rmSync(join(rabbit.dir, 'mnesia'), { recursive: true, force: true });
      await rabbit.start();
      await publish(5);
      await away;
      await publish(1);
      await waitFor(() => heard.some((r) => r.data.n === n), 'the last event', 30_000);
      await sleep(300);

      const numbers = heard.map((r) => r.data.n as number);
      expect(new Set(numbers).size).toBe(numbers.length);
      expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
      const missing = n - numbers.length;
      expect(missing).toBeGreaterThan(0);
      // Nothing skipped silently: every event that never arrived is counted once, and heard of.
      expect(reader.sync.stats().missed).toBe(missing);
      expect(gaps.length).toBeGreaterThan(0);
      expect(lines.join('\n')).toMatch(/starts over/);
      expect(reader.sync.status).toBe('ready');
    });
  },
);
