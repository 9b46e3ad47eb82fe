import { asError } from './errors.js';
import { splitHostList } from './host-list.js';

/**
 * Returns the uri with its password (and any token in the user part, and any query parameter that
 * looks like a secret) replaced by `***`. A list of servers (`h1:p1,h2:p2`) is kept as written.
 */
export function redactUri(uri: string | undefined): string {
  if (uri === undefined) return '(no uri)';
  const list = splitHostList(uri);
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
    // Unparsable: keep the scheme only, the rest may hold credentials.
    const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(uri)?.[0];
    return scheme ? `${scheme}//…` : '…';
  }
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
      try {
        const { username, password } = new URL(splitHostList(uri)?.single ?? uri);
        // As redactUri does: without a password, the user part is the secret (a token).
        const secret = password || username;
        secrets.add(secret);
        secrets.add(safeDecode(secret));
      } catch {
        // An unparsable uri never reaches a transport (the factory refuses it).
      }
    }
    for (const secret of extra) if (secret !== undefined) secrets.add(secret);
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

  /** The error itself when it holds no secret, else a copy with the secrets replaced. */
  error(error: unknown): Error {
    const raw = asError(error);
    const message = this.text(raw.message);
    const stack = raw.stack === undefined ? undefined : this.text(raw.stack);
    if (message === raw.message && stack === raw.stack) return raw;
    const copy = new Error(message);
    copy.name = raw.name;
    copy.stack = stack;
    const code = (raw as { code?: unknown }).code;
    if (code !== undefined) Object.assign(copy, { code });
    return copy;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
