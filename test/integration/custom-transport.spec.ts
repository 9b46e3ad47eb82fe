import { EventEmitter } from 'node:events';
import {
  FeathersSyncAdapterTransport,
  type FeathersSyncAdapter,
  type SyncTransport,
  type SyncTransportContext,
  type SyncTransportHandlers,
} from '../../src';
import { recordEvents, waitFor } from '../support/feathers-app';
import { closeAll, startInstance, type Instance } from '../support/instances';
import { newSecret, signingWith } from '../support/signing';

/** A broker made of one EventEmitter per test: enough to prove the contract carries events. */
function makeBus() {
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  return bus;
}

describe('custom transports', () => {
  let instances: Instance[] = [];
  afterEach(() => closeAll(instances));

  it('carries events between two instances through a SyncTransport class', async () => {
    const bus = makeBus();
    const opened: string[] = [];
    class BusTransport implements SyncTransport {
      readonly type = 'bus';
      private listener?: (payload: Uint8Array | string) => void;
      constructor(private readonly context: SyncTransportContext) {}
      open(handlers: SyncTransportHandlers) {
        opened.push(this.context.key);
        this.listener = (payload) => handlers.message(payload);
        bus.on(this.context.key, this.listener);
        setImmediate(() => handlers.status('ready'));
      }
      publish(payload: Uint8Array | string) {
        setImmediate(() => bus.emit(this.context.key, payload));
      }
      async close() {
        if (this.listener) bus.off(this.context.key, this.listener);
      }
    }
    instances = [
      await startInstance({ transport: BusTransport, key: 'bus-key' }),
      await startInstance({ transport: BusTransport, key: 'bus-key' }),
    ];
    await Promise.all(instances.map((i) => i.sync.ready));
    expect(instances[0].sync.type).toBe('bus');
    expect(opened).toEqual(['bus-key', 'bus-key']);
    const log = recordEvents(instances[1].app, 'todos', ['created']);
    await instances[0].app.service('todos').create({ text: 'over the bus' });
    await waitFor(() => log.length === 1, 'the event over the custom transport');
    expect(log[0].context.sync.origin).toBe(instances[0].sync.instanceId);
    await closeAll(instances);
    expect(bus.listenerCount('bus-key')).toBe(0);
  });

  it('accepts a transport instance', async () => {
    const bus = makeBus();
    const make = (): SyncTransport => {
      let listener: ((payload: Uint8Array | string) => void) | undefined;
      return {
        type: 'bus-instance',
        open(handlers) {
          listener = (payload) => handlers.message(payload);
          bus.on('x', listener);
          handlers.status('ready');
        },
        publish(payload) {
          setImmediate(() => bus.emit('x', payload));
        },
        async close() {
          if (listener) bus.off('x', listener);
        },
      };
    };
    instances = [
      await startInstance({ transport: make() }),
      await startInstance({ transport: make() }),
    ];
    const log = recordEvents(instances[1].app, 'todos', ['created']);
    await instances[0].app.service('todos').create({ text: 'instance' });
    await waitFor(() => log.length === 1, 'the event over the transport instance');
  });

  it('runs an adapter written for feathers-sync (sync-out / sync-in / app.sync.ready)', async () => {
    const bus = makeBus();
    const closedAdapters: string[] = [];
    // Written the feathers-sync way: configure the core, publish on sync-out, emit sync-in.
    const busAdapter =
      (config: { name: string }): FeathersSyncAdapter =>
      (app) => {
        app.configure(() => {
          throw new Error('feathers-sync core must not run: the module is the core');
        });
        const onMessage = (data: unknown) => app.emit('sync-in', data);
        bus.on('feathers', onMessage);
        app.on('sync-out', (data) => setImmediate(() => bus.emit('feathers', data)));
        app.sync = {
          type: 'bus',
          ready: Promise.resolve(),
          close: () => {
            bus.off('feathers', onMessage);
            closedAdapters.push(config.name);
          },
        };
      };
    instances = [
      await startInstance({
        transport: new FeathersSyncAdapterTransport(busAdapter({ name: 'a' }), 'bus'),
      }),
      await startInstance({
        transport: new FeathersSyncAdapterTransport(busAdapter({ name: 'b' }), 'bus'),
      }),
    ];
    await Promise.all(instances.map((i) => i.sync.ready));
    const log = recordEvents(instances[1].app, 'todos', ['created']);
    await instances[0].app.service('todos').create({ text: 'adapter' });
    await waitFor(() => log.length === 1, 'the event through the feathers-sync adapter');
    await closeAll(instances);
    expect(closedAdapters.sort()).toEqual(['a', 'b']);
  });

  it('emits sync-out and accepts sync-in on the Feathers app, as feathers-sync does', async () => {
    instances = [await startInstance({ uri: 'memory://compat' })];
    const [{ app, sync }] = instances;
    await sync.ready;
    const out: unknown[] = [];
    app.on('sync-out', (payload: unknown) => out.push(payload));
    await app.service('todos').create({ text: 'watched' });
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0] as string)).toEqual(
      expect.objectContaining({
        event: 'created',
        path: 'todos',
        data: { id: 1, text: 'watched' },
      }),
    );
    expect((app as any).sync).toEqual(
      expect.objectContaining({ type: 'memory', ready: expect.any(Promise) }),
    );

    const log = recordEvents(app, 'todos', ['patched']);
    app.emit(
      'sync-in',
      JSON.stringify({ event: 'patched', path: 'todos', data: { id: 1, text: 'in' } }),
    );
    expect(log.map((r) => r.data.text)).toEqual(['in']);
  });

  it('signs and checks what a custom transport carries, sync-in included', async () => {
    const bus = makeBus();
    class BusTransport implements SyncTransport {
      readonly type = 'bus';
      private listener?: (payload: Uint8Array | string) => void;
      constructor(private readonly context: SyncTransportContext) {}
      open(handlers: SyncTransportHandlers) {
        this.listener = (payload) => handlers.message(payload);
        bus.on(this.context.key, this.listener);
        setImmediate(() => handlers.status('ready'));
      }
      publish(payload: Uint8Array | string) {
        setImmediate(() => bus.emit(this.context.key, payload));
      }
      async close() {
        if (this.listener) bus.off(this.context.key, this.listener);
      }
    }
    const signing = signingWith({ k: newSecret() }, 'k');
    instances = [
      await startInstance({ transport: BusTransport, key: 'signed-bus', signing }),
      await startInstance({ transport: BusTransport, key: 'signed-bus', signing }),
    ];
    await Promise.all(instances.map((i) => i.sync.ready));
    const log = recordEvents(instances[1].app, 'todos', ['created']);
    const forged = JSON.stringify({ event: 'created', path: 'todos', data: { text: 'forged' } });
    bus.emit('signed-bus', forged);
    instances[1].app.emit('sync-in', forged);
    await instances[0].app.service('todos').create({ text: 'signed' });
    await waitFor(() => log.length === 1, 'the signed event over the custom transport');
    expect(log.map((r) => r.data.text)).toEqual(['signed']);
    expect(instances[1].sync.stats().dropped.unsigned).toBe(2);
  });
});
