import { asError } from './errors.js';

/** Returns the uri with its password (and any token in the user part) replaced by `***`. */
export function redactUri(uri: string | undefined): string {
  if (uri === undefined) return '(no uri)';
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

/** The password (or token) of the uri, or of each entry of a servers list. */
function secretsOf(uri: string): string[] {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(uri)?.[0] ?? '';
  const entries = uri.includes(',')
    ? uri.slice(scheme.length).split(',')
    : [uri.slice(scheme.length)];
  const secrets: string[] = [];
  for (const entry of entries) {
    try {
      const { username, password } = new URL(
        /^[a-z][a-z0-9+.-]*:\/\//i.test(entry) ? entry : `${scheme}${entry}`,
      );
      // As redactUri does: without a password, the user part is the secret (a token).
      const secret = password || username;
      if (secret) secrets.push(secret);
    } catch {
      // An unparsable uri never reaches a transport (the factory refuses it).
    }
  }
  return secrets;
}
