import { createHash } from 'node:crypto';
import type {
  DiscardPolicy,
  JetStreamManager,
  RetentionPolicy,
  StorageType,
  StreamConfig,
  StreamInfo,
} from 'nats';
import type { Retention } from '../../options/transport-options.js';
import { apiCodeOf, isNoResponders, isPermissionViolation } from './nats-errors.js';

/**
 * The JetStream stream that holds a key's log: its name, the settings we give it, and the one
 * place that creates it or checks one that exists. Its only subject is the key itself, so
 * feathers-sync peers on core NATS hear what we publish and the stream keeps what they publish.
 */

/** A JetStream setup problem only the user can fix; the message says how. */
export class JetStreamSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JetStreamSetupError';
  }
}

/** The server's JetStream error codes we act on. */
const STREAM_NOT_FOUND = 10059;
const NAME_IN_USE = 10058;
const SUBJECTS_OVERLAP = 10065;
const NOT_ENABLED_FOR_ACCOUNT = 10039;
/** The longest dedupe window we ask for; JetStream refuses one longer than max_age (10052). */
const MAX_DUPLICATE_WINDOW_MS = 120_000;
/** Stream names double as directory names in the file store: keep to what every file system takes. */
const MAX_NAME_LENGTH = 255;
const NANOS_PER_MS = 1_000_000;

/**
 * A stream name for the key. Names cannot hold '.', '*', '>', white space or path separators, and
 * keys may hold '.' and ':': those become '_', and a hash of the key is appended so that two keys
 * that differ only there ("a.b", "a:b", "a_b") never share a stream.
 */
export function streamNameOf(key: string): string {
  const safe = key.replace(/[^A-Za-z0-9_-]/g, '_');
  if (safe === key && key.length <= MAX_NAME_LENGTH) return key;
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 10);
  return `${safe.slice(0, MAX_NAME_LENGTH - hash.length - 1)}_${hash}`;
}

/** The settings this module gives a key's stream. */
export function streamConfigOf(
  key: string,
  retention: Retention,
  replicas: number,
): Partial<StreamConfig> & { name: string } {
  return {
    name: streamNameOf(key),
    subjects: [key],
    // The wire values, the same in both NATS clients (whose enums hold them).
    retention: 'limits' as RetentionPolicy,
    storage: 'file' as StorageType,
    discard: 'old' as DiscardPolicy,
    max_age: retention.maxAgeMs * NANOS_PER_MS,
    max_msgs: retention.maxEvents,
    // Long enough for the core's resends after a drop; never longer than max_age.
    duplicate_window: Math.min(MAX_DUPLICATE_WINDOW_MS, retention.maxAgeMs) * NANOS_PER_MS,
    num_replicas: replicas,
  };
}

/** The limits an instance may change on a stream that exists (what differs between deployments). */
const LIMITS = ['max_age', 'max_msgs', 'duplicate_window', 'num_replicas'] as const;

export interface StreamSetup {
  info: StreamInfo;
  /** The limits changed to ours, as "name: before → after" (empty when nothing changed). */
  changed: string[];
}

/**
 * Creates the stream, or checks the one that exists: it must be ours in kind (this one subject,
 * limits retention, file storage). Its limits are set to ours when `adjust` (see the transport).
 */
export async function ensureStream(
  jsm: JetStreamManager,
  wanted: Partial<StreamConfig> & { name: string },
  adjust: boolean,
): Promise<StreamSetup> {
  let info = await jsm.streams.info(wanted.name).catch((error: unknown) => {
    if (apiCodeOf(error) === STREAM_NOT_FOUND) return undefined;
    throw error;
  });
  if (!info) {
    try {
      return { info: await jsm.streams.add(wanted), changed: [] };
    } catch (error) {
      // Another instance created it a moment ago (the server may answer that the name, or the
      // subject, is taken): check it as found. A subject taken by another stream stays an error.
      const code = apiCodeOf(error);
      if (code !== NAME_IN_USE && code !== SUBJECTS_OVERLAP) throw setupError(error, wanted);
      info = await jsm.streams.info(wanted.name).catch(() => undefined);
      if (!info) throw setupError(error, wanted);
    }
  }
  checkKind(info, wanted);
  const changed = adjust ? changedLimits(info.config, wanted) : [];
  if (changed.length === 0) return { info, changed };
  const limits = Object.fromEntries(LIMITS.map((limit) => [limit, wanted[limit]]));
  try {
    return { info: await jsm.streams.update(wanted.name, { ...info.config, ...limits }), changed };
  } catch (error) {
    throw setupError(error, wanted);
  }
}

/** JetStream is not there at all: the server runs without it, or the account has none. */
export function isJetStreamMissing(error: unknown): boolean {
  // 10008 ("temporarily unavailable") is a server still starting, which a retry fixes.
  return isNoResponders(error) || apiCodeOf(error) === NOT_ENABLED_FOR_ACCOUNT;
}

/** The oldest nats-server with the consumer API nats.js reads streams with (JetStream's own). */
const MIN_SERVER = [2, 9, 4];

/** An error when the server is older than MIN_SERVER, else undefined. */
export function serverTooOld(version: string | undefined, where: string): Error | undefined {
  const parts = /^v?(\d+)\.(\d+)\.(\d+)/
    .exec(version ?? '')
    ?.slice(1)
    .map(Number);
  if (!parts) return undefined;
  const older = parts.findIndex((part, i) => part !== MIN_SERVER[i]);
  if (older === -1 || parts[older] > MIN_SERVER[older]) return undefined;
  return new JetStreamSetupError(
    `The NATS server ${where} runs nats-server ${version}; delivery 'recoverable' needs ` +
      `${MIN_SERVER.join('.')} or newer (its JetStream consumer API). Upgrade the server, or set ` +
      "delivery: 'broadcast'.",
  );
}

/** The server refused a JetStream API call: the uri's user lacks a permission. */
export function permissionError(error: unknown, key: string): JetStreamSetupError | undefined {
  if (!isPermissionViolation(error)) return undefined;
  return new JetStreamSetupError(
    `The NATS server refused a JetStream request of delivery 'recoverable' (${(error as Error).message}). ` +
      `Allow the uri's user to publish to "$JS.API.>" and "${key}" and to subscribe to "_INBOX.>".`,
  );
}

export function jetStreamMissingError(where: string): JetStreamSetupError {
  return new JetStreamSetupError(
    `JetStream is not enabled on the NATS server ${where}, and delivery 'recoverable' keeps its ` +
      'log in a JetStream stream. Start nats-server with -js (or `jetstream {}` in its config) and ' +
      "enable JetStream for the account the uri logs in with, or set delivery: 'broadcast'.",
  );
}

function checkKind(info: StreamInfo, wanted: Partial<StreamConfig> & { name: string }): void {
  const { config } = info;
  const subjects = config.subjects ?? [];
  const problems = [
    subjects.length === 1 && subjects[0] === wanted.subjects?.[0]
      ? undefined
      : `its subjects are ${JSON.stringify(subjects)}, not ${JSON.stringify(wanted.subjects)}`,
    config.retention === wanted.retention
      ? undefined
      : `its retention is "${config.retention}", not "${wanted.retention}"`,
    config.storage === wanted.storage
      ? undefined
      : `its storage is "${config.storage}", not "${wanted.storage}" (a restart would lose it)`,
  ].filter((problem) => problem !== undefined);
  if (problems.length > 0) {
    throw new JetStreamSetupError(
      `The JetStream stream "${wanted.name}" exists but was not made for this key: ` +
        `${problems.join('; ')}. Delete it (nats stream rm ${wanted.name}) so that it is ` +
        'created again, or use another key.',
    );
  }
}

function changedLimits(config: StreamConfig, wanted: Partial<StreamConfig>): string[] {
  return LIMITS.filter((limit) => config[limit] !== wanted[limit]).map(
    (limit) => `${limit}: ${show(limit, config[limit])} → ${show(limit, wanted[limit])}`,
  );
}

function show(limit: (typeof LIMITS)[number], value: number | undefined): string {
  if (value === undefined) return 'unset';
  return limit === 'max_age' || limit === 'duplicate_window'
    ? `${value / NANOS_PER_MS} ms`
    : String(value);
}

/** What the server said about a stream it refused to create or change, with what to do. */
function setupError(error: unknown, wanted: Partial<StreamConfig> & { name: string }): Error {
  const said = (error as Error).message;
  if (apiCodeOf(error) === SUBJECTS_OVERLAP) {
    return new JetStreamSetupError(
      `Another JetStream stream already captures the subject "${wanted.subjects?.[0]}" (${said}), ` +
        `so the stream "${wanted.name}" cannot be created. Remove that subject from the other ` +
        'stream (or delete it), or use another key.',
    );
  }
  if (apiCodeOf(error) !== undefined) {
    return new JetStreamSetupError(
      `The NATS server refused the JetStream stream "${wanted.name}": ${said}. Check ` +
        'nats.streamReplicas (at most the number of servers), retention, and the JetStream ' +
        'limits of the account.',
    );
  }
  return error as Error;
}
