import type { RedisSettings, Retention } from '../../options/transport-options.js';
import { toBuffer } from '../../shared/bytes.js';
import { asError, errorText } from '../../shared/errors.js';
import { RateLimitedWarnings } from '../../shared/logger.js';
import type { SecretScrubber } from '../../shared/redact.js';
import { StatusReporter } from '../../shared/status.js';
import { Deadline } from '../../shared/timeout.js';
import { loadIoredis } from '../broker-packages.js';
import type {
  SyncTransport,
  SyncTransportContext,
  SyncTransportHandlers,
} from '../sync-transport.js';
import { ClusterWriteGate } from './redis-write-gate.js';
import {
  CLUSTER_READ_RETRIES,
  connectClient,
  duplicateClient,
  openPublisher,
  quit,
  redisScrubber,
  reviveOnEnd,
  type RedisClient,
} from './redis.clients.js';
import { connectionError, tellingError } from '../tls.hints.js';
import { RedisLogCursor } from './redis-stream.cursor.js';
import {
  expireLog,
  PAYLOAD_FIELD,
  redisLogKeys,
  trimByAge,
  trimInterval,
  unfixable,
  type RedisLogKeys,
} from './redis-stream.log.js';

/**
 * How long one XREAD waits at the end of the log. An idle reader checks the log this often, which
 * bounds how late it notices a log lost in a restart when no new entry lands after its cursor.
 */
const BLOCK_MS = 2_000;
/** Past BLOCK_MS, when ioredis gives up on a read whose reply never came (a half-open socket). */
const BLOCK_GRACE_MS = 1_000;
/** The pause before reading again after a refusal; longer when only a person can fix it. */
const RETRY_MS = 500;
const UNFIXABLE_RETRY_MS = 10_000;

/**
 * `delivery: 'recoverable'` over Redis Streams. Every instance appends to one stream per key
 * (`XADD {key}:stream MAXLEN ~ maxEvents`; the reply is the acknowledgement the core waits for) and
 * reads every entry with a cursor of its own (RedisLogCursor) on a connection of its own, so a
 * reconnect resumes where it stopped. The age limit is a periodic `XTRIM MINID`: one command
 * cannot trim by both. A blocking XREAD only waits for the next entry: its reply, which ioredis
 * may have re-sent after a reconnect, is never delivered; the cursor's checked read delivers.
 */
export class RedisStreamTransport implements SyncTransport {
  readonly type = 'redis';
  private readonly status = new StatusReporter();
  private readonly keys: RedisLogKeys;
  private readonly warnings: RateLimitedWarnings;
  private handlers?: SyncTransportHandlers;
  private publisher?: RedisClient;
  private reader?: RedisClient;
  private ownsPublisher = false;
  private gate?: ClusterWriteGate;
  private closing = false;
  private closed?: Promise<void>;
  private lastError?: Error;
  private readonly scrubber: SecretScrubber;
  private readonly cursor: RedisLogCursor;
  private reading?: Promise<void>;
  private trimTimer?: NodeJS.Timeout;
  /** Ends the reader's current pause or wait for its connection. */
  private wake?: () => void;
  /** Settles `open()`: the first join, or the first failure that retrying may fix. */
  private opened?: { resolve: () => void; reject: (error: Error) => void };
  private unfixableLogged?: string;

  constructor(
    private readonly context: SyncTransportContext<RedisSettings & { retention: Retention }>,
  ) {
    this.keys = redisLogKeys(context.key);
    this.scrubber = redisScrubber(context.uri, context.settings);
    this.warnings = new RateLimitedWarnings(context.logger);
    this.cursor = new RedisLogCursor(this.keys, context.logger, {
      message: (payload) => this.handlers?.message(payload),
      gap: (missing, reason) => this.handlers?.gap?.(missing, reason),
    });
  }

  /**
   * Resolves once this instance joined the log, or as soon as an attempt failed in a way retrying
   * may fix (it keeps trying); rejects when the server cannot keep the log (too old, wrong key type,
   * missing permissions), which fails boot under `waitForBroker`.
   */
  async open(handlers: SyncTransportHandlers): Promise<void> {
    this.handlers = handlers;
    this.status.attach((status, error) => handlers.status(status, error));
    const ioredis = await loadIoredis();
    if (this.closing) return;
    const { client: publisher, owned } = openPublisher(
      ioredis,
      this.context.uri,
      this.context.settings,
    );
    this.ownsPublisher = owned;
    this.publisher = publisher;
    const remember = (error: Error) => {
      this.lastError = tellingError(this.lastError, connectionError(error, 'redis', this.scrubber));
      this.update();
    };
    const { maxAgeMs } = this.context.settings.retention;
    this.trimTimer = setInterval(() => void this.applyAgeLimit(), trimInterval(maxAgeMs));
    this.trimTimer.unref();
    const joined = new Promise<void>((resolve, reject) => (this.opened = { resolve, reject }));
    this.watch(publisher, remember);
    const stream = this.keys.stream;
    this.gate = new ClusterWriteGate(
      publisher,
      () => publisher.exists(stream),
      () => this.update(),
    );
    const closing = () => this.closing;
    if (owned) reviveOnEnd(publisher, closing);

    if (this.context.subscribe === false) {
      // Publish-only: no reader, no place in the log; ready (and open) once XADD can go out.
      publisher.on('ready', () => this.settleOpen());
      connectClient(publisher).catch(() => this.settleOpen());
      await joined;
      return;
    }
    const reader = duplicateClient(
      publisher,
      {
        enableAutoPipelining: false,
        // A read waits through an outage and is re-sent after a reconnect (with the same cursor)
        // instead of failing: without the re-send, ioredis would orphan it and never settle it.
        maxRetriesPerRequest: null,
        enableOfflineQueue: true,
        autoResendUnfulfilledCommands: true,
        // Settles a read whose reply cannot come (half-open socket, outage), and replaces the socket.
        blockingTimeout: BLOCK_MS,
        blockingTimeoutGrace: BLOCK_GRACE_MS,
        socketTimeout: BLOCK_MS + BLOCK_GRACE_MS + 2_000,
      },
      CLUSTER_READ_RETRIES,
    );
    this.reader = reader;
    this.watch(reader, remember);
    reader.on('ready', () => this.wake?.());
    reviveOnEnd(reader, closing);

    connectClient(publisher).catch(() => undefined);
    connectClient(reader).catch(() => this.settleOpen());
    this.reading = this.readLoop();
    await joined;
  }

  private watch(client: RedisClient, remember: (error: Error) => void): void {
    client.on('error', remember);
    client.on('close', () => this.update());
    client.on('ready', () => this.update());
  }

  publish(payload: Uint8Array | string): Promise<unknown> {
    const publisher = this.publisher;
    if (!publisher) return Promise.reject(new Error('the Redis transport is not open'));
    const message = typeof payload === 'string' ? payload : toBuffer(payload);
    const { maxEvents } = this.context.settings.retention;
    return this.gate!.watch(
      publisher.xadd(this.keys.stream, 'MAXLEN', '~', maxEvents, '*', PAYLOAD_FIELD, message),
    );
  }

  /** Idempotent: a second call gets the first one's promise. */
  close(): Promise<void> {
    this.closed ??= this.shutDown();
    return this.closed;
  }

  private async shutDown(): Promise<void> {
    this.closing = true;
    this.gate?.stop();
    clearInterval(this.trimTimer);
    this.settleOpen();
    this.wake?.();
    const deadline = new Deadline(this.context.closeTimeout);
    // Stop consuming at once: a read waiting at the end of the log would hold QUIT up to BLOCK_MS.
    this.reader?.disconnect();
    const publisher = this.publisher;
    if (publisher?.status === 'ready') {
      await deadline.within(
        expireLog(publisher, this.keys, this.context.settings.retention.maxAgeMs),
      );
    }
    if (publisher && this.ownsPublisher) await quit(publisher, deadline);
    if (this.reading) await deadline.within(this.reading);
    this.status.closed();
  }

  private async readLoop(): Promise<void> {
    let readNow = true;
    while (!this.closing) {
      try {
        await this.connected();
        if (this.closing) return;
        if (this.cursor.position === undefined) {
          await this.join();
        } else if (readNow) {
          readNow = await this.cursor.readBatch(this.reader!);
        } else {
          // At the end of the log: wait for an entry, or BLOCK_MS (then check the log anyway).
          await this.reader!.xreadBuffer(
            'COUNT',
            1,
            'BLOCK',
            BLOCK_MS,
            'STREAMS',
            this.keys.stream,
            this.cursor.position,
          );
          readNow = true;
        }
      } catch (error) {
        if (this.closing) return;
        readNow = true;
        await this.pause(this.failed(error) ? UNFIXABLE_RETRY_MS : RETRY_MS);
      }
    }
  }

  /** Takes this instance's place in the log; `open()` resolves then. */
  private async join(): Promise<void> {
    if (!(await this.cursor.join(this.reader!))) return;
    this.lastError = undefined;
    this.update();
    this.settleOpen();
  }

  private async applyAgeLimit(): Promise<void> {
    const publisher = this.publisher;
    if (!publisher || publisher.status !== 'ready') return;
    await trimByAge(publisher, this.keys, this.context.settings.retention.maxAgeMs).catch(
      (error: unknown) => {
        if (this.closing) return;
        this.warnings.warn(
          'trim',
          `Trimming the Redis stream failed: ${this.scrubber.text(errorText(error))}`,
        );
      },
    );
  }

  /** Notes a failed read; logs what a person must fix. True when only a person can fix it. */
  private failed(error: unknown): boolean {
    const fatal = unfixable(error, this.keys);
    this.lastError = fatal ?? this.scrubber.error(error);
    this.update();
    if (fatal) {
      // Boot hears it through open() (and logs it); later, it is logged once per distinct cause.
      const told = this.cursor.position === undefined && this.settleOpen(fatal);
      if (!told && this.unfixableLogged !== fatal.message) this.context.logger.error(fatal.message);
      this.unfixableLogged = fatal.message;
      return true;
    }
    this.settleOpen();
    if (asError(error).name === 'ReplyError') {
      this.warnings.warn(
        'read',
        `Reading the Redis stream failed: ${this.scrubber.text(errorText(error))}; retrying.`,
      );
    }
    return false;
  }

  /** Ready once the reader has its place in the log and both connections are up. */
  private update(): void {
    if (this.closing) return;
    const blocked = this.gate?.blockedBy;
    if (blocked) this.lastError = blocked;
    const publishing = this.publisher?.status === 'ready' && !blocked;
    const reading =
      this.context.subscribe === false ||
      (this.reader?.status === 'ready' && this.cursor.position !== undefined);
    if (publishing && reading) {
      this.status.ready();
    } else {
      this.status.dropped(this.lastError);
    }
  }

  /** Settles `open()` once; false if it already was. */
  private settleOpen(error?: Error): boolean {
    const opened = this.opened;
    this.opened = undefined;
    if (error) opened?.reject(error);
    else opened?.resolve();
    return opened !== undefined;
  }

  private connected(): Promise<void> {
    if (this.reader?.status === 'ready' || this.closing) return Promise.resolve();
    return new Promise((resolve) => (this.wake = resolve));
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
