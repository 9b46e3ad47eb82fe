import type {
  SyncTransport,
  SyncTransportContext,
  SyncTransportHandlers,
} from '../sync-transport.js';

/** `nats://`: TO BE WRITTEN (placeholder so the factory and suites are wired). */
export class NatsTransport implements SyncTransport {
  readonly type = 'nats';
  constructor(private readonly context: SyncTransportContext) {}
  open(_handlers: SyncTransportHandlers): Promise<void> {
    return Promise.reject(new Error('nats transport not written yet'));
  }
  publish(_payload: Uint8Array | string): Promise<void> {
    return Promise.reject(new Error('nats transport not written yet'));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
