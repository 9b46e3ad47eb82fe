import { BROKERS, describeWithBroker, uniqueKey, type BrokerName } from '../support/brokers';
import { recordEvents, sleep, waitFor, type Received } from '../support/feathers-app';
import { closeAll, startInstances, type Instance } from '../support/instances';
import { publishRaw } from '../support/raw-broker';
import { captureRaw, type RawCapture } from '../support/raw-capture';
import { newSecret, signAs, signingWith } from '../support/signing';

/**
 * An attacker who can publish on the broker (and listen on it) but holds no current key: forged
 * envelopes, tampered and replayed copies of real messages, messages signed with a removed key.
 * None may reach a listener on any instance; each is counted under its reason; genuine events
 * keep arriving exactly once.
 */
const TRANSPORTS: BrokerName[] = ['memory', 'redis', 'amqp', 'nats'];

/** Long enough that replays sent right after the capture are inside it on a loaded machine. */
const MAX_AGE_MS = 4000;
const QUIET_MS = 300;

for (const broker of TRANSPORTS) {
  describeWithBroker(broker, `forged traffic over ${broker}`, () => {
    let instances: Instance[] = [];
    let capture: RawCapture | undefined;
    afterEach(async () => {
      await capture?.close();
      capture = undefined;
      await closeAll(instances);
    });

    it('reaches no listener, is counted by reason, and genuine events flow exactly once', async () => {
      const key = uniqueKey('forged');
      const current = newSecret();
      const removed = newSecret();
      const signing = signingWith({ '2026-11': current }, '2026-11', { maxAgeMs: MAX_AGE_MS });
      instances = await startInstances(3, { uri: BROKERS[broker], key, signing });
      const [a, b, c] = instances;
      capture = await captureRaw(broker, key);
      const logs = instances.map((i) =>
        recordEvents(i.app, 'todos', ['created', 'removed', 'custom']),
      );

      let n = 0;
      const genuine = async (from: Instance[], count: number) => {
        for (let i = 0; i < count; i++) {
          for (const instance of from) instance.app.service('todos').emit('custom', { n: n++ });
        }
        const expected = n;
        await waitFor(
          () => logs.every((log) => log.filter((r) => r.event === 'custom').length === expected),
          `${expected} genuine events on every instance`,
        );
      };

      // Real messages of C, as the attacker records them.
      for (let i = 0; i < 3; i++) await c.app.service('todos').create({ text: `genuine ${i}` });
      await waitFor(() => logs.every((log) => log.length === 3), 'the three real messages');
      const origin = c.sync.instanceId;
      await waitFor(() => fromC().length === 3, 'the three captured messages of C');
      function fromC(): string[] {
        return capture!.messages
          .map((m) => m.toString())
          .filter((text) => JSON.parse(text).sync?.origin === origin);
      }
      const real = fromC();
      const sentAt = Math.max(...real.map((text) => JSON.parse(text).sync.ts as number));
      const unsigned = (value: unknown) => JSON.stringify(value);
      const forged = {
        unsigned: [
          unsigned({ event: 'created', path: 'todos', data: { id: 99, text: 'FORGED plain' } }),
          // A stamp far ahead: would make every later real message of C a duplicate if believed.
          unsigned({
            sync: { v: 1, origin, seq: 1e9 },
            event: 'removed',
            path: 'todos',
            data: { id: 1, text: 'FORGED stamp' },
          }),
          unsigned({ s: [origin, 1e9 + 1], e: 'created', p: 'todos', d: { text: 'FORGED lean' } }),
          // A real message with its signature cut off.
          real[0].slice(0, real[0].indexOf(',"sig":')) + '}',
        ],
        badSignature: [
          real[1].replace('genuine', 'FORGED!'),
          real[2].slice(0, -3) + (real[2].at(-3) === 'A' ? 'B' : 'A') + '"}',
        ],
        unknownKey: [
          real[0].replace('"sig":"2026-11.', '"sig":"2026-12.'),
          signAs(
            '2026-08',
            removed,
            key,
            unsigned({
              sync: { v: 1, origin: 'attacker', seq: 1, ts: Date.now() },
              event: 'created',
              path: 'todos',
              data: { text: 'FORGED with a removed key' },
            }),
          ),
          signAs(
            '2026-08',
            removed,
            key,
            unsigned({ s: ['attacker', 2, 0, Date.now()], e: 'removed', p: 'todos', d: { id: 1 } }),
          ),
        ],
        // Byte for byte the real ones, inside maxAgeMs: already seen.
        duplicates: real,
      };
      await genuine([a, b], 2);
      await publishRaw(broker, key, 'broadcast', Object.values(forged).flat().map(String));
      expect(Date.now() - sentAt).toBeLessThan(MAX_AGE_MS);
      await genuine([a, b, c], 3);

      const expected = {
        unsigned: forged.unsigned.length,
        badSignature: forged.badSignature.length,
        unknownKey: forged.unknownKey.length,
        expired: 0,
      };
      const receivers = [a, b];
      const settled = () =>
        receivers.every((i) => {
          const stats = i.sync.stats();
          return (
            stats.dropped.unsigned === expected.unsigned &&
            stats.dropped.badSignature === expected.badSignature &&
            stats.dropped.unknownKey === expected.unknownKey &&
            stats.dropped.expired === expected.expired &&
            stats.duplicates === forged.duplicates.length
          );
        });
      await waitFor(settled, 'every forged message counted on A and B');

      // The same real messages once they are older than maxAgeMs.
      await sleep(Math.max(0, sentAt + MAX_AGE_MS + 200 - Date.now()));
      await publishRaw(broker, key, 'broadcast', real);
      expected.expired = real.length;
      await genuine([a, b, c], 3);
      await waitFor(settled, 'the expired replays counted on A and B');
      await sleep(QUIET_MS);

      for (const [index, log] of logs.entries()) {
        const texts = log.map((r: Received) => JSON.stringify(r.data));
        expect(texts.filter((text) => /FORGED|attacker/.test(text))).toEqual([]);
        expect(log.filter((r) => r.event === 'created').map((r) => r.data.text)).toEqual([
          'genuine 0',
          'genuine 1',
          'genuine 2',
        ]);
        expect(log.filter((r) => r.event === 'removed')).toEqual([]);
        const custom = log.filter((r) => r.event === 'custom').map((r) => r.data.n);
        expect(new Set(custom).size).toBe(n);
        expect(custom).toHaveLength(n);
        if (index < 2) {
          const stats = instances[index].sync.stats();
          expect(stats.dropped).toEqual({
            decode: 0,
            shape: 0,
            tooLarge: 0,
            forbiddenKey: 0,
            unknownService: 0,
            unknownEvent: 0,
            listenerError: 0,
            unsigned: expected.unsigned,
            unknownKey: expected.unknownKey,
            badSignature: expected.badSignature,
            expired: expected.expired,
            replayed: 0,
          });
          expect(stats.duplicates).toBe(forged.duplicates.length);
          expect(stats.missed).toBe(0);
        }
      }
    });
  });
}
