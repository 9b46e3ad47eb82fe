import type { FeathersSyncOptions, SyncDelivery } from '../../src';
import { BROKERS, describeWithBroker, uniqueKey, type BrokerName } from '../support/brokers';
import {
  createFeathersApp,
  recordEvents,
  sleep,
  TodoService,
  waitFor,
  type Received,
  type TestApp,
} from '../support/feathers-app';
import { closeAll, startInstance, type Instance } from '../support/instances';
import { natsHasNoResponders, receiversAtBroker } from '../support/subscriptions';

/** `services` and `direction` on every transport, in both delivery modes. */
const TRANSPORTS: BrokerName[] = ['memory', 'redis', 'amqp', 'nats'];
const DELIVERIES: SyncDelivery[] = ['broadcast', 'recoverable'];
const PATHS = ['todos', 'notes', 'admin/logs'];
/** Time allowed for a message that must NOT arrive to show up anyway before we conclude. */
const QUIET_MS = 500;

function appWithServices(): TestApp {
  const app = createFeathersApp();
  app.use('notes', new TodoService());
  app.use('admin/logs', new TodoService());
  return app;
}

/** `path` → texts of the `created` events heard there. */
function listen(app: TestApp): Record<string, Received[]> {
  return Object.fromEntries(PATHS.map((path) => [path, recordEvents(app, path, ['created'])]));
}

function texts(log: Record<string, Received[]>): string[] {
  return PATHS.flatMap((path) => log[path].map((r) => `${path}:${String(r.data.text)}`)).sort();
}

async function createEverywhere(instance: Instance, name: string): Promise<void> {
  for (const path of PATHS) await instance.app.service(path).create({ text: name });
}

for (const [broker, delivery] of TRANSPORTS.flatMap((b) =>
  DELIVERIES.map((d) => [b, d] as const),
)) {
  describeWithBroker(broker, `routing over ${broker} (${delivery})`, () => {
    const base: FeathersSyncOptions = { uri: BROKERS[broker], delivery, heartbeatMs: 0 };
    const instances: Instance[] = [];
    afterEach(() => closeAll(instances));
    if (broker === 'amqp' && delivery === 'recoverable') {
      afterAll(async () => (await import('../support/raw/amqp')).deleteTestStreams());
    }

    async function start(options: FeathersSyncOptions): Promise<Instance> {
      const instance = await startInstance(options, appWithServices());
      instances.push(instance);
      await instance.sync.ready;
      return instance;
    }

    it('services.include / services.exclude: left-out services are neither sent nor emitted when received', async () => {
      const key = uniqueKey('routing');
      const a = await start({ ...base, key, services: { include: ['todos', '/notes/'] } });
      const b = await start({ ...base, key, services: { exclude: [/^admin\//, 'notes'] } });
      const c = await start({ ...base, key });
      const logs = [a, b, c].map((instance) => listen(instance.app));

      await createEverywhere(a, 'a');
      await createEverywhere(b, 'b');
      // c hears from a its included services, from b all but what b excludes.
      await waitFor(
        () =>
          texts(logs[2]).length >= 3 && texts(logs[1]).length >= 4 && texts(logs[0]).length >= 4,
        'every instance hears what it should',
      );
      await sleep(QUIET_MS);

      // Local events are never filtered: each origin hears its own three.
      expect(texts(logs[0]).filter((t) => t.endsWith(':a'))).toHaveLength(3);
      expect(texts(logs[1]).filter((t) => t.endsWith(':b'))).toHaveLength(3);
      // a sends todos and notes; b drops notes on receipt.
      expect(texts(logs[1]).filter((t) => t.endsWith(':a'))).toEqual(['todos:a']);
      // b sends todos only (it excludes notes and admin/logs).
      expect(texts(logs[0]).filter((t) => t.endsWith(':b'))).toEqual(['todos:b']);
      expect(texts(logs[2])).toEqual(['notes:a', 'todos:a', 'todos:b']);
      // b's filter on receipt is counted; a sent nothing b could not take but notes.
      expect(b.sync.stats().filtered).toBe(1);
      expect(a.sync.stats().published).toBe(2);
      expect(b.sync.stats().published).toBe(1);
    });

    it("direction 'publish' sends but opens no subscription; 'subscribe' hears but never sends", async () => {
      const key = uniqueKey('direction');
      const [publisherName, listenerName] = [uniqueKey('pub'), uniqueKey('sub')];
      const publisher = await start({
        ...base,
        key,
        direction: 'publish',
        redis: { options: { connectionName: publisherName } },
      });
      // Alone on the key: the broker holds no receiver for it.
      if (broker === 'nats' && delivery === 'broadcast') {
        expect(await natsHasNoResponders(key)).toBe(true);
      } else if (broker !== 'memory') {
        expect(await receiversAtBroker(broker, key, delivery, publisherName)).toBe(0);
      }
      const listener = await start({
        ...base,
        key,
        direction: 'subscribe',
        redis: { options: { connectionName: listenerName } },
      });
      // The same probes see the listener's subscription: they can fail.
      if (broker === 'nats' && delivery === 'broadcast') {
        expect(await natsHasNoResponders(key)).toBe(false);
      } else if (broker !== 'memory') {
        expect(await receiversAtBroker(broker, key, delivery, listenerName)).toBe(1);
        expect(await receiversAtBroker(broker, key, delivery, publisherName)).toBe(
          broker === 'redis' && delivery === 'recoverable' ? 0 : 1,
        );
      }
      const both = await start({ ...base, key });
      const logs = [publisher, listener, both].map((instance) => listen(instance.app));

      await publisher.app.service('todos').create({ text: 'p' });
      await listener.app.service('todos').create({ text: 's' });
      await both.app.service('todos').create({ text: 'b' });
      await waitFor(
        () => texts(logs[1]).length >= 3 && texts(logs[2]).length >= 2,
        'the publisher’s event on both others',
      );
      await sleep(QUIET_MS);

      expect(texts(logs[0])).toEqual(['todos:p']); // its own only: it receives nothing
      expect(texts(logs[1])).toEqual(['todos:b', 'todos:p', 'todos:s']); // its own stays local
      expect(texts(logs[2])).toEqual(['todos:b', 'todos:p']);
      expect(publisher.sync.stats()).toMatchObject({ received: 0, published: 1 });
      expect(listener.sync.stats()).toMatchObject({ published: 0, emitted: 2 });
      expect(publisher.sync.status).toBe('ready');
    });
  });
}
