import { FeathersSyncConfigError } from '../../errors/sync.errors.js';
import { redactUri } from '../../shared/redact.js';
import { splitHostList } from '../../shared/host-list.js';

/**
 * The Redis topologies one uri can name. A single server's uri goes to ioredis as it is; a Cluster's
 * seed nodes and a Sentinel group's sentinels are a comma-separated host list, which ioredis does
 * not parse, so it is turned into the options ioredis takes for them.
 */
export type RedisTopology =
  | { kind: 'server' }
  | {
      kind: 'cluster';
      nodes: HostPort[];
      /** Options for each node's connection (credentials, TLS). */
      nodeOptions: Record<string, unknown>;
      /** `?sharded=true`: SPUBLISH / SSUBSCRIBE. */
      sharded?: boolean;
    }
  | {
      kind: 'sentinel';
      /** ioredis options: `sentinels`, `name`, credentials for the master and the sentinels, TLS. */
      options: Record<string, unknown>;
    };

export interface HostPort {
  host: string;
  port: number;
}

export const CLUSTER_FORM =
  'redis+cluster://[user:password@]host1:port1,host2:port2,…[?sharded=true] ' +
  '(rediss+cluster:// for TLS)';
export const SENTINEL_FORM =
  'redis+sentinel://[user:password@]sentinel1:port1,sentinel2:port2,…/masterName' +
  '[?db=0&sentinelUsername=…&sentinelPassword=…] (rediss+sentinel:// for TLS)';

const DEFAULT_PORT = { cluster: 6379, sentinel: 26379 } as const;

/** Which topology `uri` names; throws a config error that shows the expected form. */
export function parseRedisUri(uri: string | undefined): RedisTopology {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri ?? '')?.[1].toLowerCase();
  if (uri === undefined || !scheme?.includes('+')) return { kind: 'server' };
  const tls = scheme.startsWith('rediss+');
  const kind = scheme.endsWith('+cluster') ? 'cluster' : 'sentinel';
  const form = kind === 'cluster' ? CLUSTER_FORM : SENTINEL_FORM;
  const wrong = (what: string) =>
    new FeathersSyncConfigError(
      `FeathersSyncModule cannot use the uri "${redactUri(uri)}": ${what}. Write it as ${form}.`,
    );

  const list = splitHostList(uri);
  let url: URL;
  try {
    url = new URL(list?.single ?? uri);
  } catch {
    throw wrong('it is not a valid uri');
  }
  const hosts = (list?.hosts ?? []).map((host) => hostPort(host, DEFAULT_PORT[kind]));
  const bad = hosts.findIndex((host) => host === undefined);
  if (hosts.length === 0 || bad >= 0) {
    throw wrong(`"${list?.hosts[bad] ?? ''}" is not a host[:port]`);
  }
  const credentials: Record<string, unknown> = {};
  if (url.username) credentials.username = decodeURIComponent(url.username);
  if (url.password) credentials.password = decodeURIComponent(url.password);
  const params = url.searchParams;
  const path = url.pathname.replace(/^\/+|\/+$/g, '');

  if (kind === 'cluster') {
    const allowed = ['sharded'];
    const unknown = [...params.keys()].find((key) => !allowed.includes(key));
    if (unknown)
      throw wrong(`the parameter "${unknown}" is unknown (allowed: ${allowed.join(', ')})`);
    if (path !== '') throw wrong('a Redis Cluster has no databases but 0: remove the path');
    const sharded = params.get('sharded');
    if (sharded !== null && sharded !== 'true' && sharded !== 'false') {
      throw wrong('sharded must be true or false');
    }
    return {
      kind,
      nodes: hosts as HostPort[],
      nodeOptions: { ...credentials, ...(tls ? { tls: {} } : {}) },
      ...(sharded === null ? {} : { sharded: sharded === 'true' }),
    };
  }

  const allowed = ['db', 'sentinelUsername', 'sentinelPassword', 'role'];
  const unknown = [...params.keys()].find((key) => !allowed.includes(key));
  if (unknown)
    throw wrong(`the parameter "${unknown}" is unknown (allowed: ${allowed.join(', ')})`);
  if (!/^[^/]+$/.test(path)) throw wrong('the path must be the master name Sentinel monitors');
  const role = params.get('role');
  // A replica would take PUBLISH but keep it to itself: every instance must use the master.
  if (role !== null && role !== 'master') throw wrong('role can only be master');
  const db = params.get('db');
  if (db !== null && !/^\d+$/.test(db)) throw wrong('db must be a database number');
  const sentinelUsername = params.get('sentinelUsername');
  const sentinelPassword = params.get('sentinelPassword');
  return {
    kind,
    options: {
      sentinels: hosts,
      name: decodeURIComponent(path),
      ...credentials,
      ...(db === null ? {} : { db: Number(db) }),
      ...(sentinelUsername === null ? {} : { sentinelUsername }),
      ...(sentinelPassword === null ? {} : { sentinelPassword }),
      ...(tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
    },
  };
}

/** `host`, `host:port`, `[v6]:port`; undefined when it is none of these. */
function hostPort(text: string, defaultPort: number): HostPort | undefined {
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/i.exec(text);
  if (!match) return undefined;
  const port = match[3] === undefined ? defaultPort : Number(match[3]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: match[1] ?? match[2], port };
}
