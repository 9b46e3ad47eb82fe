import { SYNC as FEATHERS_SYNC_SYMBOL } from 'feathers-sync';
import { isSyncedEvent } from '../../src';
import { CANARY_EVENT } from '../../src/core/canary';
import { BROKERS, describeWithBroker, uniqueKey, type BrokerName } from '../support/brokers';
import { recordEvents, sleep, waitFor, type TestApp } from '../support/feathers-app';
import { closePeer, startFeathersSyncPeer } from '../support/feathers-sync-peer';
import { closeAll, startInstance, type Instance } from '../support/instances';
import { newSecret, signingWith } from '../support/signing';

/**
 * A fleet migrates one instance at a time: instances on the real feathers-sync 3.1.1 and instances
 * on this module share a key and must hear each other, with contexts that Feathers' socket
 * dispatch can use (`context.path` for the event name, `context.result` for the payload).
 */
const BROKERS_UNDER_TEST: Array<Exclude<BrokerName, 'memory'>> = ['redis', 'amqp', 'nats'];

for (const broker of BROKERS_UNDER_TEST) {
  describeWithBroker(broker, `interop with feathers-sync 3.1.1 over ${broker}`, () => {
    let peer: TestApp | undefined;
    let instances: Instance[] = [];
    let key: string;

    beforeEach(async () => {
      key = uniqueKey('interop');
      peer = await startFeathersSyncPeer(broker, key);
      instances = [await startInstance({ uri: BROKERS[broker], key })];
      await instances[0].sync.ready;
    });

    afterEach(async () => {
      await closeAll(instances);
      if (peer) await closePeer(peer);
      peer = undefined;
    });

    it('delivers feathers-sync events to this module', async () => {
      const ours = recordEvents(instances[0].app, 'todos', ['created', 'patched', 'custom']);
      const theirs = recordEvents(peer!, 'todos', ['created', 'patched', 'custom']);
      const params = { provider: 'rest', user: { id: 3 } };
      // feathers-sync's NATS adapter opens a connection per event, so its events can overtake each
      // other on the way; wait for each before sending the next to test content, not its ordering.
      const created = await peer!.service('todos').create({ text: 'from feathers-sync' }, params);
      await waitFor(() => ours.length >= 1, 'created from feathers-sync', 15_000);
      await peer!.service('todos').patch(created.id, { text: 'patched' }, params);
      await waitFor(() => ours.length >= 2, 'patched from feathers-sync', 15_000);
      peer!.service('todos').emit('custom', { n: 1 });

      await waitFor(() => ours.length >= 3, 'three events from feathers-sync', 15_000);
      await sleep(300);
      expect(ours.map((r) => r.event)).toEqual(['created', 'patched', 'custom']);
      const [c, p] = ours;
      expect(c.data).toEqual(created);
      expect(c.context.path).toBe('todos');
      expect(c.context.method).toBe('create');
      expect(c.context.result).toEqual(created);
      expect(c.context.params).toEqual(
        expect.objectContaining({ provider: 'rest', user: { id: 3 } }),
      );
      expect(c.context.app).toBe(instances[0].app);
      expect(isSyncedEvent(c.context)).toBe(true);
      expect(p.context.id).toBe(created.id);
      expect(p.data.text).toBe('patched');
      // feathers-sync delivers its own events through the broker too: they arrive once there as well.
      await waitFor(() => theirs.length >= 3, 'the peer hearing itself');
      expect(instances[0].sync.stats().dropped).toEqual(
        expect.objectContaining({ decode: 0, shape: 0, unknownEvent: 0, unknownService: 0 }),
      );
    });

    it("delivers this module's events to feathers-sync with a dispatchable context", async () => {
      const theirs = recordEvents(peer!, 'todos', ['created', 'removed', 'custom']);
      const todos = instances[0].app.service('todos');
      const created = await todos.create(
        { text: 'from nest' },
        { provider: 'socketio', user: { id: 9 } },
      );
      await todos.remove(created.id);
      todos.emit('custom', { n: 2 });

      await waitFor(() => theirs.length >= 3, 'three events on the feathers-sync peer', 15_000);
      await sleep(300);
      expect(theirs.map((r) => r.event)).toEqual(['created', 'removed', 'custom']);
      const [c, r, custom] = theirs;
      // What Feathers' socket dispatch reads: `${context.path} ${event}` and context.result.
      expect(c.context.path).toBe('todos');
      expect(c.context.result).toEqual(created);
      expect(c.context.method).toBe('create');
      expect(c.context.params.user).toEqual({ id: 9 });
      expect(c.context.service).toBe(peer!.service('todos'));
      expect(r.context.id).toBe(created.id);
      expect(r.context.result).toEqual(created);
      expect(custom.data).toEqual({ n: 2 });
    });

    it('honours the SYNC symbol of feathers-sync in hooks written for it', async () => {
      const theirs = recordEvents(peer!, 'todos', ['created']);
      instances[0].app.service('todos').hooks({
        before: {
          create: [
            (context: any) => {
              if (context.data.local) context[FEATHERS_SYNC_SYMBOL] = false;
            },
          ],
        },
      });
      await instances[0].app.service('todos').create({ text: 'stays', local: true });
      await instances[0].app.service('todos').create({ text: 'travels' });
      await waitFor(() => theirs.length >= 1, 'the synced event');
      await sleep(300);
      expect(theirs.map((r) => r.data.text)).toEqual(['travels']);
    });

    it('the canary runs beside feathers-sync peers: they emit it where nobody listens, and never throw', async () => {
      const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        const fast = await startInstance({ uri: BROKERS[broker], key, heartbeatMs: 200 });
        instances.push(fast);
        await fast.sync.ready;
        const theirs = recordEvents(peer!, 'todos', ['created', 'patched', 'custom']);
        // Only a listener on the canary's own event name hears it on the peer.
        const canaries = recordEvents(peer!, 'todos', [CANARY_EVENT]);
        await waitFor(() => (fast.sync.stats().canary?.returned ?? 0) >= 5, 'five canaries back');
        await waitFor(() => canaries.length >= 5, 'the peer saw five canaries', 15_000);
        expect(canaries[0].data).toBeNull();
        expect(canaries[0].context).toBeUndefined();

        // The peer is unharmed (feathers-sync's NATS loop ends, its AMQP connection closes and
        // its Redis client reports an error on any throw): events still flow both ways.
        const ours = recordEvents(fast.app, 'todos', ['created']);
        await fast.app.service('todos').create({ text: 'to the peer' });
        await waitFor(() => theirs.length >= 1, 'our event on the peer', 15_000);
        await peer!.service('todos').create({ text: 'from the peer' });
        await waitFor(() => ours.length >= 2, 'the peer’s event on ours', 15_000);
        // feathers-sync emits its own events once they come back from the broker.
        await waitFor(() => theirs.length >= 2, 'the peer’s own event on the peer', 15_000);
        expect(theirs.map((r) => r.data.text).sort()).toEqual(['from the peer', 'to the peer']);
        expect(errors).not.toHaveBeenCalled();
        expect(Object.values(fast.sync.stats().dropped).every((n) => n === 0)).toBe(true);
      } finally {
        errors.mockRestore();
      }
    });
  });
}

/**
 * With signing on, a feathers-sync 3.1.1 peer still reads what this module sends (the signature
 * is one more top-level field of the JSON), but its own messages carry no signature: refused,
 * unless `signing.acceptUnsigned` (a migration window) lets them in.
 */
for (const broker of BROKERS_UNDER_TEST) {
  describeWithBroker(broker, `signed messages and feathers-sync 3.1.1 over ${broker}`, () => {
    let peer: TestApp | undefined;
    let instances: Instance[] = [];

    afterEach(async () => {
      await closeAll(instances);
      if (peer) await closePeer(peer);
      peer = undefined;
    });

    it('the peer reads signed messages; its unsigned ones are refused unless acceptUnsigned', async () => {
      const key = uniqueKey('interop-signed');
      const keys = { '2026-11': newSecret() };
      peer = await startFeathersSyncPeer(broker, key);
      const strict = await startInstance({
        uri: BROKERS[broker],
        key,
        signing: signingWith(keys, '2026-11'),
      });
      const migrating = await startInstance({
        uri: BROKERS[broker],
        key,
        signing: signingWith(keys, '2026-11', { acceptUnsigned: true }),
      });
      instances = [strict, migrating];
      await Promise.all(instances.map((i) => i.sync.ready));
      const theirs = recordEvents(peer, 'todos', ['created']);
      const onStrict = recordEvents(strict.app, 'todos', ['created']);
      const onMigrating = recordEvents(migrating.app, 'todos', ['created']);

      const signed = await strict.app
        .service('todos')
        .create({ text: 'signed' }, { provider: 'rest', user: { id: 4 } });
      await waitFor(() => theirs.length === 1, 'the signed event on the peer', 15_000);
      expect(theirs[0].data).toEqual(signed);
      expect(theirs[0].context.path).toBe('todos');
      expect(theirs[0].context.result).toEqual(signed);
      expect(theirs[0].context.params.user).toEqual({ id: 4 });
      await waitFor(() => onMigrating.length === 1, 'the signed event on the other instance');

      await peer.service('todos').create({ text: 'unsigned' });
      await waitFor(() => onMigrating.length === 2, 'the peer event let in', 15_000);
      await waitFor(
        () => strict.sync.stats().dropped.unsigned === 1,
        'the peer event refused by the strict instance',
      );
      await sleep(300);
      expect(onStrict.map((r) => r.data.text)).toEqual(['signed']);
      expect(onMigrating.map((r) => r.data.text)).toEqual(['signed', 'unsigned']);
      expect(isSyncedEvent(onMigrating[1].context)).toBe(true);
      expect(migrating.sync.stats().dropped.unsigned).toBe(0);
    });
  });
}
