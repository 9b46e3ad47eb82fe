import { asError } from './errors.js';
import { splitHostList } from './host-list.js';

/**
 * Returns the uri with its password (and any token in the user part, and any query parameter that
 * looks like a secret) replaced by `***`. A list of servers (`h1:p1,h2:p2`) is kept as written.
 */
export function redactUri(uri: string | undefined): string {
  if (uri === undefined) return '(no uri)';
  const list = splitHostList(uri);
  // Entries with a scheme or credentials of their own (`nats://u:p@h1:4222,tls://u:p@h2:4222`):
  // each entry is redacted on its own.
  const ownParts =
    uri.slice(uri.indexOf('://') + 3).includes('://') ||
    list?.hosts.some((host) => host.includes('@'));
  if (ownParts) return redactList(uri) ?? redactSingle(uri);
  if (list && list.hosts.length > 1) {
    const single = redactSingle(list.single);
    const first = list.hosts[0];
    const authority = single.indexOf('://') + 3;
    const at = single.indexOf(first, Math.max(authority, single.indexOf('@', authority) + 1));
    // The parser may have normalised the host (case, default port): then show the first only.
    return at < 0
      ? single
      : single.slice(0, at) + list.hosts.join(',') + single.slice(at + first.length);
  }
  return redactSingle(uri);
}

function redactSingle(uri: string): string {
  try {
    const url = new URL(uri);
    if (url.password) url.password = '***';
    else if (url.username) url.username = '***';
    for (const key of [...url.searchParams.keys()]) {
      if (/pass|token|secret|key|auth/i.test(key)) url.searchParams.set(key, '***');
    }
    return url.toString();
  } catch {
    const list = redactList(uri);
    if (list !== undefined) return list;
    // Unparsable: keep the scheme only, the rest may hold credentials.
    const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(uri)?.[0];
    return scheme ? `${scheme}//…` : '…';
  }
}

/**
 * A servers list (`nats://u:p@h1:4222,h2:4222`, entries with or without their own scheme), which
 * `URL` does not parse: each entry redacted on its own. Undefined when an entry does not parse.
 */
function redactList(uri: string): string | undefined {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(uri)?.[0];
  if (!scheme || !uri.includes(',')) return undefined;
  const entries = uri.slice(scheme.length).split(',');
  const redacted: string[] = [];
  for (const entry of entries) {
    const own = /^[a-z][a-z0-9+.-]*:\/\//i.test(entry);
    try {
      const url = new URL(own ? entry : `${scheme}${entry}`);
      if (url.password) url.password = '***';
      else if (url.username) url.username = '***';
      const text = url.toString().replace(/\/$/, '');
      redacted.push(own ? text : text.slice(scheme.length));
    } catch {
      return undefined;
    }
  }
  return `${scheme}${redacted.join(',')}`;
}

/** A string shorter than this is no secret worth mangling error messages for. */
const MIN_SECRET_LENGTH = 3;

/**
 * Keeps credentials out of error messages that come from broker clients: the uri itself, its
 * password (or token), raw and URL-decoded, and any extra secret a transport knows of.
 */
export class SecretScrubber {
  private readonly secrets: string[];

  constructor(
    private readonly uri: string | undefined,
    extra: ReadonlyArray<string | undefined> = [],
  ) {
    const secrets = new Set<string>();
    if (uri !== undefined) {
      secrets.add(uri);
      for (const secret of secretsOf(uri)) {
        secrets.add(secret);
        secrets.add(safeDecode(secret));
      }
    }
    for (const secret of extra) {
      if (secret === undefined) continue;
      secrets.add(secret);
      secrets.add(encodeURIComponent(secret));
    }
    // Longest first: the uri contains the password.
    this.secrets = [...secrets]
      .filter((secret) => secret.length >= MIN_SECRET_LENGTH)
      .sort((a, b) => b.length - a.length);
  }

  text(text: string): string {
    let out = text;
    for (const secret of this.secrets) {
      if (out.includes(secret)) {
        out = out.split(secret).join(secret === this.uri ? redactUri(this.uri) : '***');
      }
    }
    return out;
  }

  /**
   * A plain copy of the error with the secrets replaced in its message and stack: its name and
   * `code` kept, nothing else. Broker clients hang more on their errors than a log should show
   * (ioredis's ReplyError carries the failed command with its arguments: AUTH's password), so an
   * error from a client never leaves the module as it came.
   */
  error(error: unknown): Error {
    const raw = asError(error);
    const copy = new Error(this.text(raw.message));
    copy.name = raw.name;
    copy.stack = raw.stack === undefined ? undefined : this.text(raw.stack);
    const code = (raw as { code?: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') Object.assign(copy, { code });
    return copy;
  }
}

/** Option names whose string values are credentials. */
const SECRET_OPTION = /^(password|pass|passphrase|token|sentinelPassword|secret|nkey|jwt)$/i;

/**
 * Every credential in a transport's settings (ioredis options, amqplib socket options, nats.js
 * connection options, however deep): password, pass, passphrase, token… and a PEM private key,
 * so that a scrubber can take them out of whatever a broker client says.
 */
export function secretsIn(settings: unknown, depth = 0): string[] {
  if (settings === null || typeof settings !== 'object' || depth > 4) return [];
  const found: string[] = [];
  for (const [name, value] of Object.entries(settings as Record<string, unknown>)) {
    if (typeof value === 'string') {
      if (SECRET_OPTION.test(name) || value.includes('PRIVATE KEY')) found.push(value);
    } else if (Buffer.isBuffer(value)) {
      if (SECRET_OPTION.test(name)) found.push(value.toString());
    } else if (typeof value === 'object' && !Array.isArray(value)) {
      found.push(...secretsIn(value, depth + 1));
    }
  }
  return found;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The password (or token) of the uri, or of each entry of a servers list. */
function secretsOf(uri: string): string[] {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(uri)?.[0] ?? '';
  const entries = uri.includes(',')
    ? uri.slice(scheme.length).split(',')
    : [uri.slice(scheme.length)];
  const secrets: string[] = [];
  for (const entry of entries) {
    try {
      const { username, password, searchParams } = new URL(
        /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ? entry : `${scheme}${entry}`,
      );
      // As redactUri does: without a password, the user part is the secret (a token).
      const secret = password || username;
      if (secret) secrets.push(secret);
      for (const [key, value] of searchParams) {
        if (value && /pass|token|secret|key|auth/i.test(key)) secrets.push(value);
      }
    } catch {
      // An unparsable uri never reaches a transport (the factory refuses it).
    }
  }
  return secrets;
}
