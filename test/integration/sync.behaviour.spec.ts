import { serialize as v8Serialize, deserialize as v8Deserialize } from 'node:v8';
import { SYNC, isSyncedEvent, type SyncDelivery } from '../../src';
import { BROKERS, describeWithBroker, uniqueKey, type BrokerName } from '../support/brokers';
import {
  createFeathersApp,
  recordEvents,
  sleep,
  TodoService,
  waitFor,
} from '../support/feathers-app';
import { closeAll, startInstance, startInstances, type Instance } from '../support/instances';
import { NATS_CLIENTS } from '../support/nats-clients';
import type { NatsClientName } from '../../src/options/transport-options';
import { publishRaw } from '../support/raw-broker';

/** The behaviour every transport must show, run once per broker against the real brokers. */
const TRANSPORTS: BrokerName[] = ['memory', 'redis', 'amqp', 'nats'];

/** Time allowed for a message that must NOT arrive to show up anyway before we conclude. */
const QUIET_MS = 300;

/** Everything that holds for the broker's pub/sub holds for its durable log too. */
const DELIVERIES: SyncDelivery[] = ['broadcast', 'recoverable'];

interface Variant {
  broker: BrokerName;
  client?: NatsClientName;
  label: string;
}

/** NATS runs with each of its clients (the 3.x packages and nats 2.x); other brokers have one. */
const VARIANTS = TRANSPORTS.flatMap((broker): Variant[] =>
  broker === 'nats'
    ? NATS_CLIENTS.map((client) => ({ broker, client, label: `${broker}, ${client}` }))
    : [{ broker, label: broker }],
);

for (const [{ broker, client, label }, delivery] of VARIANTS.flatMap((v) =>
  DELIVERIES.map((d) => [v, d] as const),
)) {
  describeWithBroker(broker, `sync behaviour over ${label} (${delivery})`, () => {
    const uri = BROKERS[broker];
    const mode = { uri, delivery, ...(client ? { nats: { client } } : {}) };
    let instances: Instance[] = [];
    afterEach(() => closeAll(instances));
    // Stream queues are durable: delete the ones these tests declared on the shared RabbitMQ.
    if (broker === 'amqp' && delivery === 'recoverable') {
      afterAll(async () => (await import('../support/raw/amqp')).deleteTestStreams());
    }

    it('reports its type and becomes ready', async () => {
      instances = await startInstances(1, { ...mode, key: uniqueKey() });
      expect(instances[0].sync.type).toBe(broker);
      expect(instances[0].sync.status).toBe('ready');
    });

    it('delivers every standard event and a custom event exactly once on every instance, with the origin context', async () => {
      instances = await startInstances(3, { ...mode, key: uniqueKey() });
      const events = ['created', 'updated', 'patched', 'removed', 'custom'];
      const logs = instances.map((i) => recordEvents(i.app, 'todos', events));
      const todos = instances[0].app.service('todos');
      const params = { provider: 'rest', user: { id: 7, name: 'ada' }, query: { $limit: 1 } };

      const created = await todos.create({ text: 'a' }, params);
      await todos.update(created.id, { text: 'b' }, params);
      await todos.patch(created.id, { text: 'c' }, params);
      await todos.remove(created.id, params);
      todos.emit('custom', { hello: 'world' });

      await waitFor(() => logs.every((log) => log.length >= 5), 'five events on every instance');
      await sleep(QUIET_MS);
      for (const [index, log] of logs.entries()) {
        expect(log.map((r) => r.event)).toEqual(events);
        const [c, u, p, r, custom] = log;
        expect(c.data).toEqual({ id: created.id, text: 'a' });
        expect(u.data).toEqual({ id: created.id, text: 'b' });
        expect(p.data).toEqual({ id: created.id, text: 'c' });
        expect(r.data).toEqual({ id: created.id, text: 'c' });
        expect(custom.data).toEqual({ hello: 'world' });
        for (const [i, method] of ['create', 'update', 'patch', 'remove'].entries()) {
          const ctx = log[i].context;
          expect(ctx.path).toBe('todos');
          expect(ctx.method).toBe(method);
          expect(ctx.result).toEqual(log[i].data);
          expect(ctx.params).toEqual(params);
          if (method !== 'create') expect(ctx.id).toBe(created.id);
          // The origin hears its own events at once, as local events; others as synced events.
          expect(isSyncedEvent(ctx)).toBe(index !== 0);
          if (index !== 0) {
            expect(ctx.app).toBe(instances[index].app);
            expect(ctx.service).toBe(instances[index].app.service('todos'));
            expect(ctx.sync.origin).toBe(instances[0].sync.instanceId);
          }
        }
      }
      const origin = instances[0].sync.stats();
      expect(origin.published).toBe(5);
      expect(origin.echoes).toBe(5);
      expect(origin.emitted).toBe(0);
      for (const other of instances.slice(1)) {
        const stats = other.sync.stats();
        expect(stats.emitted).toBe(5);
        expect(stats.duplicates).toBe(0);
        expect(stats.missed).toBe(0);
      }
    });

    it('keeps events local when a hook sets context[SYNC] = false', async () => {
      instances = await startInstances(2, { ...mode, key: uniqueKey() });
      instances[0].app.service('todos').hooks({
        before: {
          create: [
            (context: any) => {
              if (context.data.local) context[SYNC] = false;
            },
          ],
        },
      });
      const logs = instances.map((i) => recordEvents(i.app, 'todos', ['created']));
      await instances[0].app.service('todos').create({ text: 'only here', local: true });
      await instances[0].app.service('todos').create({ text: 'everywhere' });
      await waitFor(() => logs[1].length >= 1, 'the synced event');
      await sleep(QUIET_MS);
      expect(logs[0].map((r) => r.data.text)).toEqual(['only here', 'everywhere']);
      expect(logs[1].map((r) => r.data.text)).toEqual(['everywhere']);
    });

    it('keeps undeclared events local', async () => {
      instances = await startInstances(2, { ...mode, key: uniqueKey() });
      const logs = instances.map((i) => recordEvents(i.app, 'todos', ['undeclared', 'custom']));
      instances[0].app.service('todos').emit('undeclared', { n: 1 });
      instances[0].app.service('todos').emit('custom', { n: 2 });
      await waitFor(() => logs[1].length >= 1, 'the declared event');
      await sleep(QUIET_MS);
      expect(logs[0].map((r) => r.event)).toEqual(['undeclared', 'custom']);
      expect(logs[1].map((r) => r.event)).toEqual(['custom']);
    });

    it('syncs events listed in serviceEvents, which feathers-sync ignores', async () => {
      const key = uniqueKey();
      const register = (app: ReturnType<typeof createFeathersApp>) =>
        app.use('boards', new TodoService(), { serviceEvents: ['created', 'archived'] });
      const apps = [createFeathersApp(), createFeathersApp()];
      apps.forEach(register);
      instances = [
        await startInstance({ ...mode, key }, apps[0]),
        await startInstance({ ...mode, key }, apps[1]),
      ];
      await Promise.all(instances.map((i) => i.sync.ready));
      const log = recordEvents(apps[1], 'boards', ['archived']);
      apps[0].service('boards').emit('archived', { id: 1 });
      await waitFor(() => log.length === 1, 'the serviceEvents event');
    });

    it('syncs services registered after the module attached', async () => {
      instances = await startInstances(2, { ...mode, key: uniqueKey() });
      for (const instance of instances) instance.app.use('late', new TodoService());
      const log = recordEvents(instances[1].app, 'late', ['created']);
      await instances[0].app.service('late').create({ text: 'late' });
      await waitFor(() => log.length === 1, 'the late service event');
      expect(log[0].context.path).toBe('late');
    });

    it('does not mix apps that use different keys', async () => {
      const a = await startInstances(2, { ...mode, key: uniqueKey('a') });
      const b = await startInstances(1, { ...mode, key: uniqueKey('b') });
      instances = [...a, ...b];
      const logA = recordEvents(a[1].app, 'todos', ['created']);
      const logB = recordEvents(b[0].app, 'todos', ['created']);
      await a[0].app.service('todos').create({ text: 'for a' });
      await waitFor(() => logA.length === 1, 'the event on the same key');
      await sleep(QUIET_MS);
      expect(logB).toEqual([]);
      expect(b[0].sync.stats().received).toBe(0);
    });

    it('round-trips a Date through a custom binary serializer', async () => {
      instances = await startInstances(2, {
        ...mode,
        key: uniqueKey(),
        serialize: (envelope) => v8Serialize(envelope),
        deserialize: (payload) => v8Deserialize(Buffer.from(payload as Uint8Array)),
      });
      const log = recordEvents(instances[1].app, 'todos', ['created']);
      const when = new Date('2020-02-02T02:02:02.000Z');
      await instances[0].app.service('todos').create({ text: 'dated', when });
      await waitFor(() => log.length === 1, 'the binary event');
      // v8.deserialize builds Dates of Node's realm, not jest's sandbox: compare by tag, not instanceof.
      expect(Object.prototype.toString.call(log[0].data.when)).toBe('[object Date]');
      expect(log[0].data.when.getTime()).toBe(when.getTime());
      expect(Object.prototype.toString.call(log[0].context.result.when)).toBe('[object Date]');
    });

    it('rebuilds the same contexts from the lean envelope, with the data sent once', async () => {
      const run = async (envelope: 'compatible' | 'lean') => {
        const bytes: number[] = [];
        const key = uniqueKey(envelope);
        const serialize = (value: unknown) => {
          const text = JSON.stringify(value);
          bytes.push(Buffer.byteLength(text));
          return text;
        };
        const group = [
          await startInstance({ ...mode, key, envelope, serialize }),
          await startInstance({ ...mode, key, envelope, serialize }),
        ];
        instances.push(...group);
        await Promise.all(group.map((i) => i.sync.ready));
        const log = recordEvents(group[1].app, 'todos', [
          'created',
          'patched',
          'removed',
          'custom',
        ]);
        const todos = group[0].app.service('todos');
        const created = await todos.create({ text: 'x'.repeat(200) });
        await todos.patch(created.id, { text: 'y' }, { provider: 'rest', user: { id: 1 } });
        await todos.remove(created.id);
        todos.emit('custom', { n: 1 });
        todos.emit('custom', { n: 2 }, { some: 'plain context' });
        await waitFor(() => log.length === 5, `five ${envelope} events`);
        const strip = ({ app: _a, service: _s, sync: _y, ...rest }: any) => rest;
        return {
          bytes,
          seen: log.map((r) => ({ event: r.event, data: r.data, context: strip(r.context) })),
        };
      };
      const compatible = await run('compatible');
      const lean = await run('lean');
      expect(lean.seen).toEqual(compatible.seen);
      const dataBytes = Buffer.byteLength(JSON.stringify({ id: 1, text: 'x'.repeat(200) }));
      expect(lean.bytes[0]).toBeLessThanOrEqual(1.3 * dataBytes);
      expect(lean.bytes[0]).toBeLessThan(compatible.bytes[0]);
    });

    it('sends a burst of lean events as few broker messages, in order, each once', async () => {
      const key = uniqueKey('burst');
      instances = await startInstances(2, { ...mode, key, envelope: 'lean' });
      const log = recordEvents(instances[1].app, 'todos', ['custom']);
      const todos = instances[0].app.service('todos');
      for (let n = 0; n < 1500; n++) todos.emit('custom', { n });
      await waitFor(() => log.length === 1500, '1500 events', 20_000);
      await sleep(QUIET_MS);
      expect(log.map((r) => r.data.n)).toEqual(Array.from({ length: 1500 }, (_, n) => n));
      const receiver = instances[1].sync.stats();
      expect(receiver.emitted).toBe(1500);
      expect(receiver.received).toBeLessThan(20);
      expect(instances[0].sync.stats().published).toBe(1500);
    });

    it('sends large lean events alone and small ones batched, in order, each once', async () => {
      const key = uniqueKey('lean-large');
      instances = await startInstances(2, { ...mode, key, envelope: 'lean' });
      const log = recordEvents(instances[1].app, 'todos', ['custom']);
      const sent: string[] = [];
      instances[0].app.on('sync-out', (payload: string) => sent.push(payload));
      const todos = instances[0].app.service('todos');
      // One turn: small, small, large (10 KB), small, large, small.
      const sizes = [10, 10, 10_000, 10, 10_000, 10];
      sizes.forEach((size, n) => todos.emit('custom', { n, text: 'é'.repeat(size) }));
      await waitFor(() => log.length === sizes.length, `${sizes.length} events`, 20_000);
      await sleep(QUIET_MS);
      expect(log.map((r) => [r.data.n, r.data.text.length])).toEqual(
        sizes.map((size, n) => [n, size]),
      );
      // Each large one is a message of its own; the small ones around them are batched.
      expect(sent).toHaveLength(5);
      expect(sent.map((payload) => payload.length > 10_000)).toEqual([
        false,
        true,
        false,
        true,
        false,
      ]);
      expect(instances[1].sync.stats()).toMatchObject({ received: 5, emitted: 6, duplicates: 0 });
    });

    it('delivers with a deserializer that returns frozen objects (the context is then copied)', async () => {
      const freeze = (value: unknown): unknown => {
        if (value !== null && typeof value === 'object') {
          for (const inner of Object.values(value)) freeze(inner);
          Object.freeze(value);
        }
        return value;
      };
      instances = await startInstances(2, {
        ...mode,
        key: uniqueKey('frozen'),
        deserialize: (payload: string | Uint8Array) => freeze(JSON.parse(String(payload))),
      });
      const log = recordEvents(instances[1].app, 'todos', ['created']);
      await instances[0].app.service('todos').create({ text: 'cold' });
      await waitFor(() => log.length === 1, 'the event');
      expect(log[0].data).toMatchObject({ text: 'cold' });
      expect(log[0].context.sync.origin).toBe(instances[0].sync.instanceId);
      expect(instances[1].sync.stats().dropped.listenerError).toBe(0);
    });

    // Serializers whose output is not the envelope's own JSON: lean bursts must still arrive.
    const customSerializers = {
      'superjson-like': {
        serialize: (value: unknown) => JSON.stringify({ json: value, meta: { values: {} } }),
        deserialize: (payload: string | Uint8Array) => JSON.parse(String(payload)).json,
      },
      'base64 of JSON': {
        serialize: (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64'),
        deserialize: (payload: string | Uint8Array) =>
          JSON.parse(Buffer.from(String(payload), 'base64').toString()),
      },
      'binary (v8)': {
        serialize: (value: unknown) => v8Serialize(value),
        deserialize: (payload: string | Uint8Array) =>
          v8Deserialize(Buffer.from(payload as Uint8Array)),
      },
    };
    for (const [name, serializer] of Object.entries(customSerializers)) {
      it(`delivers lean bursts of 1, 2, 500 and 2,000 events exactly once with a ${name} serializer`, async () => {
        instances = await startInstances(3, {
          ...mode,
          key: uniqueKey('lean-serializer'),
          envelope: 'lean',
          ...serializer,
        });
        const logs = instances.map((i) => recordEvents(i.app, 'todos', ['custom']));
        const todos = instances[0].app.service('todos');
        let sent = 0;
        for (const burst of [1, 2, 500, 2000]) {
          // One event-loop turn per burst: what the lean envelope batches.
          for (let i = 0; i < burst; i++) todos.emit('custom', { n: sent++ });
          await waitFor(
            () => logs.every((log) => log.length === sent),
            `${sent} events on every instance`,
            20_000,
          );
        }
        await sleep(QUIET_MS);
        const expected = Array.from({ length: sent }, (_, n) => n);
        for (const log of logs) expect(log.map((r) => r.data.n)).toEqual(expected);
        for (const other of instances.slice(1)) {
          const stats = other.sync.stats();
          expect(stats.emitted).toBe(sent);
          expect(stats.duplicates).toBe(0);
          expect(stats.missed).toBe(0);
          expect(Object.values(stats.dropped).every((n) => n === 0)).toBe(true);
        }
      });
    }

    it('drops and counts malformed messages, pollutes no prototype, and keeps delivering', async () => {
      const key = uniqueKey();
      instances = await startInstances(1, { ...mode, key });
      const log = recordEvents(instances[0].app, 'todos', ['created', 'custom']);
      const good = (text: string) =>
        JSON.stringify({ event: 'created', path: 'todos', data: { id: 1, text } });
      await publishRaw(broker, key, delivery, [
        'not json {',
        Buffer.from([0xff, 0xfe, 0x00, 0x01]),
        JSON.stringify([1, 2, 3]),
        JSON.stringify({ event: 42, path: 'todos' }),
        JSON.stringify({ event: 'created', path: 'todos', context: 'nope' }),
        JSON.stringify({ event: 'created', path: 'nowhere', data: {} }),
        JSON.stringify({ event: 'unheard', path: 'todos', data: {} }),
        '{"event":"created","path":"todos","data":{"__proto__":{"polluted":true}}}',
        '{"event":"created","path":"todos","data":{},"context":{"params":{"constructor":{"prototype":{"polluted":true}}}}}',
        '{"event":"created","path":"todos","data":{"\\u005f_proto__":{"polluted":true}}}',
        good('after the bad ones'),
      ]);
      await waitFor(() => log.length === 1, 'the valid event after the bad ones');
      await sleep(QUIET_MS);
      expect(log.map((r) => r.data.text)).toEqual(['after the bad ones']);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
      const stats = instances[0].sync.stats();
      expect(stats.received).toBe(11);
      expect(stats.emitted).toBe(1);
      expect(stats.dropped).toEqual(
        expect.objectContaining({
          decode: 2,
          shape: 3,
          unknownService: 1,
          unknownEvent: 1,
          forbiddenKey: 3,
        }),
      );
    });

    it("reports a jump in a sender's sequence once: in missed, on gaps$ and as sync-gap", async () => {
      const key = uniqueKey('gap');
      instances = await startInstances(1, { ...mode, key });
      const [instance] = instances;
      const log = recordEvents(instance.app, 'todos', ['created']);
      const gaps: unknown[] = [];
      const appGaps: unknown[] = [];
      instance.sync.gaps$.subscribe((gap) => gaps.push(gap));
      instance.app.on('sync-gap', (gap: unknown) => appGaps.push(gap));
      const envelope = (seq: number) =>
        JSON.stringify({
          sync: { v: 1, origin: 'another-instance', seq },
          event: 'created',
          path: 'todos',
          data: { id: seq },
        });
      await publishRaw(broker, key, delivery, [1, 2, 6, 6, 7].map(envelope));
      await waitFor(() => log.length === 4, 'the four distinct events');
      await sleep(QUIET_MS);
      expect(log.map((r) => r.data.id)).toEqual([1, 2, 6, 7]);
      expect(gaps).toEqual([{ origin: 'another-instance', missing: 3 }]);
      expect(appGaps).toEqual(gaps);
      expect(instance.sync.stats()).toEqual(
        expect.objectContaining({ missed: 3, duplicates: 1, emitted: 4 }),
      );
    });

    it('status$ gives the current status at once, then every change, and completes on close', async () => {
      instances = await startInstances(1, { ...mode, key: uniqueKey() });
      const seen: string[] = [];
      let completed = false;
      instances[0].sync.status$.subscribe({
        next: (status) => seen.push(status),
        complete: () => (completed = true),
      });
      expect(seen).toEqual(['ready']);
      await closeAll(instances);
      expect(seen).toEqual(['ready', 'closed']);
      expect(completed).toBe(true);
    });

    it('drops messages larger than maxMessageSize', async () => {
      const key = uniqueKey();
      instances = await startInstances(1, { ...mode, key, maxMessageSize: 1024 });
      const log = recordEvents(instances[0].app, 'todos', ['created']);
      await publishRaw(broker, key, delivery, [
        JSON.stringify({ event: 'created', path: 'todos', data: { text: 'x'.repeat(2048) } }),
        JSON.stringify({ event: 'created', path: 'todos', data: { text: 'small' } }),
      ]);
      await waitFor(() => log.length === 1, 'the small event');
      expect(log[0].data.text).toBe('small');
      expect(instances[0].sync.stats().dropped.tooLarge).toBe(1);
    });

    it('keeps one listener throwing from stopping the subscription', async () => {
      instances = await startInstances(2, { ...mode, key: uniqueKey() });
      let calls = 0;
      instances[1].app.service('todos').on('created', () => {
        calls++;
        if (calls === 1) throw new Error('listener bug');
      });
      await instances[0].app.service('todos').create({ text: 'one' });
      await instances[0].app.service('todos').create({ text: 'two' });
      await waitFor(() => calls === 2, 'both events despite the throwing listener');
      expect(instances[1].sync.stats().dropped.listenerError).toBe(1);
    });
  });
}
