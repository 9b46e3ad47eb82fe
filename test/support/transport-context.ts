import type { FeathersSyncOptions, SyncLogger, SyncTransportContext } from '../../src';
import { resolveOptions, type ResolvedSyncOptions } from '../../src/options/resolve-options';

type Settings = ResolvedSyncOptions['transports'];

/**
 * What the module hands a built-in transport for these options: the uri, key, logger, close budget
 * and that transport's own checked settings. For tests that drive a transport on its own.
 */
export function transportContext<K extends keyof Settings>(
  kind: K,
  options: FeathersSyncOptions,
  logger: SyncLogger = console,
): SyncTransportContext<Settings[K]> {
  const resolved = resolveOptions({ logger: false, ...options });
  return {
    uri: resolved.uri,
    key: resolved.key,
    logger,
    closeTimeout: resolved.closeTimeout,
    delivery: resolved.delivery,
    settings: resolved.transports[kind],
  };
}
