/**
 * Uris that name several servers in their authority (`scheme://[user:pass@]h1:p1,h2:p2/path?query`),
 * the form ioredis users and nats.js users write for a cluster. WHATWG `URL` refuses a comma in the
 * host, so the list is taken out before the rest is parsed.
 */
export interface HostListUri {
  /** `redis+cluster`, as written. */
  scheme: string;
  /** `user:pass` (still percent-encoded), or '' when absent. */
  userinfo: string;
  /** Every `host[:port]` of the list, in order, as written. */
  hosts: string[];
  /** The same uri with the first host only: what `new URL` can parse (path, query, credentials). */
  single: string;
}

const AUTHORITY = /^([a-z][a-z0-9+.-]*):\/\/(?:([^@/?#]*)@)?([^/?#]*)(.*)$/is;

/** Splits the host list out of `uri`; undefined when it is not `scheme://authority…`. */
export function splitHostList(uri: string): HostListUri | undefined {
  const match = AUTHORITY.exec(uri);
  if (!match) return undefined;
  const [, scheme, userinfo = '', hostList, rest] = match;
  const hosts = hostList.split(',').map((host) => host.trim());
  const auth = userinfo === '' ? '' : `${userinfo}@`;
  return { scheme, userinfo, hosts, single: `${scheme}://${auth}${hosts[0]}${rest}` };
}

/** Whether `uri` names more than one server. */
export function hasHostList(uri: string): boolean {
  return (splitHostList(uri)?.hosts.length ?? 0) > 1;
}
