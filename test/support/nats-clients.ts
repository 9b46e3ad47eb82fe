import type { FeathersSyncOptions, SyncLogger } from '../../src';
import type { NatsClientName } from '../../src/options/transport-options';
import { resolveOptions as resolveAny } from '../../src/options/resolve-options';
import { startInstance as startAny, startInstances as startManyAny } from './instances';
import { transportContext as contextOfAny } from './transport-context';

/** The NATS clients every NATS suite runs with: the 3.x client (the default) and 2.x. */
export const NATS_CLIENTS: readonly NatsClientName[] = ['@nats-io/transport-node', 'nats'];

export function withNatsClient<T extends FeathersSyncOptions>(
  client: NatsClientName,
  options: T,
): T {
  return { ...options, nats: { ...options.nats, client } };
}

/** The helpers a NATS suite starts instances and transports with, bound to one NATS client. */
export function onNatsClient(client: NatsClientName) {
  return {
    startInstance: (
      options: FeathersSyncOptions,
      ...rest: Parameters<typeof startAny> extends [unknown, ...infer R] ? R : never
    ) => startAny(withNatsClient(client, options), ...rest),
    startInstances: (count: number, options: FeathersSyncOptions) =>
      startManyAny(count, withNatsClient(client, options)),
    transportContext: (kind: 'nats', options: FeathersSyncOptions, logger?: SyncLogger) =>
      contextOfAny(kind, withNatsClient(client, options), logger),
    resolveOptions: (options: FeathersSyncOptions) => resolveAny(withNatsClient(client, options)),
  };
}
