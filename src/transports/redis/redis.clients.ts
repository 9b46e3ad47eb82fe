import type * as Ioredis from 'ioredis';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { RedisSettings } from '../../options/transport-options.js';
import { SecretScrubber, secretsIn } from '../../shared/redact.js';
import type { Deadline } from '../../shared/timeout.js';
import { parseRedisUri } from './redis-uri.js';

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
 * ioredis settings for the Cluster that writes:
 * - `slotsRefreshInterval`: ioredis refreshes the slot map once when a shard subscriber is told to
 *   leave (SUNSUBSCRIBE from a demoted master); if that one refresh asks a node that has not heard
 *   of the new master yet, the shard subscription is never made again. A periodic refresh repairs it.
 * - No delayed retry of a write whose master is gone or whose cluster is down: ioredis would send it
 *   again later while newer writes go straight to the new master, out of order. It fails at once,
 *   and ClusterWriteGate holds the writes until the slot has a master again.
 */
const CLUSTER_DEFAULTS = {
  slotsRefreshInterval: 1_000,
  retryDelayOnFailover: 0,
  retryDelayOnClusterDown: 0,
};

/**
 * ioredis settings for a Sentinel group:
 * - `failoverDetector`: ioredis listens for +switch-master on the sentinels and moves at once,
 *   instead of only when the old master's socket drops (a demoted master keeps its sockets).
 * - A reconnect delay capped at 500 ms (ioredis: 2 s): while the master is down, every attempt
 *   fails (the sentinels still name it) and the delay grows; with the default cap a connection
 *   could wait up to 2 s more after the promotion, and a subscriber miss what is sent meanwhile.
 */
const SENTINEL_DEFAULTS = {
  failoverDetector: true,
  retryStrategy: (times: number) => Math.min(times * 50, 500),
};

/** ioredis's own retries, for the connections that only read (their order is the server's). */
export const CLUSTER_READ_RETRIES = { retryDelayOnFailover: 100, retryDelayOnClusterDown: 100 };

/**
 * The connection that writes (PUBLISH, SPUBLISH or XADD), as both Redis transports open it: the
 * user's client when one is given (never closed by us), else a new one for the topology the uri
 * names (one server, a Cluster, a Sentinel group). The core keeps every event until Redis replied
 * and sends again what a dropped connection lost, so ioredis must neither queue commands while
 * disconnected nor hold them across a reconnect (that would be a second, unbounded queue).
 */
export function openPublisher(
  ioredis: typeof Ioredis,
  uri: string | undefined,
  settings: RedisSettings,
): { client: RedisClient; owned: boolean } {
  const supplied = settings.client as RedisClient | undefined;
  if (supplied) return { client: supplied, owned: false };
  const topology = parseRedisUri(uri);
  const options: RedisOptions = {
    lazyConnect: true,
    // Writes issued in the same tick go out in one round trip; order is kept.
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: reconnectDelay,
  };
  const given = settings.options as RedisOptions;
  switch (topology.kind) {
    case 'cluster': {
      const { enableAutoPipelining, enableOfflineQueue, lazyConnect, ...nodeDefaults } = options;
      const clusterOptions = given as ClusterOptions;
      const client = new ioredis.Cluster(topology.nodes, {
        lazyConnect,
        enableAutoPipelining,
        enableOfflineQueue,
        ...CLUSTER_DEFAULTS,
        ...clusterOptions,
        redisOptions: {
          ...nodeDefaults,
          ...topology.nodeOptions,
          ...clusterOptions.redisOptions,
        },
      });
      return { client, owned: true };
    }
    case 'sentinel':
      return {
        client: new ioredis.Redis({
          ...options,
          ...SENTINEL_DEFAULTS,
          ...topology.options,
          ...given,
        }),
        owned: true,
      };
    case 'server': {
      const merged = { ...options, ...given };
      const client = uri ? new ioredis.Redis(uri, merged) : new ioredis.Redis(merged);
      return { client, owned: true };
    }
  }
}

/** Whether the uri or the settings ask for sharded pub/sub (SPUBLISH / SSUBSCRIBE). */
export function shardedPubSub(uri: string | undefined, settings: RedisSettings): boolean {
  if (settings.sharded !== undefined) return settings.sharded;
  const topology = parseRedisUri(uri);
  return topology.kind === 'cluster' && topology.sharded === true;
}

/** A script that publishes: ioredis sends it to the master of its key's slot. */
const PUBLISH_SCRIPT = "return redis.call('PUBLISH', KEYS[1], ARGV[1])";

/**
 * Classic PUBLISH on a Cluster, always through one node, the master of the key's slot. ioredis
 * sends a PUBLISH (it has no key) to a random master each time, and messages that enter the
 * cluster at different nodes can reach a subscriber out of order. Run as a script whose key is
 * the channel, it goes where SPUBLISH or XADD would; subscribers get a plain PUBLISH.
 * Undefined for one server or a Sentinel group, and with sharded pub/sub.
 */
export function clusterPublish(
  client: RedisClient,
  key: string,
  sharded: boolean,
): ((message: string | Buffer) => Promise<unknown>) | undefined {
  if (!(client as Cluster).isCluster || sharded) return undefined;
  const name = 'feathersSyncPublish';
  const scripted = client as unknown as Record<
    string,
    ((channel: string, message: string | Buffer) => Promise<unknown>) | undefined
  >;
  if (typeof scripted[name] !== 'function') {
    client.defineCommand(name, { numberOfKeys: 1, lua: PUBLISH_SCRIPT });
  }
  return (message) => scripted[name]!.call(client, key, message);
}

/**
 * Brings back a client that ended while we still need it. ioredis's Sentinel connector can end a
 * client for good after a failover: the failover detector of the connection that died fires while
 * the client resolves the new master, the connect fails with "Connection is closed." and ioredis
 * gives up (status `end`). `connect()` again revives it (its promise rejects; it connects anyway).
 */
export function reviveOnEnd(
  client: RedisClient,
  closing: () => boolean,
  delayMs = MAX_RECONNECT_DELAY,
): void {
  // Only a Sentinel client has the bug; any other ends only when its retryStrategy gave up, which
  // is the user's to decide. Never at once: a connect that fails at once would end it again, and
  // reviving in that same turn would spin without letting a timer (or anything else) run.
  const sentinels = (client as Redis).options?.sentinels;
  if (!Array.isArray(sentinels) || sentinels.length === 0) return;
  client.on('end', () => {
    if (closing()) return;
    setTimeout(() => {
      if (!closing() && client.status === 'end') client.connect().catch(() => undefined);
    }, delayMs).unref();
  });
}

/** Starts connecting a client this transport drives; ioredis retries on its own after a failure. */
export function connectClient(client: RedisClient): Promise<void> {
  if (client.status !== 'wait') return Promise.resolve();
  return client.connect();
}

/**
 * A second connection like `client` (same server or cluster, credentials, TLS), with `overrides`
 * (connection options) and, for a Cluster, `clusterOverrides`.
 */
export function duplicateClient(
  client: RedisClient,
  overrides: RedisOptions,
  clusterOverrides: ClusterOptions = {},
): RedisClient {
  if ((client as Cluster).isCluster) {
    const cluster = client as Cluster;
    const { enableAutoPipelining, enableOfflineQueue, ...nodeOverrides } = overrides;
    return cluster.duplicate(undefined, {
      lazyConnect: true,
      ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
      ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
      ...clusterOverrides,
      redisOptions: { ...cluster.options.redisOptions, ...nodeOverrides },
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
