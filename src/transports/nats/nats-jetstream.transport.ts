import { createHash } from 'node:crypto';
import type { JetStreamClient, JetStreamManager, JsMsg, NatsConnection, StreamInfo } from 'nats';
import type { NatsSettings, Retention } from '../../options/transport-options.js';
import { asError, errorText } from '../../shared/errors.js';
import { RateLimitedWarnings } from '../../shared/logger.js';
import { StatusReporter } from '../../shared/status.js';
import { Deadline } from '../../shared/timeout.js';
import type {
  SyncTransport,
  SyncTransportContext,
  SyncTransportHandlers,
} from '../sync-transport.js';
import { InOrder } from './in-order.js';
import { StreamReader } from './jetstream-reader.js';
import {
  ensureStream,
  isJetStreamMissing,
  jetStreamMissingError,
  JetStreamSetupError,
  permissionError,
  serverTooOld,
  streamConfigOf,
} from './jetstream-stream.js';
import type { NatsClient } from './nats-client.js';
import { NatsLink } from './nats-link.js';
import { isNoResponders } from './nats-errors.js';

type Settings = NatsSettings & { retention: Retention };
type Guard = () => boolean;

const ignore = (): void => undefined;

/**
 * How long a publish waits for its PubAck while connected. A drop fails what is in flight at
 * once (nats.js would wait this long, and never send it: it discards what it buffered while
 * disconnected), so this only bounds a server that stays silent; the core then sends it again.
 */
const PUBLISH_TIMEOUT_MS = 5_000;
/** Backoff between setup attempts on a live connection (JetStream starting, a refused stream). */
const SETUP_RETRY_MS = 500;
const MAX_SETUP_RETRY_MS = 30_000;

/**
 * `nats://` with `delivery: 'recoverable'`: the key's log is a JetStream stream on the subject
 * `<key>` (so feathers-sync peers on core NATS still hear us, and the stream keeps what they send).
 * Publishing waits for the PubAck, with a message id derived from the bytes, so the core's resends
 * after a drop are stored once. Each instance reads the stream in order from its own cursor (the
 * stream's end when it starts); after every reconnect it first checks the stream (created anew?
 * trimmed past the cursor?), then reads on from the cursor, and only then reports `ready`.
 */
export class NatsJetStreamTransport implements SyncTransport {
  readonly type = 'nats';
  private readonly status = new StatusReporter();
  private readonly warnings: RateLimitedWarnings;
  private readonly link: NatsLink;
  private readonly acks = new InOrder();
  private readonly firstSetup: Promise<void>;
  private settleFirstSetup!: (error?: Error) => void;
  private handlers?: SyncTransportHandlers;
  /** Set while `ready`: where publishes go, and the manager the reader was made with. */
  private js?: JetStreamClient;
  private jsm?: JetStreamManager;
  private reader?: StreamReader;
  /** The last stream sequence handed to the core: reading resumes after it. */
  private cursor = 0;
  /** `created` of the stream the cursor counts in: another value means the stream was made anew. */
  private created?: string;
  /** The stream's limits are set to ours at this instance's first setup only (see `setUp`). */
  private adjusted = false;
  /** The live connection and its guard, for setups that do not follow a reconnect. */
  private live?: { connection: NatsConnection; current: Guard };
  /** Bumped by every drop and every setup: a setup still running from before gives up. */
  private run = 0;
  private setupTimer?: NodeJS.Timeout;
  private setupFailures = 0;
  private closing = false;
  private closed?: Promise<void>;

  constructor(private readonly context: SyncTransportContext<Settings>) {
    this.warnings = new RateLimitedWarnings(context.logger);
    this.link = new NatsLink(context, {
      up: (connection, current) => this.up(connection, current),
      down: (error) => this.down(error),
    });
    this.firstSetup = new Promise<void>((resolve, reject) => {
      this.settleFirstSetup = (error) => (error ? reject(error) : resolve());
    });
    // open() hands it on; until open() awaits it, a rejection is not an unhandled one.
    this.firstSetup.catch(ignore);
  }

  /**
   * Starts connecting, then settles with the first setup: once reading and publishing work, or
   * with an error only the user can fix (no JetStream, a stream that is not ours), so that boot
   * with `waitForBroker` fails with its fix. The transport keeps trying either way.
   */
  async open(handlers: SyncTransportHandlers): Promise<void> {
    this.handlers = handlers;
    this.status.attach((status, error) => handlers.status(status, error));
    await this.link.start();
    await this.firstSetup;
  }

  publish(payload: Uint8Array | string): Promise<void> {
    const js = this.js;
    if (!js) throw new Error('the NATS transport is not connected');
    const acked = js.publish(this.context.key, payload, {
      // The same bytes give the same id: a resend within the duplicate window is stored once.
      msgID: createHash('sha256').update(payload).digest('base64url'),
      timeout: PUBLISH_TIMEOUT_MS,
    });
    acked.catch((error: unknown) => {
      // No stream takes the subject any more (deleted, or the server lost it): set it up again.
      const noStream = isNoResponders(error);
      if (noStream && this.status.isReady) this.restart(asError(error));
    });
    return this.acks.add(acked);
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.run++;
    clearTimeout(this.setupTimer);
    this.settleFirstSetup();
    const reader = this.reader;
    reader?.stop();
    const jsm = this.jsm;
    await this.link.close(new Deadline(this.context.closeTimeout), async () => {
      // While the link is up: what was published gets its PubAck, then the consumer goes.
      await this.acks.idle();
      if (reader && jsm) await reader.remove(jsm);
    });
    this.js = undefined;
    this.acks.failAll(new Error('the NATS transport closed'));
    this.status.closed();
  }

  private up(connection: NatsConnection, current: Guard): void {
    this.live = { connection, current };
    void this.setUp(connection, current);
  }

  private down(error?: Error): void {
    this.run++;
    clearTimeout(this.setupTimer);
    this.js = undefined;
    // A new reader resumes from the cursor once the stream is checked again.
    this.reader?.stop();
    this.status.dropped(error);
    // nats.js never sends what it buffered while disconnected: fail it now, the core resends it.
    this.acks.failAll(error ?? new Error('the connection to NATS dropped'));
  }

  /** The stream changed under a live connection: stop, check it again, read on. */
  private restart(error: Error): void {
    const live = this.live;
    if (this.closing || !live?.current()) return;
    this.run++;
    this.js = undefined;
    this.reader?.stop();
    this.status.dropped(error);
    void this.setUp(live.connection, live.current);
  }

  private async setUp(connection: NatsConnection, current: Guard): Promise<void> {
    clearTimeout(this.setupTimer);
    const run = ++this.run;
    const valid = () => current() && run === this.run;
    const client = this.link.client;
    if (!client) return;
    const { key, settings } = this.context;
    try {
      const tooOld = serverTooOld(connection.info?.version, this.link.where());
      if (tooOld) throw tooOld;
      const jsm = await client.jetstreamManager(connection).catch((error: unknown) => {
        throw isJetStreamMissing(error) ? jetStreamMissingError(this.link.where()) : error;
      });
      if (!valid()) return;
      const wanted = streamConfigOf(key, settings.retention, settings.streamReplicas);
      // The log is shared, so only one retention can hold: the instance that starts last sets
      // it (a rolling deploy that changes it needs no manual step). Reconnects never set it again,
      // so an older instance that reconnects does not set it back.
      const { info, changed } = await ensureStream(jsm, wanted, !this.adjusted);
      if (!valid()) return;
      if (changed.length > 0) {
        this.context.logger.warn(
          `The JetStream stream "${wanted.name}" had other limits (${changed.join(', ')}); they ` +
            'are now this instance’s. Give every instance the same retention and streamReplicas.',
        );
      }
      this.adjusted = true;
      this.placeCursor(info);
      if (this.context.subscribe !== false)
        await this.startReader(client, connection, jsm, wanted.name, valid);
      if (!valid()) return;
      this.jsm = jsm;
      this.js = client.jetstream(connection, { timeout: PUBLISH_TIMEOUT_MS });
      this.setupFailures = 0;
      this.status.ready();
      this.settleFirstSetup();
    } catch (error) {
      if (valid()) this.setupFailed(permissionError(error, key) ?? asError(error));
    }
  }

  /** Publish-only instances have none: the consumer that reads the stream from the cursor. */
  private async startReader(
    client: NatsClient,
    connection: NatsConnection,
    jsm: JetStreamManager,
    stream: string,
    valid: () => boolean,
  ): Promise<void> {
    const previous = this.reader;
    const reader = new StreamReader(stream, {
      message: (msg) => this.deliver(reader, msg),
      ended: (error) => this.readerEnded(reader, error),
    });
    this.reader = reader;
    // The consumer of the previous reader outlived the drop on the server: delete it now.
    if (previous) void previous.remove(jsm);
    await reader.start(client, connection, jsm, this.cursor + 1);
    if (!valid()) void reader.remove(jsm);
  }

  /** Where reading starts: the end at the first setup, the cursor after a drop, 0 on a new stream. */
  private placeCursor(info: StreamInfo): void {
    if (this.created === undefined) {
      this.created = info.created;
      this.cursor = info.state.last_seq;
      return;
    }
    if (info.created !== this.created) {
      this.created = info.created;
      this.cursor = 0;
      this.context.logger.warn(
        `The JetStream stream "${info.config.name}" was created anew (the server lost its store, ` +
          'or the stream was deleted): reading it from its start. Events it held that this ' +
          'instance had not read are lost; they are counted as missed when their senders publish again.',
      );
      return;
    }
    if (info.state.last_seq < this.cursor) {
      // The same stream, shorter: the server lost its last messages (it crashed before writing
      // them out). Their sequence numbers go to new messages, which must be read.
      this.cursor = info.state.last_seq;
      this.context.logger.warn(
        `The JetStream stream "${info.config.name}" lost its last messages in a server restart; ` +
          'reading on from its new end.',
      );
      return;
    }
    // Everything between the cursor and the stream's first message was dropped by retention.
    const trimmed = info.state.first_seq - this.cursor - 1;
    if (trimmed > 0) {
      this.cursor += trimmed;
      this.lostByRetention(trimmed);
    }
  }

  private deliver(reader: StreamReader, msg: JsMsg): void {
    if (reader !== this.reader) return;
    if (msg.seq <= this.cursor) {
      // The stream's sequence went back: it was made anew while we read it.
      this.restart(new Error(`the JetStream stream restarted at sequence ${msg.seq}`));
      return;
    }
    const skipped = msg.seq - this.cursor - 1;
    this.cursor = msg.seq;
    if (skipped > 0) this.lostByRetention(skipped);
    try {
      this.handlers?.message(msg.data);
    } catch {
      // The core never throws here; a custom handler must not stop the reader either.
    }
  }

  private lostByRetention(missing: number): void {
    this.handlers?.gap?.(
      missing,
      'the JetStream stream’s retention dropped them while this instance was behind; raise ' +
        'retention.maxAgeMs / maxEvents to catch up after longer outages',
    );
  }

  private readerEnded(reader: StreamReader, error?: Error): void {
    if (reader !== this.reader) return;
    this.warnings.warn(
      'readerEnded',
      `Reading the JetStream stream for "${this.context.key}" stopped` +
        `${error ? ` (${error.message})` : ''}; reading on from where it stopped.`,
    );
    this.restart(error ?? new Error('the JetStream consumer stopped'));
  }

  private setupFailed(failure: Error): void {
    const error =
      failure instanceof JetStreamSetupError ? failure : this.link.scrubber.error(failure);
    this.status.dropped(error);
    const delay = Math.min(MAX_SETUP_RETRY_MS, SETUP_RETRY_MS * 2 ** this.setupFailures++);
    if (error instanceof JetStreamSetupError) {
      this.settleFirstSetup(error);
      this.warnings.warn('setup', `${error.message} Trying again in ${delay} ms.`);
    } else {
      this.warnings.warn(
        'setup',
        `Could not set up the JetStream stream for "${this.context.key}" on ` +
          `${this.link.where()}: ${this.link.scrubber.text(errorText(error))}. Trying again in ${delay} ms.`,
      );
    }
    this.setupTimer = setTimeout(() => {
      const live = this.live;
      if (live?.current()) void this.setUp(live.connection, live.current);
    }, delay);
  }
}
