import type { Msg, NatsConnection, NatsError } from 'nats';
import type { NatsSettings } from '../../options/transport-options.js';
import { errorText } from '../../shared/errors.js';
import { RateLimitedWarnings } from '../../shared/logger.js';
import { StatusReporter } from '../../shared/status.js';
import { Deadline } from '../../shared/timeout.js';
import type {
  SyncTransport,
  SyncTransportContext,
  SyncTransportHandlers,
} from '../sync-transport.js';
import { isPermissionViolation } from './nats-errors.js';
import { NatsLink } from './nats-link.js';

const ignore = (): void => undefined;
/** How often a subscription the server revoked (a permission taken away) is asked for again. */
const RESUBSCRIBE_MS = 2_000;

/**
 * `nats://` over nats.js, as feathers-sync 3.x does it on the wire: subject `<key>`, the serialized
 * bytes as the payload, no headers. Unlike feathers-sync it publishes and subscribes on ONE
 * long-lived connection (order holds per connection) and passes the payload on as bytes, so binary
 * serializers work. The connection's life is NatsLink's; here we subscribe, confirm with a PING
 * round trip that the server has the subscription again before reporting `ready`, and publish.
 * The publishes of one turn settle with one PING round trip behind them: the server has them, or
 * they are sent again.
 */
export class NatsTransport implements SyncTransport {
  readonly type = 'nats';
  private readonly status = new StatusReporter();
  /** A permission the server refuses is reported once per publish: keep the log readable. */
  private readonly warnings: RateLimitedWarnings;
  private readonly link: NatsLink;
  private handlers?: SyncTransportHandlers;
  private resumeTimer?: NodeJS.Timeout;
  private resubscribeTimer?: NodeJS.Timeout;
  private closed?: Promise<void>;
  /** The round trip that acknowledges this turn's publishes, shared by all of them. */
  private turnFlush?: Promise<void>;

  constructor(private readonly context: SyncTransportContext<NatsSettings>) {
    this.warnings = new RateLimitedWarnings(context.logger);
    this.link = new NatsLink(context, {
      opened: (connection) => this.subscribe(connection),
      up: (connection, current) => this.confirm(connection, current),
      down: (error) => this.drop(error),
    });
  }

  async open(handlers: SyncTransportHandlers): Promise<void> {
    this.handlers = handlers;
    this.status.attach((status, error) => handlers.status(status, error));
    await this.link.start();
  }

  publish(payload: Uint8Array | string): Promise<void> {
    const connection = this.link.activeConnection;
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
    clearTimeout(this.resumeTimer);
    clearTimeout(this.resubscribeTimer);
    // drain() UNSUBs first, then a PING round trip behind every PUB already queued.
    await this.link.close(new Deadline(this.context.closeTimeout));
    this.status.closed();
  }

  private subscribe(connection: NatsConnection): void {
    // Publish-only: no subscription; the PING round trip in confirm() still proves the link.
    if (this.context.subscribe === false) return;
    try {
      connection.subscribe(this.context.key, {
        callback: (error, msg) => this.deliver(error, msg),
      });
    } catch (error) {
      this.context.logger.error(
        `Could not subscribe to NATS subject "${this.context.key}": ${this.link.scrubber.text(errorText(error))}`,
      );
      throw error;
    }
  }

  /**
   * nats.js writes SUB before anything else on a new socket; a PING queued behind it comes back
   * once the server has processed it, so its PONG proves the subscription is live.
   */
  private confirm(connection: NatsConnection, current: () => boolean): void {
    // A failed round trip means the link dropped again: the next reconnect event confirms anew.
    connection.flush().then(() => {
      if (!current()) return;
      const delay = this.status.wasEverReady ? this.context.settings.resumeDelay : 0;
      if (delay <= 0) {
        this.status.ready();
        return;
      }
      clearTimeout(this.resumeTimer);
      this.resumeTimer = setTimeout(() => {
        this.resumeTimer = undefined;
        if (current()) this.status.ready();
      }, delay);
    }, ignore);
  }

  private resubscribeLater(): void {
    if (this.resubscribeTimer || this.closed) return;
    this.resubscribeTimer = setTimeout(() => {
      this.resubscribeTimer = undefined;
      const connection = this.link.activeConnection;
      if (this.closed) return;
      if (!connection) return this.resubscribeLater();
      try {
        this.subscribe(connection);
      } catch {
        // Logged by subscribe(); the next refusal or reconnect tries again.
      }
    }, RESUBSCRIBE_MS);
    this.resubscribeTimer.unref();
  }

  private drop(error?: Error): void {
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    this.status.dropped(error);
  }

  private deliver(error: NatsError | null, msg: Msg): void {
    if (error) {
      this.warnings.warn(
        'subscription',
        `The NATS subscription on "${this.context.key}" failed: ${error.message}`,
      );
      // The client closes a subscription the server refused (permissions changed on a live
      // connection): ask again until it is allowed, or the instance stays deaf while connected.
      if (isPermissionViolation(error)) this.resubscribeLater();
      return;
    }
    try {
      this.handlers?.message(msg.data);
    } catch {
      // The core never throws here; a custom handler must not break nats.js's read loop either.
    }
  }
}
