import { RedisServer } from '../processes/redis-server';
import type { DurableBroker, DurableBrokerOptions } from './types';

/**
 * A redis-server of the suite's own. Persistent: AOF with `appendfsync always`, so every write
 * Redis acknowledged survives a restart. Not persistent: nothing is kept (`--save ''`, no AOF).
 * `restart` is a clean stop (SIGTERM) and a start on the same port and dir after `downMs`.
 */
export async function openDurableRedis(options: DurableBrokerOptions = {}): Promise<DurableBroker> {
  const persistent = options.persistent ?? true;
  const server = await RedisServer.start({ persistent });
  return {
    uri: server.uri,
    persistent,
    options: {},
    restart: (downMs) => server.restart(downMs),
    stop: () => server.stop(),
  };
}
