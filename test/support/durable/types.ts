import type { FeathersSyncOptions } from '../../../src';

/**
 * A broker process of the test's own, for the recoverable-delivery fault suite: it can be
 * restarted, and every instance reaches it through a proxy of its own (see CutProxy), so that one
 * instance's connection can be cut while the others stay connected.
 */
export interface DurableBroker {
  /** The broker's address, as an instance would be configured without a proxy. */
  uri: string;
  /** Whether the broker keeps its log across a restart (Redis AOF, JetStream file store, streams). */
  persistent: boolean;
  /** Options every instance merges in (e.g. fast reconnects, so the suite stays short). */
  options: Partial<FeathersSyncOptions>;
  /** Stops the broker, waits `downMs` with its port closed, starts it again on the same port. */
  restart(downMs: number): Promise<void>;
  /** Stops the broker and removes everything it wrote. */
  stop(): Promise<void>;
}

export interface DurableBrokerOptions {
  /** Keep the log across a restart. Default true. */
  persistent?: boolean;
}
