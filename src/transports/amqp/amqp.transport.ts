import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage, Options, SocketOptions } from 'amqplib';
import { redactUri } from '../../core/redact.js';
import { FeathersSyncConfigError } from '../../errors/sync.errors.js';
import { messages } from '../../errors/sync.messages.js';
import type { AmqpTransportOptions } from '../../feathers-sync.options.js';
import { interopDefault, loadPackage } from '../load-package.js';
import type {
  SyncLogger,
  SyncTransport,
  SyncTransportContext,
  SyncTransportHandlers,
  TransportStatus,
} from '../sync-transport.js';

type Connect = (url: string, socketOptions?: SocketOptions) => Promise<ChannelModel>;

/** One connection with its channel and consumer. Any part failing retires the whole of it. */
interface Session {
  readonly connection: ChannelModel;
  channel?: Channel;
  consumerTag?: string;
  /** The consumer runs: the session counted as `ready`. */
  live: boolean;
  /** Retired: its objects only get a silent error listener from now on. */
  dead: boolean;
  /** Settles when amqplib reports the connection closed, whoever closed it. */
  readonly ended: Promise<void>;
  readonly listeners: Array<[emitter: NodeJS.EventEmitter, event: string, fn: Listener]>;
}

type Listener = Parameters<NodeJS.EventEmitter['on']>[1];

const DEFAULT_RECONNECT_DELAY = 500;
const DEFAULT_MAX_RECONNECT_DELAY = 5000;
/** amqplib has no handshake timeout of its own: a host that accepts TCP and stays silent would hang an attempt. */
const DEFAULT_SOCKET_TIMEOUT = 10_000;
const DEFAULT_CLOSE_BUDGET = 5000;
const DEFAULT_QUEUE_EXPIRES = 60_000;
/** Queue names are at most 255 bytes; a uuid and a dot follow the key. */
const MAX_KEY_IN_QUEUE_NAME = 200;
/** A body shorter than this is no secret worth mangling error messages for. */
const MIN_SECRET_LENGTH = 3;
/** Publish options shared by every message: feathers-sync sends none either. */
const NO_OPTIONS = Object.freeze({});
const ignore = (): void => undefined;

/**
 * `amqp://` and `amqps://` over amqplib, as feathers-sync 3.x does it on the wire: a fanout
 * exchange `<key>` declared `{ durable: false }`, one queue per instance bound to it, the
 * serialized bytes as the body. Reconnection is ours (amqplib's recovery option is not used): on
 * any failure the connection, channel and consumer are dropped together and the whole topology is
 * declared again on a fresh connection, with backoff and without a give-up limit.
 *
 * The queue outlives a dropped connection by `queueExpires`: RabbitMQ keeps what peers publish
 * meanwhile and the instance consumes it when it is back, whichever instance reconnects first.
 */
export class AmqpTransport implements SyncTransport {
  readonly type = 'amqp';
  private readonly key: string;
  private readonly uri?: string;
  private readonly logger: SyncLogger;
  private readonly socketOptions: SocketOptions;
  private readonly reconnectDelay: number;
  private readonly maxReconnectDelay: number;
  private readonly closeBudget: number;
  /** Our own name, so that a reconnect finds the same queue; '' lets RabbitMQ name it. */
  private queueName: string;
  private readonly queueOptions: Options.AssertQueue;
  private readonly secrets: string[];
  private connect?: Connect;
  private handlers?: SyncTransportHandlers;
  private status: TransportStatus = 'connecting';
  private everReady = false;
  private closing = false;
  private closed?: Promise<void>;
  private session?: Session;
  /** The channel to write to right now; unset while waiting for 'drain' or a connection. */
  private direct?: Channel;
  /** Bodies accepted while `direct` was unset, in order; `head` is the next one to write. */
  private backlog: Array<Buffer | undefined> = [];
  private head = 0;
  private attempt?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private failures = 0;
  private lastFailure?: string;
  private readonly retiring = new Set<Promise<void>>();

  constructor(context: SyncTransportContext) {
    this.key = context.key;
    this.uri = context.uri;
    this.logger = context.logger;
    const settings: AmqpTransportOptions = context.options.amqp ?? {};
    this.reconnectDelay = positive(
      'amqp.reconnectDelay',
      settings.reconnectDelay,
      DEFAULT_RECONNECT_DELAY,
    );
    this.maxReconnectDelay = Math.max(
      this.reconnectDelay,
      positive('amqp.maxReconnectDelay', settings.maxReconnectDelay, DEFAULT_MAX_RECONNECT_DELAY),
    );
    this.closeBudget = context.options.closeTimeout ?? DEFAULT_CLOSE_BUDGET;
    const expires = atLeastZero('amqp.queueExpires', settings.queueExpires, DEFAULT_QUEUE_EXPIRES);
    const maxLength =
      settings.queueMaxLength === undefined
        ? undefined
        : positive('amqp.queueMaxLength', settings.queueMaxLength, 0, 'a positive integer');
    if (expires > 0) {
      this.queueName = this.newQueueName();
      // Not auto-delete: the consumer goes with a dropped connection, the queue must stay. Durable
      // because RabbitMQ 4.3 refuses transient non-exclusive queues; `expires` removes it. Classic
      // named explicitly: some brokers (Amazon MQ 4) make quorum queues the default type.
      this.queueOptions = {
        durable: true,
        exclusive: false,
        autoDelete: false,
        expires,
        maxLength,
        arguments: { 'x-queue-type': 'classic' },
      };
    } else {
      this.queueName = '';
      this.queueOptions = { durable: false, exclusive: true, autoDelete: true, maxLength };
    }
    this.socketOptions = this.buildSocketOptions(settings.socketOptions);
    this.secrets = secretsOf(this.uri);
  }

  async open(handlers: SyncTransportHandlers): Promise<void> {
    if (this.handlers || this.closing) return;
    this.handlers = handlers;
    handlers.status('connecting');
    const amqplib = interopDefault(
      await loadPackage('amqplib', 'amqp://', () => import('amqplib')),
    );
    if (this.closing) return;
    this.connect = amqplib.connect;
    this.startAttempt();
  }

  publish(payload: Uint8Array | string): void | Promise<void> {
    const body = typeof payload === 'string' ? Buffer.from(payload) : toBuffer(payload);
    const channel = this.direct;
    if (channel !== undefined) {
      // `false` means the message is queued in amqplib above its high-water mark: later ones wait
      // for 'drain' in our backlog so that order holds and memory stays with us, not the socket.
      if (!channel.publish(this.key, '', body, NO_OPTIONS)) this.direct = undefined;
      return;
    }
    if (this.closing) return Promise.reject(new Error('the AMQP transport is closed'));
    this.backlog.push(body);
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.direct = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    // An attempt in flight cannot be cancelled in amqplib; it notices `closing` at its next step.
    if (this.attempt) await this.attempt;
    const session = this.session;
    this.session = undefined;
    if (session && !session.dead) await this.retire(session, true);
    const unsent = this.backlog.length - this.head;
    if (unsent > 0) {
      this.logger.warn(
        `${unsent} event(s) handed to the AMQP transport were never sent: RabbitMQ at ` +
          `${redactUri(this.uri)} was unreachable until shutdown.`,
      );
    }
    this.backlog = [];
    this.head = 0;
    await Promise.all([...this.retiring]);
    this.report('closed');
  }

  private startAttempt(): void {
    this.timer = undefined;
    const attempt = this.connectOnce().finally(() => {
      if (this.attempt === attempt) this.attempt = undefined;
    });
    this.attempt = attempt;
  }

  /** Connects and declares the topology; never rejects (failures schedule the next attempt). */
  private async connectOnce(): Promise<void> {
    let connection: ChannelModel;
    try {
      connection = await this.connect!(this.uri ?? 'amqp://localhost', this.socketOptions);
    } catch (error) {
      if (!this.closing) this.failed(error);
      return;
    }
    const session = this.track(connection);
    this.session = session;
    if (this.closing) return;
    try {
      const channel = await connection.createChannel();
      session.channel = channel;
      this.listen(session, channel, 'error', (error: Error) => this.drop(session, error));
      // A closing connection closes its channels first: let the connection's 'close', which
      // carries the reason, come before this one.
      this.listen(session, channel, 'close', () =>
        queueMicrotask(() => this.drop(session, new Error('RabbitMQ closed the channel'))),
      );
      this.listen(session, channel, 'drain', () => this.drained(session));
      if (session.dead || this.closing) return;
      // Exactly feathers-sync's declaration: any other argument makes RabbitMQ refuse one side (406).
      await channel.assertExchange(this.key, 'fanout', { durable: false });
      // In a cluster, a durable queue whose node is down cannot be declared (404) until that
      // node is back: start afresh with another queue rather than wait.
      const { queue } = await channel
        .assertQueue(this.queueName, this.queueOptions)
        .catch((error: unknown) => this.renameQueueOn(404, error));
      await channel.bindQueue(queue, this.key, '');
      if (session.dead || this.closing) return;
      // An exclusive consumer: should RabbitMQ still feed a connection of ours that it has not
      // seen die yet (until its heartbeat times out), it refuses this one (403) instead of
      // splitting the deliveries with a dead socket; the next attempt then uses a fresh queue.
      const { consumerTag } = await channel
        .consume(queue, (message) => this.deliver(session, message), {
          noAck: true,
          exclusive: true,
        })
        .catch((error: unknown) => this.renameQueueOn(403, error));
      session.consumerTag = consumerTag;
    } catch (error) {
      this.drop(session, error);
      return;
    }
    if (session.dead || this.closing) return;
    session.live = true;
    this.everReady = true;
    this.failures = 0;
    this.lastFailure = undefined;
    // What waited for the connection goes first, before the core sends its own outbox on `ready`.
    this.flush(session);
    this.report('ready');
  }

  /** Rethrows `error`, after picking a new queue name if it has the code that calls for one. */
  private renameQueueOn(code: number, error: unknown): never {
    if (this.queueName && (error as { code?: unknown } | null)?.code === code) {
      this.queueName = this.newQueueName();
    }
    throw error;
  }

  private newQueueName(): string {
    return `${this.key.slice(0, MAX_KEY_IN_QUEUE_NAME)}.${randomUUID()}`;
  }

  private track(connection: ChannelModel): Session {
    const session: Session = {
      connection,
      live: false,
      dead: false,
      ended: new Promise<void>((resolve) => connection.once('close', () => resolve())),
      listeners: [],
    };
    this.listen(session, connection, 'error', (error: Error) => this.drop(session, error));
    this.listen(session, connection, 'close', (error?: Error) =>
      this.drop(session, error ?? new Error('RabbitMQ closed the connection')),
    );
    this.listen(session, connection, 'blocked', (reason: string) =>
      this.logger.warn(
        `RabbitMQ blocked the connection (${reason}); events wait in memory until it unblocks.`,
      ),
    );
    this.listen(session, connection, 'unblocked', () =>
      this.logger.log('RabbitMQ unblocked the connection; events flow again.'),
    );
    return session;
  }

  private listen(
    session: Session,
    emitter: NodeJS.EventEmitter,
    event: string,
    fn: Listener,
  ): void {
    emitter.on(event, fn);
    session.listeners.push([emitter, event, fn]);
  }

  private deliver(session: Session, message: ConsumeMessage | null): void {
    if (message === null) {
      this.drop(session, new Error(`RabbitMQ cancelled the consumer on exchange "${this.key}"`));
      return;
    }
    if (session.dead || this.closing) return;
    try {
      this.handlers?.message(message.content);
    } catch {
      // The core never throws; were it to, amqplib would close the channel over it.
    }
  }

  private drained(session: Session): void {
    if (session.dead || !session.live || this.closing) return;
    this.flush(session);
  }

  /** Writes the backlog until amqplib pushes back; `direct` is set again once it is empty. */
  private flush(session: Session): void {
    const channel = session.channel!;
    while (this.head < this.backlog.length) {
      const body = this.backlog[this.head]!;
      this.backlog[this.head++] = undefined;
      let accepted: boolean;
      try {
        accepted = channel.publish(this.key, '', body, NO_OPTIONS);
      } catch (error) {
        this.logger.warn(`An event could not be handed to RabbitMQ: ${this.clean(error).message}`);
        continue;
      }
      if (!accepted) {
        this.compact();
        return;
      }
    }
    this.backlog = [];
    this.head = 0;
    this.direct = channel;
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.backlog.length) {
      this.backlog = this.backlog.slice(this.head);
      this.head = 0;
    }
  }

  /** Retires a failed session and schedules the next attempt. Safe to call twice. */
  private drop(session: Session, error: unknown): void {
    if (session.dead) return;
    const wasLive = session.live;
    this.detach(session);
    if (this.session === session) this.session = undefined;
    this.direct = undefined;
    this.retireInBackground(session);
    if (this.closing) return;
    if (wasLive) {
      this.report('reconnecting', this.clean(error));
      this.schedule();
    } else {
      this.failed(error);
    }
  }

  /** A connection attempt or topology declaration failed: log the first of a kind, retry later. */
  private failed(error: unknown): void {
    const clean = this.clean(error);
    this.report(this.everReady ? 'reconnecting' : 'connecting', clean);
    const delay = this.schedule();
    const text =
      `Could not ${this.everReady ? 'reconnect' : 'connect'} to RabbitMQ at ${redactUri(this.uri)} ` +
      `(exchange "${this.key}"): ${clean.message}${hintFor(error, this.key)} ` +
      `Retrying in ${delay} ms, then with backoff up to ${this.maxReconnectDelay} ms.`;
    if (clean.message !== this.lastFailure) {
      this.lastFailure = clean.message;
      this.logger.warn(text);
    } else {
      this.logger.debug?.(text);
    }
  }

  private schedule(): number {
    if (this.timer || this.closing) return 0;
    const nominal = Math.min(this.maxReconnectDelay, this.reconnectDelay * 2 ** this.failures);
    if (this.failures < 30) this.failures++;
    // Jitter downwards only, so that `maxReconnectDelay` stays an upper bound; it spreads a fleet
    // that lost the broker at the same moment.
    const delay = Math.round(nominal * (1 - Math.random() * 0.25));
    this.timer = setTimeout(() => this.startAttempt(), delay);
    return delay;
  }

  /** Removes our listeners from a session's objects, leaving a silent 'error' one on each. */
  private detach(session: Session): void {
    session.dead = true;
    session.live = false;
    const emitters = new Set<NodeJS.EventEmitter>();
    for (const [emitter, event, fn] of session.listeners) {
      emitter.removeListener(event, fn);
      emitters.add(emitter);
    }
    session.listeners.length = 0;
    // An amqplib object without an 'error' listener throws the error out of the process.
    for (const emitter of emitters) emitter.on('error', ignore);
  }

  private retireInBackground(session: Session): void {
    const retiring = this.retire(session, false).finally(() => this.retiring.delete(retiring));
    this.retiring.add(retiring);
  }

  /**
   * Closes a session within the close budget. Final (the transport closes): stop consuming, hand
   * over the backlog, delete the queue, then close the channel (RabbitMQ acknowledges that only
   * after the writes before it) and the connection. Past the budget the socket is destroyed so
   * that no handle stays open.
   */
  private async retire(session: Session, final: boolean): Promise<void> {
    const live = session.live;
    if (!session.dead) this.detach(session);
    const { connection, channel } = session;
    const steps = async (): Promise<void> => {
      try {
        if (final && channel) {
          if (session.consumerTag) await channel.cancel(session.consumerTag).catch(ignore);
          // Past the high-water mark on purpose: the process is about to let go of these anyway.
          while (live && this.head < this.backlog.length) {
            const body = this.backlog[this.head]!;
            this.backlog[this.head++] = undefined;
            channel.publish(this.key, '', body, NO_OPTIONS);
          }
          // Nobody will come back for what it holds; don't leave it to `expires`.
          if (this.queueName) await channel.deleteQueue(this.queueName).catch(ignore);
          await channel.close().catch(ignore);
        }
      } finally {
        await connection.close().catch(ignore);
      }
    };
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), this.closeBudget);
    });
    const outcome = await Promise.race([
      Promise.race([steps().catch(ignore), session.ended]),
      expired,
    ]);
    clearTimeout(timer);
    if (outcome === 'expired') destroySocket(connection);
  }

  private report(status: TransportStatus, error?: Error): void {
    if (this.status === 'closed') return;
    if (status === this.status && !error) return;
    this.status = status;
    this.handlers?.status(status, error);
  }

  /** amqplib errors carry no uri today; this keeps it that way should one ever include it. */
  private clean(error: unknown): Error {
    const raw = asError(error);
    let text = raw.message;
    for (const secret of this.secrets) {
      if (text.includes(secret)) {
        text = text.split(secret).join(secret === this.uri ? redactUri(this.uri) : '***');
      }
    }
    if (text === raw.message) return raw;
    const copy = new Error(text);
    copy.name = raw.name;
    const code = (raw as { code?: unknown }).code;
    if (code !== undefined) Object.assign(copy, { code });
    return copy;
  }

  private buildSocketOptions(given: unknown): SocketOptions {
    if (given !== undefined && (given === null || typeof given !== 'object')) {
      throw new FeathersSyncConfigError(
        messages.invalidOption('amqp.socketOptions', 'an object of amqplib socket options', given),
      );
    }
    const { recovery, ...rest } = (given ?? {}) as SocketOptions & { recovery?: unknown };
    if (recovery !== undefined) {
      this.logger.warn(
        'amqp.socketOptions.recovery is ignored: the AMQP transport reconnects by itself ' +
          '(tune it with amqp.reconnectDelay and amqp.maxReconnectDelay).',
      );
    }
    return {
      timeout: DEFAULT_SOCKET_TIMEOUT,
      ...rest,
      // Names the connection in the RabbitMQ management UI; the user's properties win.
      clientProperties: {
        connection_name: `nestjs-feathers-sync ${this.key}`,
        ...rest.clientProperties,
      },
    };
  }
}

function positive(
  name: string,
  value: number | undefined,
  fallback: number,
  expected = 'a positive number of milliseconds',
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new FeathersSyncConfigError(messages.invalidOption(name, expected, value));
  }
  return value;
}

function atLeastZero(name: string, value: number | undefined, fallback: number): number {
  if (value === 0) return 0;
  return positive(name, value, fallback, '0 or a positive number of milliseconds');
}

/** The strings that must never reach a log: the uri itself and its password, raw and decoded. */
function secretsOf(uri: string | undefined): string[] {
  if (uri === undefined) return [];
  const secrets = new Set<string>([uri]);
  try {
    const { username, password } = new URL(uri);
    // As redactUri does: without a password, the user part is the secret (a token).
    const secret = password || username;
    for (const candidate of [secret, safeDecode(secret)]) {
      if (candidate.length >= MIN_SECRET_LENGTH) secrets.add(candidate);
    }
  } catch {
    // The factory only builds this transport for a uri `new URL` accepts.
  }
  // Longest first: the uri contains the password.
  return [...secrets].sort((a, b) => b.length - a.length);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function hintFor(error: unknown, key: string): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  const message = String((error as Error | undefined)?.message);
  if (code === 406 && /exchange/i.test(message)) {
    return (
      `. The exchange "${key}" exists with other settings; feathers-sync and this module declare ` +
      'it as fanout with durable: false. Delete that exchange or use another key.'
    );
  }
  if (/Login was refused/i.test(message)) {
    return '. Check the user and password in the uri and their permissions on the vhost.';
  }
  if (/exclusive use/i.test(message)) {
    return (
      '. A connection of this instance that RabbitMQ has not yet seen die still consumes the ' +
      'queue; the next attempt declares a new one.'
    );
  }
  return '.';
}

/** Node's own errors may come from another realm (jest's sandbox): `instanceof` is not enough. */
function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  if (error !== null && typeof error === 'object' && typeof (error as Error).message === 'string') {
    return error as Error;
  }
  return new Error(String(error));
}

function destroySocket(connection: ChannelModel): void {
  const stream = (connection.connection as unknown as { stream?: { destroy(): void } }).stream;
  stream?.destroy();
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
