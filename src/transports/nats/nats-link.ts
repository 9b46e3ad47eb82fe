import type { ConnectionOptions, NatsConnection } from 'nats';
import type { SyncDelivery } from '../sync-transport.js';
import type { NatsSettings } from '../../options/transport-options.js';
import { RateLimitedWarnings, type SyncLogger } from '../../shared/logger.js';
import { SecretScrubber, secretsIn } from '../../shared/redact.js';
import type { Deadline } from '../../shared/timeout.js';
import { connectionError, natsTimeoutHint } from '../tls.hints.js';
import { loadNatsClient, type NatsClient } from './nats-client.js';
import { hostOf, parseUriOrEmpty, unique } from './nats-uri.js';

/** Ceiling of the backoff between fresh connections after nats.js gave one up (e.g. refused credentials). */
const MAX_RETRY_DELAY = 30_000;
const ignore = (): void => undefined;

/** Thrown from our reconnect-delay hook: the only way to end a nats.js dial loop we hold no handle on. */
class ClosingError extends Error {
  constructor() {
    super('the NATS transport is closing');
  }
}

/** What a NATS transport does at each turn of its connection's life. */
export interface NatsLinkHandlers {
  /**
   * A new connection (the first, or one opened after nats.js gave the last one up): subscribe what
   * lives on it (nats.js re-subscribes it after every reconnect). A throw closes it; a new one follows.
   */
  opened?(connection: NatsConnection): void;
  /** The socket is up: after `opened`, and after every reconnect. `current()` turns false at the next drop. */
  up(connection: NatsConnection, current: () => boolean): void;
  /** The socket dropped, or an attempt failed; `error` says why when there is a reason. */
  down(error?: Error): void;
}

export interface NatsLinkContext {
  uri?: string;
  logger: SyncLogger;
  delivery: SyncDelivery;
  settings: Pick<NatsSettings, 'connectionOptions' | 'client'>;
}

/**
 * One long-lived nats.js connection that never gives up, shared by both NATS transports. nats.js
 * reconnects and re-subscribes by itself; we only tell it never to give up, pass it the uri's
 * credentials (it reads none from a server url), follow its status events, and open a new
 * connection if nats.js ever closes one for good. The transports decide what `up` means.
 */
export class NatsLink {
  /** Takes the uri's and the connection options' credentials out of whatever nats.js says. */
  readonly scrubber: SecretScrubber;
  private readonly warnings: RateLimitedWarnings;
  private nats?: NatsClient;
  private connectOptions: ConnectionOptions = {};
  private connection?: NatsConnection;
  /** The socket is up (between nats.js's connect/reconnect and its next disconnect). */
  private linkUp = false;
  /** A `connect()` still dialing: with waitOnFirstConnect it only settles once a server answers. */
  private dialing?: Promise<void>;
  /** Called by our reconnect-delay hook once closing (see `nextDelayCall`). */
  private onDelayCall?: () => void;
  private retryTimer?: NodeJS.Timeout;
  private failures = 0;
  /** Bumped on every drop, so a round trip started before it cannot report `ready` after it. */
  private epoch = 0;
  private closing = false;
  /**
   * Whether a connect() has been tried yet. The first one runs without waitOnFirstConnect: with it,
   * nats.js retries a failing first connection silently for ever, and a TLS or credentials
   * problem would never be told. Later ones keep the user's setting.
   */
  private dialed = false;

  constructor(
    private readonly context: NatsLinkContext,
    private readonly handlers: NatsLinkHandlers,
  ) {
    this.warnings = new RateLimitedWarnings(context.logger);
    this.scrubber = new SecretScrubber(context.uri, secretsIn(context.settings.connectionOptions));
  }

  /** The connection nats.js keeps (it may be between a drop and its reconnect), until closed. */
  get activeConnection(): NatsConnection | undefined {
    return this.connection;
  }

  /** The NATS client package in use, once `start()` loaded it. */
  get client(): NatsClient | undefined {
    return this.nats;
  }

  /** Loads the NATS client and starts dialing; never waits for the server. */
  async start(): Promise<void> {
    const nats = await loadNatsClient(this.context.settings.client, this.context.delivery);
    if (this.closing) return;
    this.nats = nats;
    this.connectOptions = this.buildOptions();
    this.dial();
  }

  /**
   * The close sequence, within `deadline`: `beforeDrain` (while the socket is still up), then
   * drain (UNSUB, a PING round trip behind everything queued, close), or a plain close while the
   * link is down, and the end of any dial loop still running, so no timer or socket is left.
   */
  async close(
    deadline: Deadline,
    beforeDrain?: (connection: NatsConnection) => Promise<void>,
  ): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    const connection = this.connection;
    if (connection && !connection.isClosed()) {
      // nats.js's reconnect loop outlives close() until its next turn: wait for that turn (our
      // delay hook ends it), so no timer or socket is left behind once we return.
      const loopEnded = this.linkUp ? undefined : this.nextDelayCall();
      if (this.linkUp && beforeDrain) await deadline.within(beforeDrain(connection));
      // While the link is down a round trip cannot happen, so close straight away.
      if (this.linkUp && !connection.isDraining()) await deadline.within(connection.drain());
      if (!connection.isClosed()) await deadline.within(connection.close());
      if (loopEnded) await deadline.within(loopEnded);
    }
    // A first connect still dialing ends at its next turn the same way: connect() rejects.
    if (this.dialing) await deadline.within(this.dialing);
    this.connection = undefined;
  }

  /** Servers as host:port only: what goes into a log line must not carry credentials. */
  where(): string {
    const servers = this.connectOptions.servers;
    const list = typeof servers === 'string' ? [servers] : (servers ?? []);
    return list.length > 0 ? list.map(hostOf).join(', ') : 'NATS';
  }

  /** Settles when nats.js next asks our delay hook how long to wait, which, once closing, ends its loop. */
  private nextDelayCall(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.onDelayCall = resolve;
    });
  }

  /** The settings' connection options, then the uri's host and credentials, and our delay hook. */
  private buildOptions(): ConnectionOptions {
    const { settings, uri } = this.context;
    const supplied = settings.connectionOptions as ConnectionOptions;
    const fromUri = parseUriOrEmpty(uri);
    const servers = unique([
      ...fromUri.servers,
      ...(typeof supplied.servers === 'string' ? [supplied.servers] : (supplied.servers ?? [])),
    ]);
    const suppliesAuth =
      supplied.user !== undefined ||
      supplied.pass !== undefined ||
      supplied.token !== undefined ||
      supplied.authenticator !== undefined;
    // nats.js reads no credentials from a server url: pass the uri's explicitly.
    const options: ConnectionOptions = {
      ...(suppliesAuth ? {} : fromUri.credentials),
      ...supplied,
    };
    if (servers.length > 0) options.servers = servers;
    // tls:// requires TLS, as in the NATS clients: tls options given explicitly still win.
    if (fromUri.tls && !options.tls) options.tls = {};
    const delayOf = options.reconnectDelayHandler;
    const wait = options.reconnectTimeWait ?? 0;
    const jitter = (options.tls ? options.reconnectJitterTLS : options.reconnectJitter) ?? 0;
    options.reconnectDelayHandler = () => {
      if (this.closing) {
        this.onDelayCall?.();
        throw new ClosingError();
      }
      return delayOf ? delayOf() : wait + Math.floor(Math.random() * (jitter + 1));
    };
    return options;
  }

  private dial(): void {
    const nats = this.nats;
    if (!nats || this.closing) return;
    // nats.js normalises the options object it is given in place: hand it a copy each time.
    const first = !this.dialed;
    this.dialed = true;
    const options = { ...this.connectOptions, ...(first ? { waitOnFirstConnect: false } : {}) };
    const attempt = nats.connect(options).then(
      (connection) => this.adopt(connection),
      (error: unknown) => this.dialFailed(error),
    );
    this.dialing = attempt;
    void attempt.then(() => {
      if (this.dialing === attempt) this.dialing = undefined;
    });
  }

  private async adopt(connection: NatsConnection): Promise<void> {
    if (this.closing) {
      await connection.close().catch(ignore);
      return;
    }
    this.connection = connection;
    this.linkUp = true;
    this.failures = 0;
    this.watch(connection);
    void connection.closed().then((error) => this.lost(connection, error));
    try {
      this.handlers.opened?.(connection);
    } catch {
      await connection.close().catch(ignore);
      return;
    }
    this.announceUp(connection);
  }

  /**
   * Follows the client's status events for as long as the connection lives. Both clients name
   * them alike ('disconnect', 'reconnect', 'error', 'ldm'); 2.x puts the detail in `data`, 3.x in
   * `server` or `error`.
   */
  private watch(connection: NatsConnection): void {
    void (async () => {
      for await (const event of connection.status() as AsyncIterable<StatusEvent>) {
        if (this.connection !== connection) break;
        switch (event.type) {
          case 'disconnect':
            this.linkUp = false;
            this.drop();
            break;
          case 'reconnect':
            this.linkUp = true;
            this.announceUp(connection);
            break;
          case 'error':
            this.warnings.warn(
              'server',
              `The NATS server reported an error: ${this.scrubber.text(describe(event))}.`,
            );
            break;
          case 'ldm':
            this.context.logger.log(
              `The NATS server ${describe(event)} is shutting down (lame duck mode); ` +
                'the client will move the connection to another server.',
            );
            break;
        }
      }
    })().catch(ignore);
  }

  private announceUp(connection: NatsConnection): void {
    const epoch = this.epoch;
    const current = () =>
      !this.closing &&
      this.connection === connection &&
      this.epoch === epoch &&
      this.linkUp &&
      !connection.isClosed();
    this.handlers.up(connection, current);
  }

  private drop(error?: Error): void {
    this.epoch++;
    if (!this.closing) this.handlers.down(error);
  }

  /** nats.js closed the connection for good (our close, or it gave up): start over unless closing. */
  private lost(connection: NatsConnection, error: void | Error): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    this.linkUp = false;
    if (this.closing) return;
    const cause =
      error instanceof Error ? connectionError(error, 'nats', this.scrubber) : undefined;
    this.drop(cause);
    this.context.logger.warn(
      `nats.js closed the connection to ${this.where()}${cause ? ` (${cause.message})` : ''}; ` +
        'opening a new one.',
    );
    this.retry();
  }

  private dialFailed(error: unknown): void {
    if (this.closing) return;
    this.failures++;
    const cause = connectionError(error, 'nats', this.scrubber);
    const timeoutHint = natsTimeoutHint(error, this.connectOptions.tls);
    if (timeoutHint) cause.message = `${cause.message}. ${timeoutHint}`;
    this.handlers.down(cause);
    const delay = this.retryDelay();
    this.context.logger.warn(
      `Could not connect to ${this.where()}: ${cause.message.replace(/\.$/, '')}. Trying again in ${delay} ms.`,
    );
    this.retry(delay);
  }

  private retry(delay = this.retryDelay()): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.dial();
    }, delay);
  }

  /** One reconnect wait, doubled per consecutive failed connection (refused credentials, bad TLS). */
  private retryDelay(): number {
    const base = (this.connectOptions.reconnectTimeWait ?? 0) || 1;
    return Math.min(MAX_RETRY_DELAY, base * 2 ** Math.min(Math.max(this.failures - 1, 0), 10));
  }
}

/** A status event of either client: 2.x `{ type, data }`, 3.x `{ type, server? , error? }`. */
interface StatusEvent {
  type: string;
  data?: unknown;
  server?: string;
  error?: unknown;
}

function describe(event: StatusEvent): string {
  const detail = event.data ?? event.server ?? event.error;
  if (detail instanceof Error) return detail.message;
  return typeof detail === 'string' ? detail : JSON.stringify(detail);
}
