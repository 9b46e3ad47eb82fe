import { serialize as v8Serialize, deserialize as v8Deserialize } from 'node:v8';
import type { FeathersSyncOptions, SyncDelivery } from '../../src';
import { BROKERS, describeWithBroker, uniqueKey, type BrokerName } from '../support/brokers';
import { recordEvents, sleep, waitFor } from '../support/feathers-app';
import { closeAll, startInstance, startInstances, type Instance } from '../support/instances';
import { publishRaw } from '../support/raw-broker';
import { captureRaw, type RawCapture } from '../support/raw-capture';
import { newSecret, signingWith } from '../support/signing';

/**
 * The behaviour suite's key guarantees with signing on, per broker: exactly once, in order, with
 * every serializer and both envelopes; secrets nowhere but in the signature.
 */
const TRANSPORTS: BrokerName[] = ['memory', 'redis', 'amqp', 'nats'];
const QUIET_MS = 300;

const SERIALIZERS: Record<string, Pick<FeathersSyncOptions, 'serialize' | 'deserialize'>> = {
  JSON: {},
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

const DELIVERIES: SyncDelivery[] = ['broadcast', 'recoverable'];

for (const [broker, delivery] of TRANSPORTS.flatMap((b) =>
  DELIVERIES.map((d) => [b, d] as const),
)) {
  describeWithBroker(broker, `signed sync over ${broker} (${delivery})`, () => {
    const uri = BROKERS[broker];
    let instances: Instance[] = [];
    let capture: RawCapture | undefined;
    afterEach(async () => {
      await capture?.close();
      capture = undefined;
      await closeAll(instances);
    });

    for (const envelope of ['compatible', 'lean'] as const) {
      for (const [name, serializer] of Object.entries(SERIALIZERS)) {
        it(`delivers every event exactly once and in order per origin (${envelope}, ${name})`, async () => {
          const key = uniqueKey('signed');
          const signing = signingWith({ '2026-11': newSecret() }, '2026-11', { maxAgeMs: 60_000 });
          instances = await startInstances(3, {
            uri,
            delivery,
            // signing.maxAgeMs may not undercut how far back a recoverable instance catches up.
            retention: { maxAgeMs: 60_000 },
            key,
            envelope,
            signing,
            ...serializer,
          });
          capture = await captureRaw(broker, key, delivery);
          const logs = instances.map((i) => recordEvents(i.app, 'todos', ['created', 'custom']));
          const params = { provider: 'rest', user: { id: 7 } };
          const created = await instances[0].app.service('todos').create({ text: 'a' }, params);
          let sent = 1;
          // Bursts of one event-loop turn (lean batches them into one signed frame), from every instance.
          for (const burst of [1, 2, 300]) {
            for (let i = 0; i < burst; i++) {
              for (const [origin, instance] of instances.entries()) {
                instance.app.service('todos').emit('custom', { origin, i, burst });
                sent++;
              }
            }
            await waitFor(
              () => logs.every((log) => log.length === sent),
              `${sent} events on every instance`,
              20_000,
            );
          }
          await sleep(QUIET_MS);
          for (const log of logs) {
            expect(log).toHaveLength(sent);
            const [first] = log.filter((r) => r.event === 'created');
            expect(first.data).toEqual(created);
            expect(first.context.params).toEqual(params);
            for (let origin = 0; origin < instances.length; origin++) {
              const mine = log.filter((r) => r.event === 'custom' && r.data.origin === origin);
              expect(mine.map((r) => `${r.data.burst}/${r.data.i}`)).toEqual(
                [1, 2, 300].flatMap((burst) =>
                  Array.from({ length: burst }, (_, i) => `${burst}/${i}`),
                ),
              );
            }
          }
          for (const instance of instances) {
            const stats = instance.sync.stats();
            expect(Object.entries(stats.dropped).filter(([, n]) => n > 0)).toEqual([]);
            expect(stats.duplicates).toBe(0);
            expect(stats.missed).toBe(0);
          }
          // Every message on the broker is signed.
          expect(capture.messages.length).toBeGreaterThan(0);
          for (const message of capture.messages) {
            const text = message.toString('latin1');
            const binaryFrame = message[0] === 0x00 && text.startsWith('\0FSS\u0001');
            expect(binaryFrame || /,"sig":"2026-11\.[\w-]{43}"\}$/.test(text)).toBe(true);
            expect(binaryFrame).toBe(name !== 'JSON');
          }
        });
      }
    }

    it('round-trips a Date through a signed binary serializer', async () => {
      instances = await startInstances(2, {
        uri,
        delivery,
        key: uniqueKey('signed-date'),
        signing: signingWith({ k: newSecret() }, 'k'),
        ...SERIALIZERS['binary (v8)'],
      });
      const log = recordEvents(instances[1].app, 'todos', ['created']);
      const when = new Date('2020-02-02T02:02:02.000Z');
      await instances[0].app.service('todos').create({ text: 'dated', when });
      await waitFor(() => log.length === 1, 'the signed binary event');
      expect(Object.prototype.toString.call(log[0].data.when)).toBe('[object Date]');
      expect(log[0].data.when.getTime()).toBe(when.getTime());
    });

    it('puts no key anywhere but in the signature: sync-out, stats, logs', async () => {
      const secrets = { old: newSecret(), current: newSecret() };
      const lines: string[] = [];
      const logger = {
        log: (m: unknown) => lines.push(String(m)),
        warn: (m: unknown) => lines.push(String(m)),
        error: (m: unknown) => lines.push(String(m)),
        debug: (m: unknown) => lines.push(String(m)),
        verbose: (m: unknown) => lines.push(String(m)),
      };
      const key = uniqueKey('secrets');
      const signing = signingWith({ old: secrets.old, current: secrets.current }, 'current');
      instances = [
        await startInstance({ uri, delivery, key, signing, logger }),
        await startInstance({ uri, delivery, key, signing, logger, envelope: 'lean' }),
      ];
      await Promise.all(instances.map((i) => i.sync.ready));
      const out: string[] = [];
      for (const instance of instances) {
        instance.app.on('sync-out', (payload: string | Uint8Array) =>
          out.push(Buffer.from(payload as never).toString('latin1')),
        );
      }
      const log = recordEvents(instances[1].app, 'todos', ['created']);
      await instances[0].app.service('todos').create({ text: 'x' }, { provider: 'rest' });
      await instances[1].app.service('todos').create({ text: 'y' });
      await waitFor(() => log.length === 2 && out.length === 2, 'both events, sent and heard');
      // Refusals are logged: with a reason, never with a key or the payload.
      await publishRaw(broker, key, delivery, [
        out[0].replace('"text":"x"', '"text":"z"'),
        out[0].replace('"sig":"current.', '"sig":"gone.'),
        JSON.stringify({ event: 'created', path: 'todos', data: { text: 'PAYLOAD' } }),
      ]);
      const dropped = () => lines.filter((line) => line.startsWith('Dropped')).join('\n');
      await waitFor(
        () => ['badSignature', 'unknownKey', 'unsigned'].every((r) => dropped().includes(`(${r})`)),
        'the three refusals logged',
      );
      expect(lines.filter((line) => line.startsWith('Dropped')).join('\n')).not.toMatch(
        /PAYLOAD|"z"/,
      );
      const seen = [
        ...out,
        ...lines,
        ...instances.map((i) => JSON.stringify(i.sync.stats())),
        JSON.stringify((instances[0].app as any).sync),
      ].join('\n');
      for (const secret of Object.values(secrets)) {
        for (const form of [
          secret,
          Buffer.from(secret).toString('hex'),
          Buffer.from(secret).toString('base64'),
        ]) {
          expect(seen).not.toContain(form);
        }
      }
    });

    it('turns signing on in a running fleet: unsigned and signed-accepting-unsigned instances hear each other', async () => {
      const key = uniqueKey('turn-on');
      const signing = signingWith({ k: newSecret() }, 'k', { acceptUnsigned: true });
      const unsigned = await startInstance({ uri, delivery, key });
      const signed = await startInstance({ uri, delivery, key, signing });
      instances = [unsigned, signed];
      await Promise.all(instances.map((i) => i.sync.ready));
      const logs = instances.map((i) => recordEvents(i.app, 'todos', ['custom']));
      unsigned.app.service('todos').emit('custom', { from: 'unsigned' });
      signed.app.service('todos').emit('custom', { from: 'signed' });
      await waitFor(() => logs.every((log) => log.length === 2), 'both events on both instances');
      await sleep(QUIET_MS);
      const [onUnsigned, onSigned] = logs;
      expect(onUnsigned.map((r) => r.data.from).sort()).toEqual(['signed', 'unsigned']);
      expect(onSigned.map((r) => r.data.from).sort()).toEqual(['signed', 'unsigned']);
      // The unsigned stamp proves nothing: the event arrives as from a feathers-sync peer.
      expect(onSigned.find((r) => r.data.from === 'unsigned')!.context.sync).toEqual({});
      expect(onUnsigned.find((r) => r.data.from === 'signed')!.context.sync.origin).toBe(
        signed.sync.instanceId,
      );
      for (const instance of instances) {
        expect(Object.entries(instance.sync.stats().dropped).filter(([, n]) => n > 0)).toEqual([]);
      }
    });
  });
}
