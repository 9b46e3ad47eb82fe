import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { FeathersSyncOptions, TransportStatus } from '../../src';
import { resolveRetention } from '../../src/options/transport-options';
import { redisLogKeys } from '../../src/transports/redis/redis-stream.log';
import { RedisStreamTransport } from '../../src/transports/redis/redis-stream.transport';
import { BROKERS, describeWithBroker, freePort, uniqueKey } from '../support/brokers';
import { runToExit } from '../support/run-to-exit';
import { CutProxy } from '../support/cut-proxy';
import { describeWithBinaries } from '../support/durable';
import { sleep, waitFor } from '../support/feathers-app';
import { startInstance } from '../support/instances';
import { RedisServer, type RedisServerOptions } from '../support/processes/redis-server';
import { transportContext } from '../support/transport-context';

/**
 * What the Redis Streams transport of `delivery: 'recoverable'` guarantees beyond the suites every
 * broker runs: the log's shape, resuming from the cursor, exact gap counts, a bounded reader, the
 * boot errors a user can fix, a lost log read again, and a clean close.
 */

type Heard = { message: string } | { gap: number };

/** A transport driven on its own, with what it delivered (messages and gaps, in order). */
interface Driven {
  transport: RedisStreamTransport;
  heard: Heard[];
  statuses: TransportStatus[];
  logs: string[];
  messages(): string[];
  gaps(): number[];
}

const transports: RedisStreamTransport[] = [];

async function drive(
  options: FeathersSyncOptions,
  onMessage?: (payload: Buffer) => void,
): Promise<Driven> {
  const logs: string[] = [];
  const push = (line: string) => logs.push(line);
  const base = transportContext(
    'redis',
    { delivery: 'recoverable', ...options },
    {
      log: push,
      warn: push,
      error: push,
    },
  );
  const transport = new RedisStreamTransport({
    ...base,
    settings: { ...base.settings, retention: resolveRetention(options.retention) },
  });
  transports.push(transport);
  const heard: Heard[] = [];
  const statuses: TransportStatus[] = [];
  await transport.open({
    message: (payload) => {
      onMessage?.(payload as Buffer);
      heard.push({ message: Buffer.from(payload).toString() });
    },
    status: (status) => statuses.push(status),
    gap: (missing) => heard.push({ gap: missing }),
  });
  const messages = () => heard.flatMap((h) => ('message' in h ? [h.message] : []));
  const gaps = () => heard.flatMap((h) => ('gap' in h ? [h.gap] : []));
  await waitFor(() => statuses.at(-1) === 'ready', 'the transport ready');
  return { transport, heard, statuses, logs, messages, gaps };
}

const range = (from: number, to: number, prefix: string) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);

/** Appends entries the way another instance would (field `d`). */
async function append(client: Redis, key: string, payloads: string[], maxLen?: number) {
  const { stream } = redisLogKeys(key);
  const pipeline = client.pipeline();
  for (const payload of payloads) {
    if (maxLen === undefined) pipeline.xadd(stream, '*', 'd', payload);
    else pipeline.xadd(stream, 'MAXLEN', maxLen, '*', 'd', payload);
  }
  await pipeline.exec();
}

afterEach(async () => {
  await Promise.all(transports.splice(0).map((transport) => transport.close()));
});

describeWithBroker('redis', 'recoverable delivery over redis://: the transport', () => {
  const target = new URL(BROKERS.redis);
  const port = Number(target.port || 6379);
  let raw: Redis;
  const keys: string[] = [];
  const proxies: CutProxy[] = [];

  function key(): string {
    const name = uniqueKey('rstream');
    keys.push(name);
    return name;
  }

  async function proxy(): Promise<CutProxy> {
    const cut = await CutProxy.start({ host: target.hostname, port });
    proxies.push(cut);
    return cut;
  }

  beforeAll(() => {
    raw = new Redis(BROKERS.redis);
  });
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((cut) => cut.close()));
  });
  afterAll(async () => {
    const names = keys.flatMap((name) => Object.values(redisLogKeys(name)));
    if (names.length > 0) await raw.del(...names);
    await raw.quit();
  });

  it('appends one entry per message (field d) to {key}:stream, trimmed by count; the XADD reply is the acknowledgement', async () => {
    const name = key();
    const { transport, messages } = await drive({
      uri: BROKERS.redis,
      key: name,
      retention: { maxEvents: 100 },
    });
    const ids = await Promise.all([
      transport.publish('text'),
      transport.publish(Buffer.from([0, 1, 2])),
    ]);
    expect(ids).toEqual([expect.stringMatching(/^\d+-\d+$/), expect.stringMatching(/^\d+-\d+$/)]);
    const entries = await raw.xrangeBuffer(redisLogKeys(name).stream, '-', '+');
    expect(entries.map(([, fields]) => fields)).toEqual([
      [Buffer.from('d'), Buffer.from('text')],
      [Buffer.from('d'), Buffer.from([0, 1, 2])],
    ]);
    // The instance reads its own entries too (the core ignores its echoes).
    await waitFor(() => messages().length === 2, 'both entries read back');

    await Promise.all(range(1, 1000, 'n').map((payload) => transport.publish(payload)));
    // MAXLEN ~ keeps whole nodes (≤ 100 entries each): at most one node over the limit.
    expect(await raw.xlen(redisLogKeys(name).stream)).toBeLessThanOrEqual(200);
  });

  it('trims by age on the server’s clock, and lets a log nobody uses expire', async () => {
    const name = key();
    const { stream, epoch } = redisLogKeys(name);
    const { transport } = await drive({
      uri: BROKERS.redis,
      key: name,
      retention: { maxAgeMs: 300 },
    });
    await Promise.all(range(1, 10, 'old').map((payload) => transport.publish(payload)));
    await waitFor(async () => (await raw.xlen(stream)) === 0, 'the old entries trimmed', 5_000);
    // Both keys expire unless an instance keeps them alive: max(2 × maxAgeMs, 60 s).
    for (const stored of [stream, epoch]) {
      const ttl = await raw.pttl(stored);
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
  });

  it('resumes from its cursor after its connection is cut: what was appended meanwhile arrives once, nothing again', async () => {
    const name = key();
    const cut = await proxy();
    const reader = await drive({ uri: cut.uri(BROKERS.redis), key: name });
    await append(raw, name, range(1, 10, 'm'));
    await waitFor(() => reader.messages().length === 10, 'the first ten');

    const away = cut.cut(1_500);
    await waitFor(() => reader.statuses.at(-1) === 'reconnecting', 'the drop seen');
    await append(raw, name, range(11, 30, 'm'));
    await away;
    await waitFor(() => reader.statuses.at(-1) === 'ready', 'ready again', 15_000);
    await append(raw, name, range(31, 35, 'm'));
    await waitFor(() => reader.messages().length >= 35, 'everything', 15_000);
    await sleep(300);
    expect(reader.messages()).toEqual(range(1, 35, 'm'));
    expect(reader.gaps()).toEqual([]);
  });

  it('counts exactly what was trimmed past its cursor while it was away, and says so before what follows', async () => {
    const name = key();
    const cut = await proxy();
    const reader = await drive({ uri: cut.uri(BROKERS.redis), key: name });
    await append(raw, name, range(1, 5, 'a'));
    await waitFor(() => reader.messages().length === 5, 'the first five');

    const away = cut.cut(1_500);
    // 300 more, of which the log keeps the last 50 (exact trimming): 250 are gone for this reader.
    await append(raw, name, range(6, 305, 'a'), 50);
    await away;
    await waitFor(() => reader.messages().length === 55, 'the last fifty', 15_000);
    expect(reader.heard).toEqual([
      ...range(1, 5, 'a').map((message) => ({ message })),
      { gap: 250 },
      ...range(256, 305, 'a').map((message) => ({ message })),
    ]);
  });

  it('counts what was trimmed while its own loop was stalled, with no disconnect', async () => {
    const name = key();
    const { stream } = redisLogKeys(name);
    let stalled = false;
    const reader = await drive({ uri: BROKERS.redis, key: name }, () => {
      if (stalled) return;
      stalled = true;
      // While this instance is busy, another appends 300 entries and trims the log to 50.
      const script =
        "for i=1,300 do redis.call('XADD', KEYS[1], 'MAXLEN', '=', '50', '*', 'd', 'b'..(i+1)) end";
      execFileSync('redis-cli', [
        '-h',
        target.hostname,
        '-p',
        String(port),
        'EVAL',
        script,
        '1',
        stream,
      ]);
    });
    await append(raw, name, ['b1']);
    await waitFor(() => reader.messages().length === 51, 'the fifty kept', 15_000);
    expect(reader.heard).toEqual([
      { message: 'b1' },
      { gap: 250 },
      ...range(252, 301, 'b').map((message) => ({ message })),
    ]);
  });

  it('a receiver slower than the publishers takes one read at a time: the broker keeps the backlog', async () => {
    const name = key();
    const counting = await CountingProxy.start(target.hostname, port);
    const payload = 'x'.repeat(2_000);
    const total = 20_000;
    let delivered = 0;
    // A read's entries are handed on in one synchronous run, during which no byte can arrive: the
    // counter's jump between two runs is what the instance took from the network for one read.
    let seen = 0;
    let largestRead = 0;
    const reader = await drive({ uri: counting.uri, key: name }, () => {
      delivered++;
      if (counting.bytesToClient !== seen) {
        largestRead = Math.max(largestRead, counting.bytesToClient - seen);
        seen = counting.bytesToClient;
      }
      const until = performance.now() + 0.3;
      while (performance.now() < until); // a slow listener: 0.3 ms per event
    });
    let backlog = 0;
    try {
      seen = counting.bytesToClient;
      for (let sent = 0; sent < total; sent += 2_000) {
        await append(
          raw,
          name,
          Array.from({ length: 2_000 }, () => payload),
        );
        backlog = Math.max(backlog, sent + 2_000 - delivered);
      }
      await waitFor(() => delivered === total, 'every event, slowly', 60_000);
    } finally {
      await counting.close();
    }
    // The broker held over 16 MB of it at some point; the instance never took more than ~1 MB.
    expect(backlog * payload.length).toBeGreaterThan(16 * 1024 * 1024);
    expect(largestRead).toBeLessThan(1.5 * 1024 * 1024);
    expect(reader.gaps()).toEqual([]);
  });

  it('fails boot, saying what to do, when the key holds something else than a stream', async () => {
    const name = key();
    await raw.set(redisLogKeys(name).stream, 'not a stream');
    const lines: string[] = [];
    const logger = { log: () => {}, warn: () => {}, error: (line: string) => lines.push(line) };
    await expect(
      startInstance({
        uri: BROKERS.redis,
        key: name,
        delivery: 'recoverable',
        waitForBroker: true,
        logger,
      }),
    ).rejects.toThrow(/holds another kind of value: delete them, or choose another `key`/);
    expect(lines.join('\n')).toMatch(/WRONGTYPE/);
  });

  it('close() while a read waits at the end of the log settles at once, and leaves the log to expire', async () => {
    const name = key();
    const { transport, statuses } = await drive({ uri: BROKERS.redis, key: name });
    await transport.publish('last');
    await sleep(100);
    const started = Date.now();
    await transport.close();
    expect(Date.now() - started).toBeLessThan(500);
    expect(statuses.at(-1)).toBe('closed');
    // Unless another instance keeps it alive, the log goes away (here before any trim ran).
    for (const stored of Object.values(redisLogKeys(name))) {
      expect(await raw.pttl(stored)).toBeGreaterThan(50_000);
    }
  });
});

describeWithBinaries('redis', 'recoverable delivery over a redis-server of its own', () => {
  const servers: RedisServer[] = [];
  let raw: Redis | undefined;

  async function server(options: RedisServerOptions = {}) {
    const started = await RedisServer.start(options);
    servers.push(started);
    return started;
  }

  afterEach(async () => {
    raw?.disconnect();
    raw = undefined;
    await Promise.all(transports.splice(0).map((transport) => transport.close()));
    await Promise.all(servers.splice(0).map((started) => started.stop()));
  });

  it('fails boot, naming the fix, when the server has no stream commands', async () => {
    const old = await server({ args: ['--rename-command', 'XINFO', ''] });
    await expect(
      startInstance({
        uri: old.uri,
        key: uniqueKey(),
        delivery: 'recoverable',
        waitForBroker: true,
        logger: false,
      }),
    ).rejects.toThrow(/needs Redis 7.0 or later/);
  });

  it('reads a log lost in a restart from its start, even when the new ids are behind its cursor', async () => {
    const volatile = await server({ persistent: false });
    const name = uniqueKey('wiped');
    const { stream } = redisLogKeys(name);
    raw = new Redis(volatile.uri);
    const reader = await drive({ uri: volatile.uri, key: name });
    // An entry with an id a minute ahead (a failover to a host whose clock is behind): the cursor
    // then lies past every id the new log will give.
    await raw.xadd(stream, `${Date.now() + 60_000}-0`, 'd', 'ahead');
    await waitFor(() => reader.messages().length === 1, 'the entry ahead');

    await volatile.restart(200);
    await waitFor(() => reader.statuses.includes('reconnecting'), 'the drop seen');
    await append(raw, name, range(1, 5, 'new'));
    await waitFor(() => reader.messages().length === 6, 'the new log read from its start', 15_000);
    expect(reader.messages()).toEqual(['ahead', ...range(1, 5, 'new')]);
    // Nobody can say how many the lost log held: the core counts them from the senders' sequences.
    expect(reader.gaps()).toEqual([]);
    expect(reader.logs.join('\n')).toMatch(/was lost and started again/);
  });

  it('loses nothing it acknowledged when Redis crashes (SIGKILL) with appendfsync always', async () => {
    const durable = await server({ persistent: true });
    const cut = await CutProxy.start({ host: '127.0.0.1', port: durable.port });
    try {
      const name = uniqueKey('crash');
      const writer = await drive({ uri: durable.uri, key: name });
      const reader = await drive({ uri: cut.uri(durable.uri), key: name });
      // The reader is away; 200 messages are acknowledged; the server dies without warning.
      const away = cut.cut(2_000);
      await Promise.all(range(1, 200, 'c').map((payload) => writer.transport.publish(payload)));
      await durable.restart(300, 'SIGKILL');
      await away;
      await waitFor(() => reader.messages().length === 200, 'every acknowledged message', 15_000);
      await sleep(300);
      expect(reader.messages()).toEqual(range(1, 200, 'c'));
      expect(reader.gaps()).toEqual([]);
      expect(reader.logs.join('\n')).not.toMatch(/lost and started again/);
    } finally {
      await cut.close();
    }
  });

  it('app.close() leaves no open handle, with the broker up or down: the process exits by itself', async () => {
    const dist = join(__dirname, '..', '..', 'dist', 'cjs', 'index.js');
    if (!existsSync(dist)) throw new Error('dist/ is missing: run `npm run build` first');
    const up = await server();
    const down = `redis://127.0.0.1:${await freePort()}`;
    for (const uri of [up.uri, down]) {
      const { code, output } = await runToExit([
        '-e',
        BOOT_AND_CLOSE,
        dist,
        uri,
        uniqueKey('exit'),
      ]);
      expect({ uri, code, output }).toEqual({ uri, code: 0, output: 'closed\n' });
    }
  });
});

/**
 * Boots an instance in recoverable mode on the built package (syncing one event through the log
 * when the broker is up), closes it, and does nothing more: the process must exit by itself.
 */
const BOOT_AND_CLOSE = `
require('reflect-metadata');
const [dist, uri, key] = process.argv.slice(1);
const { Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { feathers } = require('@feathersjs/feathers');
const { FeathersSyncModule, SyncService } = require(dist);
async function instance() {
  const app = feathers();
  app.use('todos', { async create(data) { return { id: 1, ...data }; } });
  class InstanceModule {}
  Module({ imports: [FeathersSyncModule.forRoot({ uri, key, app, delivery: 'recoverable', logger: false, connectTimeout: 1000 })] })(InstanceModule);
  const nest = await NestFactory.createApplicationContext(InstanceModule, { logger: false });
  const sync = nest.get(SyncService);
  const up = await sync.ready.then(() => true, () => false);
  return { nest, app, up };
}
(async () => {
  const a = await instance();
  const b = await instance();
  if (a.up && b.up) {
    const heard = new Promise((resolve) => b.app.service('todos').once('created', resolve));
    await a.app.service('todos').create({ text: 'bye' });
    await heard;
  }
  await Promise.all([a.nest.close(), b.nest.close()]);
  process.stdout.write('closed\\n');
})().catch((error) => { console.error(error); process.exit(1); });
`;

/** A loopback proxy that counts the bytes it passed from the broker to the instance. */
class CountingProxy {
  bytesToClient = 0;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly uri: string,
  ) {}

  static async start(host: string, port: number): Promise<CountingProxy> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port: own } = server.address() as { port: number };
    const proxy = new CountingProxy(server, `redis://127.0.0.1:${own}`);
    server.on('connection', (client) => {
      const upstream = connect(port, host);
      for (const socket of [client, upstream]) {
        proxy.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      upstream.on('data', (chunk: Buffer) => (proxy.bytesToClient += chunk.length));
      client.pipe(upstream);
      upstream.pipe(client);
    });
    return proxy;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
