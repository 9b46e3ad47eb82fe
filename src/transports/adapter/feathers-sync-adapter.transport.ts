import { EventEmitter } from 'node:events';
import { asError } from '../../shared/errors.js';
import { StatusReporter } from '../../shared/status.js';
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
  private readonly status = new StatusReporter();

  constructor(
    private readonly adapter: FeathersSyncAdapter,
    readonly type: string = 'custom',
  ) {}

  open(handlers: SyncTransportHandlers): void {
    this.status.attach((status, error) => handlers.status(status, error));
    const host = new EventEmitter() as FeathersSyncAdapterHost;
    host.configure = () => host;
    host.on('sync-in', (payload: Uint8Array | string) => handlers.message(payload));
    this.host = host;
    this.adapter(host);
    Promise.resolve(host.sync?.ready).then(
      () => this.status.ready(),
      (error: unknown) => this.status.dropped(asError(error)),
    );
  }

  publish(payload: Uint8Array | string): void {
    if (!this.host) throw new Error('the adapter transport is not open');
    this.host.emit('sync-out', payload);
  }

  async close(): Promise<void> {
    const host = this.host;
    this.host = undefined;
    this.status.closed();
    if (!host) return;
    host.removeAllListeners();
    await host.sync?.close?.();
  }
}
