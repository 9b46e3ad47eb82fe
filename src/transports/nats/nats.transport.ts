import type * as Nats from 'nats';
import type { ConnectionOptions, Msg, NatsConnection, NatsError } from 'nats';
import type { NatsSettings } from '../../options/transport-options.js';
import { asError, errorText } from '../../shared/errors.js';
import { RateLimitedWarnings } from '../../shared/logger.js';
import { redactUri } from '../../shared/redact.js';
import { StatusReporter } from '../../shared/status.js';
import { Deadline } from '../../shared/timeout.js';
import { loadNats } from '../broker-packages.js';
import type {
  SyncTransport,
  SyncTransportContext,
  SyncTransportHandlers,
} from '../sync-transport.js';

type NatsModule = typeof Nats;
type Credentials = Pick<ConnectionOptions, 'user' | 'pass' | 'token'>;

/** Ceiling of the backoff between fresh connections after nats.js gave one up (e.g. refused credentials). */
const MAX_RETRY_DELAY = 30_000;
const ignore = (): void => undefined;

/** Thrown from our reconnect-delay hook: the only way to end a nats.js dial loop we hold no handle on. */
class ClosingError extends Error {
  constructor() {
    super('the NATS transport is closing');
  }
}

/**
 * `nats://` over nats.js, as feathers-sync 3.x does it on the wire: subject `<key>`, the serialized
 * bytes as the payload, no headers. Unlike feathers-sync it publishes and subscribes on ONE
 * long-lived connection (order holds per connection) and passes the payload on as bytes, so binary
 * serializers work. nats.js reconnects and re-subscribes by itself; we only tell it never to give
 * up, confirm with a PING round trip that the server has the subscription again before reporting
 * `ready`, and open a new connection if nats.js ever closes one for good. The publishes of one
 * turn settle with one PING round trip behind them: the server has them, or they are sent again.
 */
export class NatsTransport implements SyncTransport {
  readonly type = 'nats';
  private readonly status = new StatusReporter();
  /** A permission the server refuses is reported once per publish: keep the log readable. */
  private readonly warnings: RateLimitedWarnings;
  private nats?: NatsModule;
  private connectOptions: ConnectionOptions = {};
  private handlers?: SyncTransportHandlers;
  private connection?: NatsConnection;
  /** The socket is up (between nats.js's connect/reconnect and its next disconnect). */
  private linkUp = false;
  /** A `connect()` still dialing: with waitOnFirstConnect it only settles once a server answers. */
  private dialing?: Promise<void>;
  /** Called by our reconnect-delay hook once closing (see `nextDelayCall`). */
  private onDelayCall?: () => void;
  private retryTimer?: NodeJS.Timeout;
  private resumeTimer?: NodeJS.Timeout;
  private failures = 0;
  /** Bumped on every drop, so a round trip or a timer started before it cannot report `ready` after it. */
  private epoch = 0;
  private closing = false;
  private closed?: Promise<void>;
  /** The round trip that acknowledges this turn's publishes, shared by all of them. */
  private turnFlush?: Promise<void>;

  constructor(private readonly context: SyncTransportContext<NatsSettings>) {
    this.warnings = new RateLimitedWarnings(context.logger);
  }

  async open(handlers: SyncTransportHandlers): Promise<void> {
    this.handlers = handlers;
    this.status.attach((status, error) => handlers.status(status, error));
    const nats = await loadNats();
    if (this.closing) return;
    this.nats = nats;
    this.connectOptions = this.buildOptions();
    this.dial();
  }

  publish(payload: Uint8Array | string): Promise<void> {
    const connection = this.connection;
    if (!connection) throw new Error('the NATS transport is not connected');
    // Synchronous: nats.js queues the bytes and writes everything queued in one go on the next
    // microtask, in call order; one PING behind them all acknowledges the lot.
    connection.publish(this.context.key, payload);
    if (!this.turnFlush) {
      this.turnFlush = connection.flush();
      queueMicrotask(() => (this.turnFlush = undefined));
    }
    return this.turnFlush;
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.resumeTimer);
    const deadline = new Deadline(this.context.closeTimeout);
    const connection = this.connection;
    if (connection && !connection.isClosed()) {
      // nats.js's reconnect loop outlives close() until its next turn: wait for that turn (our
      // delay hook ends it), so no timer or socket is left behind once we return.
      const loopEnded = this.linkUp ? undefined : this.nextDelayCall();
      // drain(): UNSUB, then a PING round trip behind every PUB already queued, then close.
      // While the link is down that round trip cannot happen, so close straight away.
      if (this.linkUp && !connection.isDraining()) await deadline.within(connection.drain());
      if (!connection.isClosed()) await deadline.within(connection.close());
      if (loopEnded) await deadline.within(loopEnded);
    }
    // A first connect still dialing ends at its next turn the same way: connect() rejects.
    if (this.dialing) await deadline.within(this.dialing);
    this.connection = undefined;
    this.status.closed();
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
    const fromUri = parseUri(uri);
    const servers = unique([
      ...(fromUri.server ? [fromUri.server] : []),
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
    const attempt = nats.connect({ ...this.connectOptions }).then(
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
      connection.subscribe(this.context.key, {
        callback: (error, msg) => this.deliver(error, msg),
      });
    } catch (error) {
      this.context.logger.error(
        `Could not subscribe to NATS subject "${this.context.key}": ${errorText(error)}`,
      );
      await connection.close().catch(ignore);
      return;
    }
    this.confirm(connection);
  }

  /** Follows nats.js's status events for as long as the connection lives. */
  private watch(connection: NatsConnection): void {
    const { Events } = this.nats as NatsModule;
    void (async () => {
      for await (const event of connection.status()) {
        if (this.connection !== connection) break;
        switch (event.type) {
          case Events.Disconnect:
            this.linkUp = false;
            this.drop();
            break;
          case Events.Reconnect:
            this.linkUp = true;
            this.confirm(connection);
            break;
          case Events.Error:
            this.warnings.warn(
              'server',
              `The NATS server reported an error: ${describe(event.data)}.`,
            );
            break;
          case Events.LDM:
            this.context.logger.log(
              `The NATS server ${describe(event.data)} is shutting down (lame duck mode); ` +
                'nats.js will move the connection to another server.',
            );
            break;
        }
      }
    })().catch(ignore);
  }

  /**
   * nats.js writes SUB before anything else on a new socket; a PING queued behind it comes back
   * once the server has processed it, so its PONG proves the subscription is live.
   */
  private confirm(connection: NatsConnection): void {
    const epoch = this.epoch;
    // A failed round trip means the link dropped again: the next reconnect event confirms anew.
    connection.flush().then(() => {
      if (!this.current(connection, epoch)) return;
      const delay = this.status.wasEverReady ? this.context.settings.resumeDelay : 0;
      if (delay <= 0) {
        this.status.ready();
        return;
      }
      clearTimeout(this.resumeTimer);
      this.resumeTimer = setTimeout(() => {
        this.resumeTimer = undefined;
        if (this.current(connection, epoch)) this.status.ready();
      }, delay);
    }, ignore);
  }

  private current(connection: NatsConnection, epoch: number): boolean {
    return (
      !this.closing &&
      this.connection === connection &&
      this.epoch === epoch &&
      this.linkUp &&
      !connection.isClosed()
    );
  }

  private drop(error?: Error): void {
    this.epoch++;
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    if (!this.closing) this.status.dropped(error);
  }

  /** nats.js closed the connection for good (our close, or it gave up): start over unless closing. */
  private lost(connection: NatsConnection, error: void | Error): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    this.linkUp = false;
    if (this.closing) return;
    const cause = error instanceof Error ? error : undefined;
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
    const cause = asError(error);
    this.status.dropped(cause);
    const delay = this.retryDelay();
    this.context.logger.warn(
      `Could not connect to ${this.where()}: ${cause.message}. Trying again in ${delay} ms.`,
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

  private deliver(error: NatsError | null, msg: Msg): void {
    if (error) {
      this.warnings.warn(
        'subscription',
        `The NATS subscription on "${this.context.key}" failed: ${error.message}`,
      );
      return;
    }
    try {
      this.handlers?.message(msg.data);
    } catch {
      // The core never throws here; a custom handler must not break nats.js's read loop either.
    }
  }

  /** Servers as host:port only: what goes into a log line must not carry credentials. */
  private where(): string {
    const servers = this.connectOptions.servers;
    const list = typeof servers === 'string' ? [servers] : (servers ?? []);
    return list.length > 0 ? list.map(hostOf).join(', ') : 'NATS';
  }
}

/** `host:port` of a server entry, whatever credentials it was written with. */
function hostOf(server: string): string {
  try {
    return new URL(server.includes('://') ? server : `nats://${server}`).host;
  } catch {
    return redactUri(server);
  }
}

/** The uri's server without its user info, and the credentials nats.js would otherwise ignore. */
function parseUri(uri: string | undefined): { server?: string; credentials: Credentials } {
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

function describe(data: unknown): string {
  return typeof data === 'string' ? data : JSON.stringify(data);
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
