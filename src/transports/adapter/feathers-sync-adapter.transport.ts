import { EventEmitter } from 'node:events';
import type { SyncTransport, SyncTransportHandlers } from '../sync-transport.js';

/**
 * What an adapter written for feathers-sync 3.x sees as `app`: it listens to `sync-out` to publish,
 * emits `sync-in` with what it receives, and sets `app.sync.ready`. Its own call to feathers-sync's
 * core (`app.configure(core)`) is ignored: this module is the core.
 */
export interface FeathersSyncAdapterHost extends EventEmitter {
  sync?: { ready?: Promise<unknown>; type?: string; close?: () => unknown; [key: string]: unknown };
  configure(callback: (app: FeathersSyncAdapterHost) => void): FeathersSyncAdapterHost;
}

/** A feathers-sync adapter: `(app) => void`, as `sync.redis(options)` and custom adapters return. */
export type FeathersSyncAdapter = (app: FeathersSyncAdapterHost) => void;

/**
 * Runs an adapter written for feathers-sync as a `SyncTransport`:
 * `transport: new FeathersSyncAdapterTransport(myAdapter({ uri }), 'my-broker')`.
 */
export class FeathersSyncAdapterTransport implements SyncTransport {
  private host?: FeathersSyncAdapterHost;
  private closed = false;

  constructor(
    private readonly adapter: FeathersSyncAdapter,
    readonly type: string = 'custom',
  ) {}

  open(handlers: SyncTransportHandlers): void {
    handlers.status('connecting');
    const host = new EventEmitter() as FeathersSyncAdapterHost;
    host.configure = () => host;
    host.on('sync-in', (payload: Uint8Array | string) => handlers.message(payload));
    this.host = host;
    this.adapter(host);
    Promise.resolve(host.sync?.ready).then(
      () => {
        if (!this.closed) handlers.status('ready');
      },
      (error: unknown) => {
        if (!this.closed)
          handlers.status('connecting', error instanceof Error ? error : new Error(String(error)));
      },
    );
  }

  publish(payload: Uint8Array | string): void {
    if (!this.host) throw new Error('the adapter transport is not open');
    this.host.emit('sync-out', payload);
  }

  async close(): Promise<void> {
    this.closed = true;
    const host = this.host;
    if (!host) return;
    host.removeAllListeners();
    await host.sync?.close?.();
  }
}
