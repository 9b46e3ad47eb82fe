import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import type { FeathersSyncOptions, SyncLogger, TransportStatus } from '../../src';
import { READ_BATCH } from '../../src/transports/nats/jetstream-reader';
import { serverTooOld, streamNameOf } from '../../src/transports/nats/jetstream-stream';
import { NatsJetStreamTransport } from '../../src/transports/nats/nats-jetstream.transport';
import { BROKERS, uniqueKey } from '../support/brokers';
import { runToExit } from '../support/run-to-exit';
import { CutProxy } from '../support/cut-proxy';
import { describeWithBinaries } from '../support/durable';
import { recordEvents, sleep, waitFor } from '../support/feathers-app';
import { closePeer, startFeathersSyncPeer } from '../support/feathers-sync-peer';
import { closeAll, type Instance } from '../support/instances';
import { NATS_CLIENTS, onNatsClient } from '../support/nats-clients';
import { NatsServer, type NatsServerOptions } from '../support/processes/nats-server';

/**
 * What `delivery: 'recoverable'` over NATS JetStream guarantees beyond the suites every broker
 * runs: the boot errors a user can fix, reading from a cursor, the gap count, bounded buffers for
 * a slow reader, a lost store, the duplicate window, feathers-sync peers, and a clean close.
 */

function captureLogger(): { lines: string[]; logger: SyncLogger } {
  const lines: string[] = [];
  const push = (message: unknown) => lines.push(String(message));
  return { lines, logger: { log: push, warn: push, error: push, debug: push } };
}

interface Opened {
  transport: NatsJetStreamTransport;
  received: string[];
  gaps: number[];
  statuses: TransportStatus[];
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

for (const natsClient of NATS_CLIENTS) {
  describeWithBinaries(
    'nats',
    `nats:// with delivery: recoverable (JetStream, ${natsClient})`,
    () => {
      const { startInstance, resolveOptions } = onNatsClient(natsClient);
      const servers: NatsServer[] = [];
      const proxies: CutProxy[] = [];
      const transports: NatsJetStreamTransport[] = [];
      const clients: NatsConnection[] = [];
      let instances: Instance[] = [];

      afterEach(async () => {
        await closeAll(instances);
        await Promise.all(transports.splice(0).map((transport) => transport.close()));
        await Promise.all(clients.splice(0).map((client) => client.close()));
        await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
      });
      afterAll(async () => {
        await Promise.all(servers.map((server) => server.dispose()));
      });

      async function ownServer(
        options: NatsServerOptions = { jetstream: true },
      ): Promise<NatsServer> {
        const server = await NatsServer.start(options);
        servers.push(server);
        return server;
      }

      async function proxyTo(server: NatsServer): Promise<CutProxy> {
        const proxy = await CutProxy.start({ host: '127.0.0.1', port: server.port });
        proxies.push(proxy);
        return proxy;
      }

      async function manager(uri: string): Promise<JetStreamManager> {
        const client = await connect({ servers: new URL(uri).host });
        clients.push(client);
        return client.jetstreamManager();
      }

      /** The transport as the module builds it, opened (ready) and recording what it hands on. */
      async function open(
        uri: string,
        key: string,
        options: Partial<FeathersSyncOptions> = {},
        onMessage: () => void = () => undefined,
      ): Promise<Opened> {
        const resolved = resolveOptions({
          logger: false,
          uri,
          key,
          delivery: 'recoverable',
          ...options,
        });
        const transport = new NatsJetStreamTransport({
          uri,
          key,
          logger: (options.logger as SyncLogger | undefined) ?? captureLogger().logger,
          closeTimeout: resolved.closeTimeout,
          delivery: 'recoverable',
          settings: { ...resolved.transports.nats, retention: resolved.retention },
        });
        transports.push(transport);
        const opened: Opened = { transport, received: [], gaps: [], statuses: [] };
        await transport.open({
          message: (payload) => {
            onMessage();
            opened.received.push(Buffer.from(payload as Uint8Array).toString());
          },
          status: (status) => opened.statuses.push(status),
          gap: (missing) => opened.gaps.push(missing),
        });
        return opened;
      }

      const publishAll = (opened: Opened, prefix: string, numbers: number[]) =>
        Promise.all(numbers.map((n) => opened.transport.publish(`${prefix}${n}`)));

      it('fails boot with the fix when JetStream is not enabled, and only logs it without waitForBroker', async () => {
        const server = await ownServer({});
        const key = uniqueKey('nojs');
        const options = { uri: server.uri, key, delivery: 'recoverable' as const };
        await expect(startInstance({ ...options, waitForBroker: true })).rejects.toThrow(
          /JetStream is not enabled on the NATS server 127\.0\.0\.1:\d+.*start nats-server with -js/i,
        );

        const { lines, logger } = captureLogger();
        const instance = await startInstance({ ...options, logger });
        instances = [instance];
        const refused = await instance.sync.ready.then(
          () => undefined,
          (error: Error) => error,
        );
        expect(refused?.message).toMatch(/-js/);
        expect(instance.sync.status).toBe('connecting');
        expect(lines.some((line) => /JetStream is not enabled/.test(line))).toBe(true);
      });

      it('fails boot when another stream already captures the key, or a stream of its name is of another kind', async () => {
        const server = await ownServer();
        const jsm = await manager(server.uri);
        const taken = uniqueKey('taken');
        await jsm.streams.add({ name: 'SOMEONE_ELSES', subjects: [taken] });
        await expect(
          startInstance({
            uri: server.uri,
            key: taken,
            delivery: 'recoverable',
            waitForBroker: true,
          }),
        ).rejects.toThrow(/Another JetStream stream already captures the subject ".+"/);

        const other = uniqueKey('kind');
        await jsm.streams.add({
          name: streamNameOf(other),
          subjects: [other],
          storage: 'memory' as never,
        });
        await expect(
          startInstance({
            uri: server.uri,
            key: other,
            delivery: 'recoverable',
            waitForBroker: true,
          }),
        ).rejects.toThrow(/exists but was not made for this key: its storage is "memory"/);
      });

      it('fails boot with the fix when the user may not use the JetStream API', async () => {
        const dir = await mkdtemp(join(tmpdir(), 'nats-perm-'));
        const config = join(dir, 'server.conf');
        await writeFile(
          config,
          'authorization { users = [ { user: limited, password: limited, permissions: { ' +
            'publish: { allow: [">"], deny: ["$JS.API.CONSUMER.CREATE.>"] } } } ] }\n',
        );
        try {
          const server = await ownServer({ jetstream: true, args: ['-c', config] });
          const uri = `nats://limited:limited@127.0.0.1:${server.port}`;
          const key = uniqueKey('perm');
          const { lines, logger } = captureLogger();
          await expect(
            startInstance({ uri, key, delivery: 'recoverable', waitForBroker: true, logger }),
          ).rejects.toThrow(
            /refused a JetStream request .*Allow the uri's user to publish to "\$JS\.API\.>"/,
          );
          expect(lines.join('\n')).not.toContain('limited:limited');
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });

      it('sets the stream to the retention of the instance that starts last, and says so', async () => {
        const server = await ownServer();
        const key = uniqueKey('limits');
        await open(server.uri, key, { retention: { maxAgeMs: 300_000, maxEvents: 1000 } });
        const { lines, logger } = captureLogger();
        await open(server.uri, key, { retention: { maxAgeMs: 30_000, maxEvents: 500 }, logger });
        const { config } = await (await manager(server.uri)).streams.info(streamNameOf(key));
        expect(config).toEqual(
          expect.objectContaining({
            subjects: [key],
            max_msgs: 500,
            max_age: 30_000 * 1e6,
            duplicate_window: 30_000 * 1e6,
            storage: 'file',
            num_replicas: 1,
          }),
        );
        expect(lines.join('\n')).toContain(
          'had other limits (max_age: 300000 ms → 30000 ms, max_msgs: 1000 → 500, ' +
            'duplicate_window: 120000 ms → 30000 ms)',
        );
      });

      it('names streams validly and never lets two keys share one', () => {
        const keys = ['feathers-sync', 'a.b', 'a:b', 'a_b', 'x'.repeat(255), `${'x'.repeat(254)}.`];
        const names = keys.map(streamNameOf);
        expect(names[0]).toBe('feathers-sync');
        expect(new Set(names).size).toBe(keys.length);
        for (const name of names) {
          expect(name).toMatch(/^[A-Za-z0-9_-]{1,255}$/);
        }
      });

      it('refuses a nats-server older than 2.9.4 with the fix (its JetStream lacks the consumer API)', () => {
        expect(serverTooOld('2.9.3', '127.0.0.1:4222')?.message).toMatch(
          /runs nats-server 2\.9\.3; delivery 'recoverable' needs 2\.9\.4 or newer.*Upgrade the server/,
        );
        for (const version of ['2.9.4', '2.9.10', '2.10.0', '3.0.0']) {
          expect(serverTooOld(version, 'x')).toBeUndefined();
        }
      });

      it('starts at the end of the stream, and after a reconnect reads on from its cursor: nothing replayed, nothing skipped', async () => {
        const server = await ownServer();
        const key = uniqueKey('cursor');
        const publisher = await open(server.uri, key);
        await publishAll(publisher, 'old', range(1, 20));
        const proxy = await proxyTo(server);
        const reader = await open(proxy.uri(server.uri), key);

        await publishAll(publisher, 'a', range(1, 100));
        await waitFor(() => reader.received.length === 100, 'the first 100');
        const cut = proxy.cut(1_500);
        await waitFor(() => reader.statuses.at(-1) === 'reconnecting', 'the drop');
        await publishAll(publisher, 'b', range(1, 100));
        await cut;
        await waitFor(() => reader.received.length >= 200, 'the 100 sent during the cut', 15_000);
        await sleep(300);

        expect(reader.received).toEqual([
          ...range(1, 100).map((n) => `a${n}`),
          ...range(1, 100).map((n) => `b${n}`),
        ]);
        expect(reader.gaps).toEqual([]);
        expect(reader.statuses.at(-1)).toBe('ready');
        // The consumer from before the cut was deleted: one per reader is left.
        const jsm = await manager(server.uri);
        expect(await jsm.consumers.list(streamNameOf(key)).next()).toHaveLength(2);
      });

      it('reports exactly how many messages retention dropped past its cursor, then reads on', async () => {
        const server = await ownServer();
        const key = uniqueKey('trimmed');
        const retention = { maxAgeMs: 60_000, maxEvents: 50 };
        const publisher = await open(server.uri, key, { retention });
        const proxy = await proxyTo(server);
        const reader = await open(proxy.uri(server.uri), key, { retention });

        await publishAll(publisher, 'm', range(1, 10));
        await waitFor(() => reader.received.length === 10, 'the first 10');
        const cut = proxy.cut(1_500);
        await waitFor(() => reader.statuses.at(-1) === 'reconnecting', 'the drop');
        await publishAll(publisher, 'm', range(11, 210));
        await cut;
        await waitFor(() => reader.received.length >= 60, 'the 50 the stream kept', 15_000);
        await sleep(300);

        // The stream kept the last 50 (161…210): 150 were dropped before this reader read them.
        expect(reader.gaps).toEqual([150]);
        expect(reader.received).toEqual([...range(1, 10), ...range(161, 210)].map((n) => `m${n}`));
      });

      it('keeps its own read buffer bounded when it reads slower than the stream fills: the broker holds the rest', async () => {
        const server = await ownServer();
        const key = uniqueKey('slow');
        let handled = 0;
        // Each message costs this receiver 1 ms of blocked event loop: a stalled, slow reader.
        const reader = await open(server.uri, key, {}, () => {
          handled++;
          const until = Date.now() + 1;
          while (Date.now() < until);
        });
        const jsm = await manager(server.uri);
        const [consumer] = await jsm.consumers.list(streamNameOf(key)).next();
        const raw = await connect({ servers: new URL(server.uri).host });
        clients.push(raw);
        const payload = 'x'.repeat(1000);
        for (let n = 0; n < 5000; n++) raw.publish(key, `${payload}${n}`);

        let ahead = 0;
        let held = 0;
        let samples = 0;
        while (handled < 5000) {
          const before = handled;
          const info = await jsm.consumers.info(streamNameOf(key), consumer.name);
          // Sent by the server but not yet handed to the app: at most what this instance buffers.
          ahead = Math.max(ahead, info.delivered.stream_seq - before);
          held = Math.max(held, info.num_pending);
          samples++;
          // Short: the reader's batches leave the loop only brief gaps to sample in.
          await sleep(10);
        }
        expect(samples).toBeGreaterThan(3);
        expect(ahead).toBeLessThanOrEqual(READ_BATCH);
        expect(held).toBeGreaterThan(2000);
        expect(reader.received).toHaveLength(5000);
        expect(reader.received.every((message, n) => message === `${payload}${n}`)).toBe(true);
      });

      it('reads a stream the server lost from its start: what is sent after the restart arrives once', async () => {
        const server = await ownServer();
        const key = uniqueKey('wiped');
        const { lines, logger } = captureLogger();
        const fast = { nats: { connectionOptions: { reconnectTimeWait: 50, reconnectJitter: 0 } } };
        const publisher = await open(server.uri, key, fast);
        const reader = await open(server.uri, key, { ...fast, logger });
        await publishAll(publisher, 'a', range(1, 20));
        await waitFor(() => reader.received.length === 20, 'the first 20');

        await server.restart(300, { signal: 'SIGTERM', wipe: true });
        await waitFor(
          () => [publisher, reader].every((t) => t.statuses.at(-1) === 'ready'),
          'both ready again',
        );
        await publishAll(publisher, 'b', range(1, 30));
        await waitFor(() => reader.received.length >= 50, 'the 30 sent after the restart');
        await sleep(300);

        expect(reader.received).toEqual([
          ...range(1, 20).map((n) => `a${n}`),
          ...range(1, 30).map((n) => `b${n}`),
        ]);
        expect(lines.join('\n')).toMatch(/was created anew .* reading it from its start/);
      });

      it('stores the same bytes once: a resend after a lost PubAck is not stored twice', async () => {
        const server = await ownServer();
        const key = uniqueKey('msgid');
        const opened = await open(server.uri, key);
        // What the core does after a drop: the same serialized event again.
        await opened.transport.publish('same');
        await opened.transport.publish(Buffer.from('same'));
        await opened.transport.publish('other');
        await waitFor(() => opened.received.length >= 2, 'the stored messages');
        await sleep(300);
        expect(opened.received).toEqual(['same', 'other']);
        const { state } = await (await manager(server.uri)).streams.info(streamNameOf(key));
        expect(state.messages).toBe(2);
      });

      it('loses, reorders and repeats nothing when the publisher’s connection is cut mid-burst', async () => {
        const server = await ownServer();
        const key = uniqueKey('burst');
        const fast = { nats: { connectionOptions: { reconnectTimeWait: 50, reconnectJitter: 0 } } };
        const proxy = await proxyTo(server);
        const publisher = await startInstance({
          uri: proxy.uri(server.uri),
          key,
          delivery: 'recoverable',
          ...fast,
        });
        const receiver = await startInstance({ uri: server.uri, key, delivery: 'recoverable' });
        instances = [publisher, receiver];
        await Promise.all(instances.map((instance) => instance.sync.ready));
        const heard = recordEvents(receiver.app, 'todos', ['custom']);

        const count = 3000;
        let n = 0;
        const emitting = new Promise<void>((resolve) => {
          const timer = setInterval(() => {
            for (let i = 0; i < 30 && n < count; i++)
              publisher.app.service('todos').emit('custom', { n: n++ });
            if (n >= count) {
              clearInterval(timer);
              resolve();
            }
          }, 10);
        });
        await sleep(300);
        await proxy.cut(1_000);
        await emitting;
        await waitFor(() => heard.length >= count, `${count} events`, 20_000);
        await sleep(300);

        expect(heard.map((record) => record.data.n)).toEqual(range(0, count - 1));
        expect(publisher.sync.stats()).toEqual(
          expect.objectContaining({ published: count, publishFailed: 0, disconnects: 1 }),
        );
        const { state } = await (await manager(server.uri)).streams.info(streamNameOf(key));
        expect(state.messages).toBe(count);
      });

      it('mixes with feathers-sync 3.1.1 peers on the same subject, both ways', async () => {
        const key = uniqueKey('interop');
        const peer = await startFeathersSyncPeer('nats', key);
        try {
          const instance = await startInstance({ uri: BROKERS.nats, key, delivery: 'recoverable' });
          instances = [instance];
          await instance.sync.ready;
          const ours = recordEvents(instance.app, 'todos', ['created']);
          const theirs = recordEvents(peer, 'todos', ['created']);
          await peer.service('todos').create({ text: 'from feathers-sync' });
          await waitFor(() => ours.length === 1, 'the peer’s event', 15_000);
          await instance.app.service('todos').create({ text: 'from the stream' });
          await waitFor(
            () => theirs.some((r) => r.data.text === 'from the stream'),
            'ours at the peer',
          );
          expect(ours[0].data.text).toBe('from feathers-sync');
        } finally {
          await closeAll(instances);
          await closePeer(peer);
          await (await manager(BROKERS.nats)).streams.delete(streamNameOf(key)).catch(() => false);
        }
      });

      it('closes within closeTimeout and leaves no open handle: the process exits by itself', async () => {
        const dist = join(__dirname, '..', '..', 'dist', 'cjs', 'index.js');
        if (!existsSync(dist)) throw new Error('dist/ is missing: run `npm run build` first');
        const server = await ownServer();
        const script = `
      require('reflect-metadata');
      const { Module } = require('@nestjs/common');
      const { NestFactory } = require('@nestjs/core');
      const { feathers } = require('@feathersjs/feathers');
      const { FeathersSyncModule, SyncService } = require(${JSON.stringify(dist)});
      const [uri, key, client] = process.argv.slice(1);
      async function instance() {
        const app = feathers();
        app.use('todos', { async create(data) { return { id: 1, ...data }; } });
        class M {}
        Module({ imports: [FeathersSyncModule.forRoot({ uri, key, app, delivery: 'recoverable', logger: false, nats: { client } })] })(M);
        const nest = await NestFactory.createApplicationContext(M, { logger: false });
        await nest.get(SyncService).ready;
        return { nest, app };
      }
      (async () => {
        const a = await instance();
        const b = await instance();
        const heard = new Promise((resolve) => b.app.service('todos').once('created', resolve));
        await a.app.service('todos').create({ text: 'bye' });
        await heard;
        const started = Date.now();
        await Promise.all([a.nest.close(), b.nest.close()]);
        process.stdout.write('closed in ' + (Date.now() - started < 5000 ? 'time' : 'too long') + '\\n');
      })().catch((error) => { console.error(error); process.exit(1); });`;
        const { code, output } = await runToExit(
          ['-e', script, server.uri, uniqueKey('exit'), natsClient],
          {
            cwd: join(__dirname, '..', '..'),
          },
        );
        expect({ code, output }).toEqual({ code: 0, output: 'closed in time\n' });
      });

      it('closes promptly while the server is down, and close() is idempotent', async () => {
        const server = await ownServer();
        const opened = await open(server.uri, uniqueKey('down'));
        await server.stop();
        await waitFor(() => opened.statuses.at(-1) === 'reconnecting', 'the drop');
        const started = Date.now();
        const first = opened.transport.close();
        expect(opened.transport.close()).toBe(first);
        await first;
        // Bounded by one reconnect wait (500 ms + up to 500 ms jitter): the dial loop ends there.
        expect(Date.now() - started).toBeLessThan(2_000);
        expect(opened.statuses.filter((status) => status === 'closed')).toEqual(['closed']);
        expect(() => opened.transport.publish('late')).toThrow(/not connected/);
        await server.run();
      });
    },
  );
}
