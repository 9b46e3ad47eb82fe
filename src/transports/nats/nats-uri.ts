/** The server and the credentials of a `nats://` uri: nats.js reads no credentials from a server url. */
import type { ConnectionOptions } from 'nats';
import { redactUri } from '../../shared/redact.js';

type Credentials = Pick<ConnectionOptions, 'user' | 'pass' | 'token'>;

/** `host:port` of a server entry, whatever credentials it was written with. */
export function hostOf(server: string): string {
  try {
    return new URL(server.includes('://') ? server : `nats://${server}`).host;
  } catch {
    return redactUri(server);
  }
}

/** The uri's server without its user info, and the credentials nats.js would otherwise ignore. */
export function parseUri(uri: string | undefined): { server?: string; credentials: Credentials } {
  if (!uri) return { credentials: {} };
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    // The factory already refused unparsable uris; a custom construction gets nats.js's defaults.
    return { credentials: {} };
  }
  const server = `${url.protocol}//${url.host}`;
  if (!url.username) return { server, credentials: {} };
  const user = decode(url.username);
  // `nats://token@host` is how NATS clients spell token authentication.
  if (!url.password) return { server, credentials: { token: user } };
  return { server, credentials: { user, pass: decode(url.password) } };
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
