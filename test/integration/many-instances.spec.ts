import type { SyncDelivery } from '../../src';
import { BROKERS, describeWithBroker, uniqueKey, type BrokerName } from '../support/brokers';
import { delivery, Fleet, type InstanceReport } from '../support/fleet';
import { sleep } from '../support/processes/broker-process';

/**
 * Sixteen instances, each a process of its own, on one broker: every event of every instance is
 * emitted exactly once on each of them, in its origin's order. Nothing is cut, so the machine's
 * shared brokers serve. A few events per instance keep it short: it is the fan-out that is tested.
 */
const FLEET_SIZE = 16;
const EVENTS_PER_INSTANCE = 10;
const BROKER_NAMES: Array<Exclude<BrokerName, 'memory'>> = ['redis', 'amqp', 'nats'];
const DELIVERIES: SyncDelivery[] = ['broadcast', 'recoverable'];
const CATCH_UP_MS = 30_000;

for (const broker of BROKER_NAMES) {
  describeWithBroker(broker, `${FLEET_SIZE} instances on one ${broker} broker`, () => {
    let fleet: Fleet | undefined;
    afterEach(async () => {
      await fleet?.stop();
      fleet = undefined;
    });
    // Stream queues are durable: delete the ones these tests declared on the shared RabbitMQ.
    if (broker === 'amqp') {
      afterAll(async () => (await import('../support/raw/amqp')).deleteTestStreams());
    }

    it.each(DELIVERIES)('%s: every event exactly once on each instance, in order', async (mode) => {
      const key = uniqueKey('fleet16');
      const running = await Fleet.start(FLEET_SIZE, () => ({
        uri: BROKERS[broker],
        key,
        delivery: mode,
      }));
      fleet = running;
      // 10 events from each instance, all at once: 100/s for 100 ms.
      const sent = await Promise.all(
        running.instances.map((instance) => instance.publish(100, 100)),
      );
      expect(sent).toEqual(Array(FLEET_SIZE).fill(EVENTS_PER_INSTANCE));

      const origins = running.instances.map((instance) => instance.index);
      const heardAll = (report: InstanceReport) =>
        origins.every((origin) => delivery(report.received[origin], sent[origin]).missing === 0);
      const deadline = Date.now() + CATCH_UP_MS;
      let reports = await Promise.all(running.instances.map((instance) => instance.report()));
      while (!reports.every(heardAll) && Date.now() < deadline) {
        await sleep(250);
        reports = await Promise.all(running.instances.map((instance) => instance.report()));
      }
      // A little longer: a duplicate would show up now.
      await sleep(300);
      reports = await Promise.all(running.instances.map((instance) => instance.report()));

      for (const report of reports) {
        expect(Object.keys(report.received)).toHaveLength(FLEET_SIZE);
        for (const origin of origins) {
          expect({
            at: report.index,
            origin,
            ...delivery(report.received[origin], sent[origin]),
          }).toEqual({ at: report.index, origin, missing: 0, duplicates: 0, outOfOrder: 0 });
        }
        expect(report.stats.missed).toBe(0);
        expect(report.stats.published).toBe(EVENTS_PER_INSTANCE);
      }
    });
  });
}
