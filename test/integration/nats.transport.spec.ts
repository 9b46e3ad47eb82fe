import { connect, type Msg, type NatsConnection } from 'nats';
import {
  FeathersSyncConnectTimeoutError,
  NatsTransport,
  type FeathersSyncOptions,
  type TransportStatus,
} from '../../src';
import { BROKERS, describeWithBroker, uniqueKey } from '../support/brokers';
import { NATS_CLIENTS, onNatsClient } from '../support/nats-clients';
import { recordEvents, sleep, waitFor } from '../support/feathers-app';
import { NatsServer } from '../support/faults/nats';
import { closeAll, type Instance } from '../support/instances';
import { publishRawNats } from '../support/raw/nats';

/** NATS-only guarantees of the transport, beyond the suites every broker runs. */

function captureLogger() {
  const lines: string[] = [];
  const push = (message: unknown) => lines.push(String(message));
  return { lines, logger: { log: push, warn: push, error: push, debug: push, verbose: push } };
}

for (const natsClient of NATS_CLIENTS) {
  describeWithBroker('nats', `the nats:// transport (${natsClient})`, () => {
    const { startInstance, startInstances, transportContext } = onNatsClient(natsClient);
    let instances: Instance[] = [];
    const servers: NatsServer[] = [];
    const clients: NatsConnection[] = [];
    const transports: NatsTransport[] = [];

    async function ownServer(options?: { args?: string[]; start?: boolean }): Promise<NatsServer> {
      const server = await NatsServer.start(options);
      servers.push(server);
      return server;
    }

    async function rawSubscriber(uri: string, key: string): Promise<Msg[]> {
      const client = await connect({ servers: new URL(uri).host });
      clients.push(client);
      const received: Msg[] = [];
      client.subscribe(key, { callback: (error, msg) => !error && received.push(msg) });
      await client.flush();
      return received;
    }

    afterEach(async () => {
      await closeAll(instances);
      await Promise.all(transports.splice(0).map((transport) => transport.close()));
      await Promise.all(clients.splice(0).map((client) => client.close()));
    });
    afterAll(async () => {
      await Promise.all(servers.map((server) => server.stop()));
    });

    it('publishes and subscribes on one connection: subject = key, payload = the serialized bytes, no headers', async () => {
      const server = await ownServer();
      const key = uniqueKey('wire');
      instances = await startInstances(1, {
        uri: server.uri,
        key,
        nats: { connectionOptions: { name: 'nats-transport-spec' } },
      });
      const raw = await rawSubscriber(server.uri, key);
      const todos = instances[0].app.service('todos');
      for (let i = 0; i < 50; i++) await todos.create({ text: `n${i}` });
      await waitFor(() => raw.length === 50, '50 messages on the subject');

      const envelope = JSON.parse(Buffer.from(raw[0].data).toString('utf8'));
      expect(envelope).toEqual(
        expect.objectContaining({ event: 'created', path: 'todos', data: { id: 1, text: 'n0' } }),
      );
      expect(raw[0].subject).toBe(key);
      expect(raw[0].headers).toBeUndefined();
      // feathers-sync opens a connection per event; this transport keeps one, named as configured.
      const ours = (await server.connections()).filter((c) => c.name === 'nats-transport-spec');
      expect(ours).toHaveLength(1);
      expect(ours[0].subscriptions_list).toEqual([key]);
      // The client the suite asked for is the one connected (both report lang "nats.js").
      expect(ours[0].version?.split('.')[0]).toBe(natsClient === 'nats' ? '2' : '3');
    });

    it('delivers 10k events once each, in the order they were emitted', async () => {
      const key = uniqueKey('order');
      instances = await startInstances(2, { uri: BROKERS.nats, key });
      const log = recordEvents(instances[1].app, 'todos', ['custom']);
      const todos = instances[0].app.service('todos');
      const count = 10_000;
      for (let n = 0; n < count; n++) todos.emit('custom', { n });
      await waitFor(() => log.length >= count, `${count} events`, 30_000);
      await sleep(300);
      expect(log).toHaveLength(count);
      expect(log.every((record, index) => record.data.n === index)).toBe(true);
      const receiver = instances[1].sync.stats();
      expect(receiver).toEqual(
        expect.objectContaining({ emitted: count, duplicates: 0, missed: 0, received: count }),
      );
      expect(instances[0].sync.stats()).toEqual(
        expect.objectContaining({ published: count, publishFailed: 0 }),
      );
    });

    it('passes binary payloads through byte for byte, whoever published them', async () => {
      const key = uniqueKey('binary');
      const received: Array<Uint8Array | string> = [];
      const statuses: TransportStatus[] = [];
      const transport = new NatsTransport(
        transportContext('nats', { uri: BROKERS.nats, key }, captureLogger().logger),
      );
      transports.push(transport);
      await transport.open({
        message: (payload) => received.push(payload),
        status: (status) => statuses.push(status),
      });
      await waitFor(() => statuses.includes('ready'), 'ready');

      const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i);
      const notUtf8 = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x00]);
      // Each settles once the server has it (one PING round trip behind the three).
      await Promise.all([
        transport.publish(everyByte),
        transport.publish(notUtf8),
        transport.publish('héllo ✓'),
      ]);
      await publishRawNats(key, [Buffer.from([0x80, 0x81, 0x00, 0xff])]);
      await waitFor(() => received.length === 4, 'four payloads');

      expect(received.every((payload) => payload instanceof Uint8Array)).toBe(true);
      const bytes = received.map((payload) => Buffer.from(payload as Uint8Array));
      expect(bytes[0].equals(Buffer.from(everyByte))).toBe(true);
      expect(bytes[1].equals(notUtf8)).toBe(true);
      expect(bytes[2].toString('utf8')).toBe('héllo ✓');
      expect(bytes[3].equals(Buffer.from([0x80, 0x81, 0x00, 0xff]))).toBe(true);
    });

    it('boots while NATS is down, stays `connecting`, and becomes ready once NATS starts', async () => {
      const server = await ownServer({ start: false });
      const key = uniqueKey('late');
      const a = await startInstance({ uri: server.uri, key, connectTimeout: 60_000 });
      instances = [a];
      await sleep(800);
      expect(a.sync.status).toBe('connecting');
      const local = recordEvents(a.app, 'todos', ['created']);
      await a.app.service('todos').create({ text: 'while down' });
      expect(local).toHaveLength(1);
      expect(a.sync.stats().pending).toBe(1);

      await server.run();
      await a.sync.ready;
      expect(a.sync.status).toBe('ready');
      // Published once NATS has it: the PING behind the PUB came back.
      await waitFor(() => a.sync.stats().published === 1, 'the kept event acknowledged');
      expect(a.sync.stats()).toEqual(expect.objectContaining({ pending: 0, published: 1 }));

      const b = await startInstance({ uri: server.uri, key });
      instances.push(b);
      await b.sync.ready;
      const heard = recordEvents(b.app, 'todos', ['created']);
      await a.app.service('todos').create({ text: 'after start' });
      await waitFor(() => heard.length === 1, 'the event on the second instance');
    });

    it('keeps reconnecting far beyond nats.js’s default limit of 10 attempts', async () => {
      const server = await ownServer();
      const key = uniqueKey('forever');
      const { lines, logger } = captureLogger();
      const options: FeathersSyncOptions = {
        uri: server.uri,
        key,
        logger,
        nats: {
          connectionOptions: { reconnectTimeWait: 20, reconnectJitter: 0 },
          resumeDelay: 100,
        },
      };
      instances = await startInstances(2, options);
      const heard = recordEvents(instances[1].app, 'todos', ['created']);

      await server.stop();
      await waitFor(() => instances.every((i) => i.sync.status === 'reconnecting'), 'the drop');
      // 20 ms between attempts: 10 attempts take 0.2 s, nats.js's defaults give up after ~20 s.
      await sleep(1500);
      expect(instances.every((i) => i.sync.status === 'reconnecting')).toBe(true);
      await server.run();
      await waitFor(() => instances.every((i) => i.sync.status === 'ready'), 'ready again', 15_000);
      await instances[0].app.service('todos').create({ text: 'after the long outage' });
      await waitFor(() => heard.length === 1, 'the event after the outage');
      // nats.js itself never gave the connection up: no fresh connection was needed.
      expect(lines.filter((line) => line.includes('opening a new one'))).toEqual([]);
    });

    it('sends what it kept during a broker restart to peers that reconnect in the same window', async () => {
      const server = await ownServer();
      const key = uniqueKey('resume');
      // The default reconnect timing (500 ms + up to 500 ms jitter) and its default resumeDelay.
      instances = await startInstances(3, { uri: server.uri, key });
      const logs = instances.map((i) => recordEvents(i.app, 'todos', ['created']));
      await instances[0].app.service('todos').create({ text: 'before' });
      await waitFor(() => logs.every((log) => log.length === 1), 'the first event everywhere');

      await server.stop();
      await waitFor(() => instances.every((i) => i.sync.status === 'reconnecting'), 'the drop');
      for (let n = 0; n < 5; n++)
        await instances[n % 3].app.service('todos').create({ text: `${n}` });
      await server.run();
      await waitFor(() => instances.every((i) => i.sync.status === 'ready'), 'ready again', 15_000);
      await waitFor(() => logs.every((log) => log.length === 6), 'every kept event everywhere');
      await sleep(300);
      for (const instance of instances) {
        expect(instance.sync.stats()).toEqual(
          expect.objectContaining({ missed: 0, duplicates: 0, publishFailed: 0, pending: 0 }),
        );
      }
    });

    it('closes promptly while disconnected, and while the first connection is still pending', async () => {
      const server = await ownServer();
      const key = uniqueKey('close');
      const connected = await startInstance({ uri: server.uri, key });
      await connected.sync.ready;
      const down = await ownServer({ start: false });
      const pending = await startInstance({ uri: down.uri, key });
      instances = [connected, pending];

      await server.stop();
      await waitFor(() => connected.sync.status === 'reconnecting', 'the drop');
      const started = Date.now();
      await closeAll(instances);
      // Bounded by one reconnect wait (500 ms + up to 500 ms jitter): the dial loops end there.
      expect(Date.now() - started).toBeLessThan(2000);
      expect(connected.sync.status).toBe('closed');
      expect(pending.sync.status).toBe('closed');
    });

    it('close() is idempotent and reports `closed` once', async () => {
      const statuses: TransportStatus[] = [];
      const transport = new NatsTransport(
        transportContext(
          'nats',
          { uri: BROKERS.nats, key: uniqueKey('idempotent') },
          captureLogger().logger,
        ),
      );
      await transport.open({ message: () => undefined, status: (status) => statuses.push(status) });
      await waitFor(() => statuses.includes('ready'), 'ready');
      const first = transport.close();
      expect(transport.close()).toBe(first);
      await first;
      await transport.close();
      expect(statuses.filter((status) => status === 'closed')).toEqual(['closed']);
      expect(() => transport.publish('late')).toThrow(/not connected/);
    });

    it('uses credentials from the uri (user:pass and token) and never logs them', async () => {
      const password = 'pw-Secr3t-4-nats';
      const token = 'tok-Secr3t-4-nats';
      const userServer = await ownServer({ args: ['--user', 'alice', '--pass', password] });
      const tokenServer = await ownServer({ args: ['--auth', token] });
      const { lines, logger } = captureLogger();
      const userUri = `nats://alice:${password}@127.0.0.1:${userServer.port}`;
      const tokenUri = `nats://${token}@127.0.0.1:${tokenServer.port}`;

      const withUser = await startInstance({ uri: userUri, key: uniqueKey(), logger });
      const withToken = await startInstance({ uri: tokenUri, key: uniqueKey(), logger });
      const withOptions = await startInstance({
        uri: `nats://127.0.0.1:${userServer.port}`,
        key: uniqueKey(),
        logger,
        nats: { connectionOptions: { user: 'alice', pass: password } },
      });
      const wrong = await startInstance({
        uri: `nats://alice:wrong-${password}@127.0.0.1:${userServer.port}`,
        key: uniqueKey(),
        logger,
        connectTimeout: 1500,
      });
      instances = [withUser, withToken, withOptions, wrong];
      await Promise.all([withUser.sync.ready, withToken.sync.ready, withOptions.sync.ready]);

      // A drop and a reconnect log the address; a refused password logs the server's answer.
      await userServer.restart();
      await waitFor(() => withUser.sync.status === 'ready', 'ready after the restart', 15_000);
      const refused = await wrong.sync.ready.then(
        () => new Error('ready resolved'),
        (error: Error) => error,
      );
      expect(refused).toBeInstanceOf(FeathersSyncConnectTimeoutError);
      // Logged at a refused attempt; attempts after a refusal back off (up to 30 s), and a loaded
      // machine can delay the first: wait long enough for one more.
      await waitFor(
        () => lines.some((line) => /authorization violation/i.test(line)),
        'the refused credentials in the log',
        30_000,
      );
      await closeAll(instances);

      const text = lines.join('\n') + refused.message;
      expect(text).toContain('Resubscribed');
      expect(text).not.toContain(password);
      expect(text).not.toContain(token);
    }, 90_000);

    it('takes a servers list with credentials in the first entry, and connects to the one that answers', async () => {
      const password = 'pw-List-Secr3t';
      const live = await ownServer({ args: ['--user', 'alice', '--pass', password] });
      const down = await ownServer({ start: false });
      const { lines, logger } = captureLogger();
      const uri = `nats://alice:${password}@127.0.0.1:${down.port},127.0.0.1:${live.port}`;
      const key = uniqueKey('list');
      instances = [
        await startInstance({ uri, key, logger }),
        await startInstance({ uri, key, logger }),
      ];
      await Promise.all(instances.map((instance) => instance.sync.ready));
      const log = recordEvents(instances[1].app, 'todos', ['created']);
      await instances[0].app.service('todos').create({ text: 'over the list' });
      await waitFor(() => log.length === 1, 'the event on the other instance');
      expect((await live.connections()).length).toBe(2);
      await closeAll(instances);
      expect(lines.join('\n')).not.toContain(password);
    });

    it('tls:// requires TLS: it never talks in clear to a server without TLS', async () => {
      const plain = await ownServer();
      const { lines, logger } = captureLogger();
      const instance = await startInstance({
        uri: `tls://127.0.0.1:${plain.port}`,
        key: uniqueKey('tls'),
        logger,
        connectTimeout: 1500,
      });
      instances = [instance];
      await expect(instance.sync.ready).rejects.toBeInstanceOf(FeathersSyncConnectTimeoutError);
      await waitFor(() => lines.some((line) => /tls/i.test(line)), 'the TLS refusal in the log');
      expect(await plain.connections()).toHaveLength(0);
    });
  });
}
