import type { FeathersSyncOptions } from '../../../src';

/**
 * A broker a test may hurt. `drop()` cuts the connections of the module under test (and only
 * those: other tests' connections and the shared broker itself stay up), the way the issue asks
 * per broker; the module must then reconnect by itself.
 */
export interface FaultBroker {
  /** The uri instances under test connect to. */
  uri: string;
  /** Options to merge into each instance's module options (e.g. a connection name to find it by). */
  options: Partial<FeathersSyncOptions>;
  /** Cuts every connection the instances under test hold to the broker. */
  drop(): Promise<void>;
  /** How many consumers/subscribers are live on `key` right now (detects piled-up consumers). */
  subscriberCount(key: string): Promise<number>;
  /** Stops what the fault broker started (processes, admin connections). */
  close(): Promise<void>;
}
