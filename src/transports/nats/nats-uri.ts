/**
 * `nats://` and `tls://` uris: one server, or a cluster as a comma-separated servers list in the
 * nats.js / nats.go convention (`nats://user:pass@h1:4222,h2:4222,h3:4222`, each entry with or
 * without its own scheme). nats.js reads no credentials from a server url, and WHATWG `URL` parses
 * no list, so the uri is split here before any `new URL`.
 */
import { FeathersSyncConfigError } from '../../errors/sync.errors.js';
import { messages } from '../../errors/sync.messages.js';
import { redactUri } from '../../shared/redact.js';

export interface NatsCredentials {
  user?: string;
  pass?: string;
  token?: string;
}

export interface NatsUri {
  /** `host:port` entries, in the order given (nats.js shuffles them unless `noRandomize`). */
  servers: string[];
  credentials: NatsCredentials;
  /** A `tls://` entry: the connection must use TLS. */
  tls: boolean;
}

const SCHEME = /^(nats|tls):\/\//i;

/** `host:port` of a server entry, whatever credentials it was written with. */
export function hostOf(server: string): string {
  try {
    return new URL(server.includes('://') ? server : `nats://${server}`).host;
  } catch {
    return redactUri(server);
  }
}

/**
 * The servers and credentials of a `nats://` or `tls://` uri. Credentials may be written in the
 * first entry (they apply to every server) or in each (then they must agree: nats.js logs in to
 * every server with one identity). Throws a config error showing the expected form.
 */
export function parseNatsUri(uri: string): NatsUri {
  const scheme = SCHEME.exec(uri)?.[1]?.toLowerCase();
  if (!scheme) throw malformed(uri);
  const entries = uri
    .slice(scheme.length + 3)
    .split(',')
    .map((entry) => entry.trim());
  const parsed = entries.map((entry, index) => parseEntry(entry, scheme, index === 0, uri));
  const withCredentials = parsed.filter((entry) => entry.credentials !== undefined);
  const credentials = withCredentials[0]?.credentials ?? {};
  for (const entry of withCredentials) {
    if (JSON.stringify(entry.credentials) !== JSON.stringify(credentials)) {
      throw new FeathersSyncConfigError(messages.natsUriCredentialsDiffer(redactUri(uri)));
    }
  }
  return {
    servers: parsed.map((entry) => entry.host),
    credentials,
    tls: parsed.some((entry) => entry.tls),
  };
}

/** Like `parseNatsUri`, for callers past boot (the factory already refused a malformed uri). */
export function parseUriOrEmpty(uri: string | undefined): NatsUri {
  if (!uri) return { servers: [], credentials: {}, tls: false };
  try {
    return parseNatsUri(uri);
  } catch {
    return { servers: [], credentials: {}, tls: false };
  }
}

interface Entry {
  host: string;
  credentials?: NatsCredentials;
  tls: boolean;
}

function parseEntry(entry: string, listScheme: string, first: boolean, uri: string): Entry {
  // The first entry carries the list's scheme; the others may name their own.
  const own = first ? undefined : SCHEME.exec(entry)?.[1]?.toLowerCase();
  const scheme = first ? listScheme : (own ?? listScheme);
  const rest = own ? entry.slice(own.length + 3) : entry;
  if (rest === '' || rest.includes('://')) throw malformed(uri);
  let url: URL;
  try {
    url = new URL(`${scheme}://${rest}`);
  } catch {
    throw malformed(uri);
  }
  const path = url.pathname;
  if (!url.hostname || (path !== '' && path !== '/') || url.search || url.hash)
    throw malformed(uri);
  const host = url.port ? `${url.hostname}:${url.port}` : url.hostname;
  return { host, credentials: credentialsOf(url), tls: scheme === 'tls' };
}

function credentialsOf(url: URL): NatsCredentials | undefined {
  if (!url.username) return undefined;
  const user = decode(url.username);
  // `nats://token@host` is how NATS clients spell token authentication.
  if (!url.password) return { token: user };
  return { user, pass: decode(url.password) };
}

function malformed(uri: string): FeathersSyncConfigError {
  return new FeathersSyncConfigError(messages.invalidNatsUri(redactUri(uri)));
}

function decode(component: string): string {
  try {
    return decodeURIComponent(component);
  } catch {
    return component;
  }
}

export function unique(values: string[]): string[] {
  return [...new Set(values)];
}
