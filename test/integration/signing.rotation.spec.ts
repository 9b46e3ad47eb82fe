import type { SigningOptions } from '../../src';
import { BROKERS, describeWithBroker, uniqueKey, type BrokerName } from '../support/brokers';
import { sleep, waitFor } from '../support/feathers-app';
import { closeAll, startInstance, type Instance } from '../support/instances';
import { newSecret } from '../support/signing';

/**
 * A fleet of three moves from key A to key B in three rolling steps while events flow: add B
 * everywhere, sign with B, remove A. Each step restarts the instances one at a time with the new
 * options, as a deployment does. Nothing may be lost or duplicated, and nothing refused.
 */
const TRANSPORTS: BrokerName[] = ['memory', 'redis', 'amqp', 'nats'];
const FLEET = 3;
const TICK_MS = 10;
const QUIET_MS = 300;

/** One run of one instance, from its start to its close. */
interface Incarnation {
  instance: Instance;
  slot: number;
  /** Events numbered from here on must all reach it, once. */
  from: number;
  /** Events numbered below this must have reached it (set when it is closed, or at the end). */
  until: number;
  /** How often it heard each event. */
  heard: Map<number, number>;
}

for (const broker of TRANSPORTS) {
  describeWithBroker(broker, `key rotation over ${broker}`, () => {
    let live: Instance[] = [];
    afterEach(() => closeAll(live));

    it('moves a fleet from key A to key B in three rolling steps: 0 lost, 0 duplicated, 0 refused', async () => {
      const key = uniqueKey('rotation');
      const a = newSecret();
      const b = newSecret();
      const start: SigningOptions = { keys: { A: a }, current: 'A' };
      const steps: SigningOptions[] = [
        { keys: { A: a, B: b }, current: 'A' },
        { keys: { A: a, B: b }, current: 'B' },
        { keys: { B: b }, current: 'B' },
      ];
      let emitted = 0;
      const incarnations: Incarnation[] = [];
      const slots: Array<Incarnation | undefined> = [];

      const boot = async (slot: number, signing: SigningOptions): Promise<Incarnation> => {
        const instance = await startInstance({ uri: BROKERS[broker], key, signing });
        await instance.sync.ready;
        live.push(instance);
        const incarnation: Incarnation = {
          instance,
          slot,
          from: emitted,
          until: Number.POSITIVE_INFINITY,
          heard: new Map(),
        };
        instance.app.service('todos').on('custom', (data: { n: number }) => {
          incarnation.heard.set(data.n, (incarnation.heard.get(data.n) ?? 0) + 1);
        });
        incarnations.push(incarnation);
        slots[slot] = incarnation;
        return incarnation;
      };
      const heardAll = (incarnation: Incarnation, below: number) => {
        for (let n = incarnation.from; n < below; n++) {
          if (!incarnation.heard.has(n)) return false;
        }
        return true;
      };

      for (let slot = 0; slot < FLEET; slot++) await boot(slot, start);

      // Events flow all along, from whichever instances are up, in turn.
      let turn = 0;
      const ticker = setInterval(() => {
        const up = slots.filter((s): s is Incarnation => s !== undefined);
        if (up.length === 0) return;
        const origin = up[turn++ % up.length];
        origin.instance.app.service('todos').emit('custom', { n: emitted++ });
      }, TICK_MS);

      try {
        for (const signing of steps) {
          for (let slot = 0; slot < FLEET; slot++) {
            await sleep(150); // events flow through the fleet as it is now
            const leaving = slots[slot]!;
            slots[slot] = undefined; // it emits no more
            // What was sent before this moment must reach it before it goes; what is sent while it
            // closes may or may not (it is going away), but never twice.
            const before = emitted;
            await waitFor(
              () => heardAll(leaving, before),
              `instance ${slot} hearing every event`,
            ).catch((error: Error) => {
              const missing: number[] = [];
              for (let n = leaving.from; n < before; n++)
                if (!leaving.heard.has(n)) missing.push(n);
              const stats = JSON.stringify(leaving.instance.sync.stats());
              const origins = incarnations.map((i) => {
                const { published, publishFailed, pending, status } = i.instance.sync.stats();
                return `${i.instance.sync.instanceId}:${published}/${publishFailed}/${pending}/${status}`;
              });
              throw new Error(
                `${error.message}: missing ${missing.join(', ')}; its stats ${stats}; ` +
                  `every instance's published/publishFailed/pending/status: ${origins.join(' ')}`,
              );
            });
            leaving.until = before;
            await leaving.instance.nest.close();
            live = live.filter((i) => i !== leaving.instance);
            await boot(slot, signing);
          }
        }
        await sleep(150);
      } finally {
        clearInterval(ticker);
      }
      const total = emitted;
      for (const incarnation of incarnations) {
        if (incarnation.until === Number.POSITIVE_INFINITY) incarnation.until = total;
      }
      await waitFor(
        () => incarnations.every((i) => heardAll(i, i.until)),
        'every instance hearing every event of its lifetime',
      );
      await sleep(QUIET_MS);

      expect(incarnations).toHaveLength(FLEET * (steps.length + 1));
      expect(total).toBeGreaterThanOrEqual(50); // events did flow through every step
      for (const incarnation of incarnations) {
        const lost: number[] = [];
        for (let n = incarnation.from; n < incarnation.until; n++) {
          if (incarnation.heard.get(n) !== 1) lost.push(n);
        }
        expect({ slot: incarnation.slot, lostOrTwice: lost }).toEqual({
          slot: incarnation.slot,
          lostOrTwice: [],
        });
        const twice = [...incarnation.heard].filter(([, count]) => count > 1);
        expect(twice).toEqual([]);
        const { dropped } = incarnation.instance.sync.stats();
        expect(Object.entries(dropped).filter(([, count]) => count > 0)).toEqual([]);
      }
    });
  });
}
