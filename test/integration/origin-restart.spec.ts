import { BROKERS, describeWithBroker, uniqueKey, type BrokerName } from '../support/brokers';
import { recordEvents, sleep, waitFor } from '../support/feathers-app';
import { closeAll, startInstance, type Instance } from '../support/instances';
import { publishRaw } from '../support/raw-broker';
import { captureRaw, type RawCapture } from '../support/raw-capture';
import { newSecret, signingWith } from '../support/signing';

/**
 * An instance with a fixed `instanceId` starts again at sequence 1 when it restarts. Its new
 * start must be heard (not dropped as duplicates of the previous start), and the previous start's
 * messages replayed afterwards must not be.
 */
const TRANSPORTS: BrokerName[] = ['memory', 'redis', 'amqp', 'nats'];
const QUIET_MS = 300;

for (const broker of TRANSPORTS) {
  describeWithBroker(broker, `an origin restarted with a fixed instanceId over ${broker}`, () => {
    const uri = BROKERS[broker];
    let instances: Instance[] = [];
    let capture: RawCapture | undefined;
    afterEach(async () => {
      await capture?.close();
      capture = undefined;
      await closeAll(instances);
    });

    for (const signed of [false, true]) {
      it(`is heard again after its restart${signed ? ', signed' : ''}`, async () => {
        const key = uniqueKey('restart');
        const instanceId = `web-${key}`;
        const signing = signed ? signingWith({ k1: newSecret() }, 'k1') : undefined;
        const receiver = await startInstance({ uri, key, signing });
        const first = await startInstance({ uri, key, signing, instanceId });
        instances = [receiver, first];
        await Promise.all(instances.map((i) => i.sync.ready));
        capture = await captureRaw(broker, key);
        const log = recordEvents(receiver.app, 'todos', ['custom']);

        for (let n = 0; n < 3; n++) first.app.service('todos').emit('custom', { n });
        await waitFor(() => log.length === 3, 'the first start’s events');
        await waitFor(() => capture!.messages.length === 3, 'the first start’s messages captured');
        const previous = [...capture.messages];

        await first.nest.close();
        const second = await startInstance({ uri, key, signing, instanceId });
        instances = [receiver, second];
        await second.sync.ready;
        for (let n = 3; n < 6; n++) second.app.service('todos').emit('custom', { n });
        await waitFor(() => log.length === 6, 'the restarted instance’s events');

        // The first start's messages again: from an epoch that has ended.
        await publishRaw(broker, key, 'broadcast', previous);
        second.app.service('todos').emit('custom', { n: 6 });
        await waitFor(() => log.length === 7, 'the event after the replay');
        await waitFor(
          () => receiver.sync.stats().dropped.replayed === 3,
          'the replays of the first start refused',
        );
        await sleep(QUIET_MS);

        expect(log.map((r) => r.data.n)).toEqual([0, 1, 2, 3, 4, 5, 6]);
        expect(log.every((r) => r.context.sync.origin === instanceId)).toBe(true);
        const stats = receiver.sync.stats();
        expect(stats.emitted).toBe(7);
        expect(stats.duplicates).toBe(0);
        expect(stats.missed).toBe(0);
        expect(stats.dropped.replayed).toBe(3);
      });
    }
  });
}
