import { StatusReporter } from '../../shared/status.js';
import type {
  SyncTransport,
  SyncTransportContext,
  SyncTransportHandlers,
} from '../sync-transport.js';

type Subscriber = (payload: Uint8Array | string) => void;

/**
 * One bus per key, shared by every app in this process. Module-level on purpose: it stands in for
 * a broker that every instance in the process reaches.
 */
const buses = new Map<string, Set<Subscriber>>();

/**
 * `memory://`: an in-process bus for tests and single-instance apps. Delivery is asynchronous
 * (a microtask per subscriber) and in publish order, like a broker, so a listener never runs
 * inside the emitter's call.
 */
export class MemoryTransport implements SyncTransport {
  readonly type = 'memory';
  private readonly key: string;
  private readonly subscribes: boolean;
  private readonly status = new StatusReporter();
  private subscriber?: Subscriber;

  constructor(context: SyncTransportContext<unknown>) {
    this.key = context.key;
    this.subscribes = context.subscribe !== false;
  }

  open(handlers: SyncTransportHandlers): void {
    this.status.attach((status, error) => handlers.status(status, error));
    if (this.subscribes) {
      this.subscriber = (payload) => handlers.message(payload);
      let bus = buses.get(this.key);
      if (!bus) buses.set(this.key, (bus = new Set()));
      bus.add(this.subscriber);
    }
    queueMicrotask(() => this.status.ready());
  }

  publish(payload: Uint8Array | string): void {
    const bus = buses.get(this.key);
    if (!bus) return;
    for (const subscriber of bus) queueMicrotask(() => subscriber(payload));
  }

  close(): Promise<void> {
    const bus = buses.get(this.key);
    if (bus && this.subscriber) {
      bus.delete(this.subscriber);
      if (bus.size === 0) buses.delete(this.key);
    }
    this.status.closed();
    return Promise.resolve();
  }
}
