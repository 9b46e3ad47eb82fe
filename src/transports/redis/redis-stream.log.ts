import { FeathersSyncConfigError } from '../../errors/sync.errors.js';
import { asError } from '../../shared/errors.js';
import type { RedisClient } from './redis.clients.js';

/**
 * What `delivery: 'recoverable'` keeps in Redis for a key, and how its replies are read. Both names
 * start with the hash tag `{<key>}`, so that on a Redis Cluster they live on one node and can be
 * read in one MULTI.
 */
export interface RedisLogKeys {
  /** The stream every instance appends to (XADD) and reads with a cursor of its own (XREAD). */
  stream: string;
  /**
   * A random value set once (SET NX) next to the stream. A different or missing value means the
   * log was lost and started again (a restart without persistence, a flush), which the server's
   * run_id cannot tell: it changes on every restart, persistent or not.
   */
  epoch: string;
}

export function redisLogKeys(key: string): RedisLogKeys {
  return { stream: `{${key}}:stream`, epoch: `{${key}}:epoch` };
}

/** The one field of each entry: the serialized message, as the other transports carry it. */
export const PAYLOAD_FIELD = 'd';

/** The parts of XINFO STREAM the reader needs. */
export interface LogInfo {
  /** Entries in the stream now. */
  length: number;
  /** Entries ever appended, trimmed ones included (Redis 7.0+). */
  entriesAdded: number;
  /** The id of the last entry ever appended. */
  lastId: string;
}

/** What a stream that does not exist (yet) amounts to. */
export const EMPTY_LOG: LogInfo = { length: 0, entriesAdded: 0, lastId: '0-0' };

/** XINFO STREAM, whichever shape the client gives (RESP2 pairs or a RESP3 map). */
export function parseInfo(reply: unknown): LogInfo {
  const fields = asRecord(reply);
  if (fields['entries-added'] === undefined) throw tooOld('XINFO STREAM has no entries-added');
  return {
    length: Number(fields.length),
    entriesAdded: Number(fields['entries-added']),
    lastId: String(fields['last-generated-id']),
  };
}

/** The entries of the one stream an XREAD asked for: id and payload, oldest first. */
export function parseEntries(reply: unknown): Array<[id: string, payload: Buffer]> {
  if (!reply) return [];
  const streams = Array.isArray(reply)
    ? (reply as Array<[unknown, unknown]>).map(([, entries]) => entries)
    : Object.values(asRecord(reply));
  const entries = (streams[0] ?? []) as Array<[Buffer | string, Array<Buffer | string>]>;
  return entries.map(([id, fields]) => [String(id), payloadOf(fields)]);
}

/** The payload field, or nothing: the core then counts the entry as undecodable and says so. */
function payloadOf(fields: Array<Buffer | string>): Buffer {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (String(fields[i]) === PAYLOAD_FIELD) return Buffer.from(fields[i + 1]);
  }
  return Buffer.alloc(0);
}

function asRecord(reply: unknown): Record<string, unknown> {
  if (reply instanceof Map) return Object.fromEntries(reply as Map<string, unknown>);
  if (Array.isArray(reply)) {
    const record: Record<string, unknown> = {};
    for (let i = 0; i + 1 < reply.length; i += 2) record[String(reply[i])] = reply[i + 1];
    return record;
  }
  return (reply ?? {}) as Record<string, unknown>;
}

/** INFO server: fails unless the server can keep a recoverable log (Redis 7.0+). */
export function checkVersion(info: unknown): void {
  const match = /redis_version:(\d+)\.(\d+)/.exec(String(info));
  if (match && Number(match[1]) < 7) throw tooOld(`it runs Redis ${match[1]}.${match[2]}`);
}

function tooOld(why: string): FeathersSyncConfigError {
  return new FeathersSyncConfigError(
    `This Redis server cannot keep a recoverable log (${why}): delivery 'recoverable' needs ` +
      "Redis 7.0 or later (XINFO entries-added, XTRIM MINID). Upgrade Redis, or set delivery: 'broadcast'.",
  );
}

/**
 * A refusal retrying cannot fix, turned into an error that says what to do; undefined for the
 * others (a dropped connection, a server still loading, a failover), which the reader retries.
 */
export function unfixable(error: unknown, keys: RedisLogKeys): Error | undefined {
  if (error instanceof FeathersSyncConfigError) return error;
  const message = asError(error).message;
  const previous = (error as { previousErrors?: unknown[] }).previousErrors ?? [];
  const all = [message, ...previous.map((e) => asError(e).message)].join('; ');
  let hint: string | undefined;
  if (/WRONGTYPE/.test(all)) {
    hint =
      `The key "${keys.stream}" or "${keys.epoch}" holds another kind of value: delete them, or ` +
      'choose another `key`.';
  } else if (/NOPERM/.test(all)) {
    hint =
      'The Redis user may not run the commands of the recoverable log: grant it XADD, XREAD, ' +
      'XINFO, XTRIM, GET, SET, PEXPIRE, MULTI, EXEC, INFO and TIME on the keys ' +
      `"${keys.stream}" and "${keys.epoch}" (ACL SETUSER).`;
  } else if (/unknown command|EXECABORT/i.test(all)) {
    hint = tooOld('it does not know a stream command').message;
  }
  return hint ? new FeathersSyncConfigError(`${hint} (Redis said: ${all})`) : undefined;
}

/** Most entries one read takes, and about the most bytes: what this instance holds at once. */
const MAX_READ_ENTRIES = 512;
const READ_BYTES = 1024 * 1024;

/** Entries per read after a read of `entries` entries and `bytes` bytes: about READ_BYTES. */
export function nextReadCount(current: number, entries: number, bytes: number): number {
  if (entries === 0) return current;
  return clamp(Math.floor((READ_BYTES * entries) / Math.max(1, bytes)), 1, MAX_READ_ENTRIES);
}

/** How often the age limit is applied: a quarter of it, between 100 ms and 30 s. */
export function trimInterval(maxAgeMs: number): number {
  return clamp(maxAgeMs / 4, 100, 30_000);
}

/**
 * Drops what is older than `maxAgeMs` (XTRIM MINID ~, on the server's clock: the ids come from it)
 * and pushes the log's expiry back.
 */
export async function trimByAge(
  client: RedisClient,
  keys: RedisLogKeys,
  maxAgeMs: number,
): Promise<void> {
  const [seconds, micros] = await client.time();
  const oldest = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) - maxAgeMs;
  await Promise.all([
    client.xtrim(keys.stream, 'MINID', '~', Math.max(0, oldest)),
    expireLog(client, keys, maxAgeMs),
  ]);
}

/**
 * A log nobody uses any more goes away: both keys expire after max(2 × maxAgeMs, 60 s) unless a
 * live instance pushes the expiry back (each does, on every trim and when it closes).
 */
export function expireLog(client: RedisClient, keys: RedisLogKeys, maxAgeMs: number) {
  const expiry = Math.max(2 * maxAgeMs, 60_000);
  return Promise.all([client.pexpire(keys.stream, expiry), client.pexpire(keys.epoch, expiry)]);
}

/** One reply of a MULTI. */
export interface Result {
  value: unknown;
  error?: Error;
  /** The value, or the error thrown. */
  ok(): unknown;
}

/** EXEC's `[error, value]` pairs; a transaction that did not run is an error. */
export function results(replies: Array<[Error | null, unknown]> | null): Result[] {
  if (!replies) throw new Error('the Redis transaction was aborted');
  return replies.map(([error, value]) => ({
    value,
    error: error ?? undefined,
    ok() {
      if (error) throw error;
      return value;
    },
  }));
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
