import { acceptsTcp } from '../support/processes/broker-process';
import { uniqueKey } from '../support/brokers';
import { openDurableBroker, DURABLE_BROKERS, describeWithBinaries } from '../support/durable';
import type { DurableBroker } from '../support/durable/types';
import { recordEvents, sleep, waitFor } from '../support/feathers-app';
import { closeAll, startInstances, type Instance } from '../support/instances';

/**
 * The broker goes away long enough for the reconnection backoff to grow (3 s with its port closed,
 * plus its own stop and start), then comes back on the same port. With the module's default
 * reconnection settings (the broker's fast test settings are not used here), every instance is
 * `ready` again and events flow again, once each, in order. The time from the port reopening to
 * the first event through is printed, not asserted (the machine's load moves it); the unit tests
 * in test/unit/reconnect-delays.spec.ts hold the one-second cap of each client's backoff.
 */
const DOWN_MS = 3_000;
const SEND_EVERY_MS = 50;

/** Resolves with the time the port first accepts again after it was seen closed. */
async function reopening(port: number): Promise<number> {
  while (await acceptsTcp(port)) await sleep(5);
  while (!(await acceptsTcp(port))) await sleep(5);
  return Date.now();
}

for (const name of DURABLE_BROKERS) {
  describeWithBinaries(name, `back after a ${name} restart, with the default backoff`, () => {
    let broker: DurableBroker;
    let instances: Instance[] = [];

    beforeAll(async () => {
      broker = await openDurableBroker(name, { persistent: false });
    }, 120_000);
    afterAll(async () => {
      await broker?.stop();
    });
    afterEach(() => closeAll(instances));

    it('is ready again and the first event after the port reopens arrives, once, in order', async () => {
      const key = uniqueKey('restart');
      instances = await startInstances(2, { uri: broker.uri, key });
      const [origin, receiver] = instances;
      const arrivals: Array<{ n: number; at: number }> = [];
      receiver.app
        .service('todos')
        .on('created', (data: { n: number }) => arrivals.push({ n: data.n, at: Date.now() }));
      const originLog = recordEvents(origin.app, 'todos', ['created']);
      await origin.app.service('todos').create({ n: 0 });
      await waitFor(() => arrivals.length === 1, 'the event before the restart');

      const port = Number(new URL(broker.uri).port);
      const reopened = reopening(port);
      const restarted = broker.restart(DOWN_MS);
      // One event every 50 ms from the outage on: the first one through after the port reopens
      // shows when the link is back (what was sent before may be lost for the receiver in broadcast).
      let n = 0;
      let reopenAt: number | undefined;
      void reopened.then((at) => (reopenAt = at));
      const firstAfterReopen = () =>
        reopenAt !== undefined ? arrivals.find((a) => a.at >= (reopenAt as number)) : undefined;
      const deadline = Date.now() + 120_000;
      while (!firstAfterReopen() && Date.now() < deadline) {
        void origin.app
          .service('todos')
          .create({ n: ++n })
          .catch(() => undefined);
        await sleep(SEND_EVERY_MS);
      }
      await restarted;
      const first = firstAfterReopen();
      expect(first).toBeDefined();
      await waitFor(
        () => instances.every((instance) => instance.sync.status === 'ready'),
        'both instances ready again',
        30_000,
      );
      // The link carries events once more: one sent now reaches the receiver.
      await origin.app.service('todos').create({ n: ++n });
      await waitFor(() => arrivals.at(-1)?.n === n, 'an event sent once ready again', 30_000);

      const heard = arrivals.map((a) => a.n);
      expect(heard).toEqual([...new Set(heard)].sort((a, b) => a - b));
      expect(originLog).toHaveLength(n + 1);
      for (const instance of instances) {
        expect(instance.sync.stats().duplicates).toBe(0);
        expect(instance.sync.stats().disconnects).toBeGreaterThanOrEqual(1);
      }
      console.log(
        `${name}: first event through ${(first as { at: number }).at - (reopenAt as number)} ms ` +
          `after the port reopened (down ${DOWN_MS} ms plus stop and start)`,
      );
    }, 180_000);
  });
}
