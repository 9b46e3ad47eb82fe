import { connect } from 'amqplib';
import type { Redis } from 'ioredis';
import { SYNC_TRANSPORT, type FeathersSyncOptions, type SyncDelivery } from '../../src';
import { CANARY_EVENT } from '../../src/core/canary';
import { BROKERS, describeWithBroker, uniqueKey, type BrokerName } from '../support/brokers';
import { recordEvents, sleep, waitFor } from '../support/feathers-app';
import { captureRaw } from '../support/raw-capture';
import { closeAll, startInstance, type Instance } from '../support/instances';
import { newSecret, signingWith } from '../support/signing';
import { capturingLogger, recordStatuses } from '../support/status-log';
import { rabbitmqctl } from '../support/subscriptions';

/** Short enough for tests; `stale` comes after 3 canaries in a row did not come back. */
const HEARTBEAT_MS = 300;
/** Generous: 3 intervals plus scheduling noise on a busy machine. */
const STALE_WITHIN_MS = 3 * HEARTBEAT_MS + 10_000;
const TRANSPORTS: BrokerName[] = ['memory', 'redis', 'amqp', 'nats'];
const DELIVERIES: SyncDelivery[] = ['broadcast', 'recoverable'];

function canaryOf(instance: Instance) {
  const canary = instance.sync.stats().canary;
  if (!canary) throw new Error('the canary is off');
  return canary;
}

for (const [broker, delivery] of TRANSPORTS.flatMap((b) =>
  DELIVERIES.map((d) => [b, d] as const),
)) {
  describeWithBroker(broker, `canary over ${broker} (${delivery})`, () => {
    const base: FeathersSyncOptions = { uri: BROKERS[broker], delivery, heartbeatMs: HEARTBEAT_MS };
    const instances: Instance[] = [];
    afterEach(() => closeAll(instances));
    if (broker === 'amqp' && delivery === 'recoverable') {
      afterAll(async () => (await import('../support/raw/amqp')).deleteTestStreams());
    }

    async function start(options: FeathersSyncOptions): Promise<Instance> {
      const instance = await startInstance(options);
      instances.push(instance);
      await instance.sync.ready;
      return instance;
    }

    it.each([
      ['unsigned', {}],
      ['signed', { signing: signingWith({ k1: newSecret() }, 'k1') }],
    ])(
      'comes back through the subscription (%s), reaches no listener and counts as no event',
      async (_, extra) => {
        const key = uniqueKey('canary');
        const a = await start({ ...base, ...extra, key });
        const b = await start({ ...base, ...extra, key });
        const statuses = [a, b].map((instance) => recordStatuses(instance.sync));
        const heard = [a, b].map((instance) =>
          recordEvents(instance.app, 'todos', [CANARY_EVENT, 'created']),
        );

        await waitFor(
          () => canaryOf(a).returned >= 3 && canaryOf(b).returned >= 3,
          'three canaries back on each instance',
        );
        for (const instance of [a, b]) {
          const stats = instance.sync.stats();
          // Each saw the other's canaries too: none of them is an event.
          expect(stats).toMatchObject({ received: 0, emitted: 0, published: 0, echoes: 0 });
          expect(Object.values(stats.dropped).every((n) => n === 0)).toBe(true);
          expect(stats.canary!.sent).toBeGreaterThanOrEqual(stats.canary!.returned);
          expect(stats.canary!.lastRoundTripMs).toEqual(expect.any(Number));
          expect(stats.status).toBe('ready');
        }
        expect(heard.flat()).toEqual([]);
        expect(statuses.flat().filter((s) => s !== 'ready')).toEqual([]);

        // Real events still flow and count as before.
        await a.app.service('todos').create({ text: 'x' });
        await waitFor(() => heard[1].length === 1, 'the event on b');
        expect(b.sync.stats()).toMatchObject({ received: 1, emitted: 1 });
      },
    );

    it('a subscribe-only instance proves its receive path too, and still sends no event', async () => {
      const key = uniqueKey('canary-sub');
      const listener = await start({ ...base, key, direction: 'subscribe' });
      await waitFor(() => canaryOf(listener).returned >= 2, 'two canaries back');
      await listener.app.service('todos').create({ text: 'local' });
      expect(listener.sync.stats()).toMatchObject({ published: 0, pending: 0, status: 'ready' });
    });

    it('heartbeatMs: 0 and a publish-only instance send no canary', async () => {
      const key = uniqueKey('canary-off');
      const capture = await captureRaw(broker, key, delivery);
      try {
        const off = await start({ ...base, key, heartbeatMs: 0 });
        const publisher = await start({ ...base, key, direction: 'publish' });
        await sleep(4 * HEARTBEAT_MS);
        expect(off.sync.stats().canary).toBeNull();
        expect(publisher.sync.stats().canary).toBeNull();
        expect(capture.messages).toHaveLength(0);
      } finally {
        await capture.close();
      }
    });
  });
}

describeWithBroker(
  'redis',
  'canary over redis: the subscription dropped behind a live connection',
  () => {
    const instances: Instance[] = [];
    afterEach(() => closeAll(instances));

    it('turns stale within 3 intervals, warns once, and is ready again once the canary is back', async () => {
      const key = uniqueKey('canary-deaf');
      const logger = capturingLogger();
      const a = await startInstance({ uri: BROKERS.redis, key, heartbeatMs: HEARTBEAT_MS, logger });
      instances.push(a);
      await a.sync.ready;
      await waitFor(() => canaryOf(a).returned >= 1, 'a first canary back');
      const statuses = recordStatuses(a.sync);
      // UNSUBSCRIBE on the module's own subscriber connection: it stays connected, no reconnect
      // happens, so nothing resubscribes; the instance is deaf while everything looks fine.
      const subscriber = a.nest.get<{ subscriber: Redis }>(SYNC_TRANSPORT).subscriber;
      await subscriber.unsubscribe(key);

      await waitFor(() => a.sync.status === 'stale', 'status stale', STALE_WITHIN_MS);
      expect(subscriber.status).toBe('ready');
      await sleep(3 * HEARTBEAT_MS);
      expect(logger.warnings.filter((w) => w.includes('canaries'))).toHaveLength(1);

      await subscriber.subscribe(key);
      await waitFor(() => a.sync.status === 'ready', 'ready again', STALE_WITHIN_MS);
      expect(statuses).toEqual(['ready', 'stale', 'ready']);
      expect(logger.logs.some((l) => l.includes('canary came back'))).toBe(true);
    });
  },
);

describeWithBroker('amqp', 'canary over amqp: the queue unbound behind a live connection', () => {
  const instances: Instance[] = [];
  afterEach(() => closeAll(instances));

  it('turns stale within 3 intervals and is ready again once the binding is back', async () => {
    const key = uniqueKey('canary-unbound');
    const a = await startInstance({ uri: BROKERS.amqp, key, heartbeatMs: HEARTBEAT_MS });
    instances.push(a);
    await a.sync.ready;
    await waitFor(() => canaryOf(a).returned >= 1, 'a first canary back');
    const statuses = recordStatuses(a.sync);
    const bound = (await rabbitmqctl(['list_bindings', 'source_name', 'destination_name']))
      .filter(([source]) => source === key)
      .map(([, queue]) => queue);
    expect(bound).toHaveLength(1);
    const connection = await connect(BROKERS.amqp);
    try {
      const channel = await connection.createChannel();
      await channel.unbindQueue(bound[0], key, '');

      await waitFor(() => a.sync.status === 'stale', 'status stale', STALE_WITHIN_MS);
      await channel.bindQueue(bound[0], key, '');
      await waitFor(() => a.sync.status === 'ready', 'ready again', STALE_WITHIN_MS);
      expect(statuses).toEqual(['ready', 'stale', 'ready']);
      // No reconnect was involved: the connection stayed up throughout.
      expect(a.sync.stats().disconnects).toBe(0);
    } finally {
      await connection.close();
    }
  });
});
