import type * as Ioredis from 'ioredis';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import type { RedisSettings } from '../../options/transport-options.js';
import { SecretScrubber, secretsIn } from '../../shared/redact.js';
import type { Deadline } from '../../shared/timeout.js';

export type RedisClient = Redis | Cluster;

/** The longest wait between two reconnection attempts: back within a second of Redis returning. */
export const MAX_RECONNECT_DELAY = 1000;

/**
 * ioredis's own schedule (50 ms more per attempt) capped at a second instead of two, each wait
 * drawn between 80 % and 100 % of it, so that a fleet cut off together does not reconnect in step.
 */
export function reconnectDelay(attempt: number): number {
  const base = Math.min(attempt * 50, MAX_RECONNECT_DELAY);
  return Math.round(base * (0.8 + 0.2 * Math.random()));
}

/**
 * The connection that writes (PUBLISH or XADD), as both Redis transports open it: the user's client
 * when one is given (never closed by us), else a new one. The core keeps every event until Redis
 * replied and sends again what a dropped connection lost, so ioredis must neither queue commands
 * while disconnected nor hold them across a reconnect (that would be a second, unbounded queue).
 */
export function openPublisher(
  ioredis: typeof Ioredis,
  uri: string | undefined,
  settings: RedisSettings,
): { client: RedisClient; owned: boolean } {
  const supplied = settings.client as RedisClient | undefined;
  if (supplied) return { client: supplied, owned: false };
  const options: RedisOptions = {
    lazyConnect: true,
    // Writes issued in the same tick go out in one round trip; order is kept.
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: reconnectDelay,
    ...(settings.options as RedisOptions),
  };
  const client = uri ? new ioredis.Redis(uri, options) : new ioredis.Redis(options);
  return { client, owned: true };
}

/** Starts connecting a client this transport drives; ioredis retries on its own after a failure. */
export function connectClient(client: RedisClient): Promise<void> {
  if (client.status !== 'wait') return Promise.resolve();
  return client.connect();
}

/** A second connection like `client` (same server, credentials, TLS), with `overrides`. */
export function duplicateClient(client: RedisClient, overrides: RedisOptions): RedisClient {
  if ((client as Cluster).isCluster) {
    const cluster = client as Cluster;
    return cluster.duplicate(undefined, {
      lazyConnect: true,
      redisOptions: { ...cluster.options.redisOptions, ...overrides },
    });
  }
  return (client as Redis).duplicate({ lazyConnect: true, ...overrides });
}

/**
 * QUIT waits for replies still due (our flush), within the deadline; then the client is disconnected
 * whatever happened: a QUIT that fails (with the offline queue off, ioredis refuses it on a socket
 * that just broke) would otherwise leave the client reconnecting for ever.
 */
export async function quit(client: RedisClient, deadline: Deadline): Promise<void> {
  if (client.status === 'ready') await deadline.within(client.quit());
  client.disconnect();
}

/** Takes the uri's and the options' credentials (also those of a client the user gave) out of errors. */
export function redisScrubber(uri: string | undefined, settings: RedisSettings): SecretScrubber {
  const clientOptions = (settings.client as { options?: unknown } | undefined)?.options;
  return new SecretScrubber(uri, secretsIn({ options: settings.options, client: clientOptions }));
}
