import type { Socket } from 'node:net';
import type { ChannelModel, RecoveringChannelModel, SocketOptions } from 'amqplib';
import type { AmqpSettings } from '../../options/transport-options.js';
import { SecretScrubber, redactUri, secretsIn } from '../../shared/redact.js';
import { StatusReporter, type StatusListener } from '../../shared/status.js';
import type { Deadline } from '../../shared/timeout.js';
import { loadAmqplib } from '../broker-packages.js';
import type { SyncTransportContext } from '../sync-transport.js';
import { connectionError, tlsHint } from '../tls.hints.js';
import { hintFor } from './amqp.hints.js';

const ignore = (): void => undefined;

/** What a transport on amqplib's recovery does with each connection. */
export interface AmqpSessionHooks {
  /** Declares the topology and starts consuming on a new connection; throwing makes recovery retry. */
  setup(model: ChannelModel): Promise<void>;
  /** The live connection is gone (dropped, or restarted by us): stop using its channels. */
  retire(error: Error): void;
}

/** One connection, from the moment the setup gets it. */
interface Session {
  model: ChannelModel;
  /** Settles once amqplib reports the connection closed, whoever closed it. */
  ended: Promise<void>;
  /** A connection-level error RabbitMQ gave while the setup ran (it says more than "Channel ended"). */
  error?: Error;
}

/**
 * The connection handling both AMQP transports share. Reconnection is amqplib's own recovery: it
 * reconnects with backoff and jitter, without a give-up limit, and runs the transport's setup on
 * every new connection. This reports the status, logs why an attempt failed (once per distinct
 * reason, with what to do), and closes in order: recovery first, then the connection, also one
 * still in its setup, destroying the socket past the deadline.
 */
export class AmqpConnection {
  readonly status = new StatusReporter();
  readonly scrubber: SecretScrubber;
  /** Set first thing in a shutdown: setups refuse to finish, drops are not reported. */
  closing = false;
  private recovering?: RecoveringChannelModel;
  /** The newest connection: live, or still in the setup. */
  private session?: Session;
  /** Why the attempt in progress failed: tells a failed attempt from a dropped connection. */
  private attemptError?: Error;
  private lastFailure?: string;
  private firstOutcome?: (error?: Error) => void;
  /** Settles with the first attempt's error, or undefined once the first attempt connected. */
  readonly firstAttempt = new Promise<Error | undefined>(
    (resolve) => (this.firstOutcome = resolve),
  );

  constructor(
    private readonly context: SyncTransportContext<AmqpSettings>,
    private readonly hooks: AmqpSessionHooks,
  ) {
    this.scrubber = new SecretScrubber(context.uri, secretsIn(context.settings.socketOptions));
  }

  /** Starts recovery; its first attempt runs in the background (boot never waits for the broker). */
  async open(onStatus: StatusListener): Promise<void> {
    this.status.attach(onStatus);
    const amqplib = await loadAmqplib();
    if (this.closing) return;
    const { uri, settings } = this.context;
    const recovering = await amqplib.connect(uri ?? 'amqp://localhost', {
      ...(settings.socketOptions as SocketOptions),
      recovery: {
        initialDelay: settings.reconnectDelay,
        maxDelay: settings.maxReconnectDelay,
        factor: 2,
        jitter: 0.2,
        waitForConnect: false,
        setup: (model: ChannelModel) => this.setup(model),
      },
    });
    this.recovering = recovering;
    if (this.closing) {
      // Closed meanwhile: recovery's first attempt has not started yet (it waits for a turn).
      this.firstOutcome?.(new Error('closed'));
      await recovering.close();
      return;
    }
    recovering.on('connect', () => this.connected());
    recovering.on('disconnect', (error: Error) => this.disconnected(error));
    recovering.on('connect-failed', (error: Error) => this.failed(error));
    recovering.on('reconnect-scheduled', ({ delay, error }: { delay: number; error: Error }) =>
      this.scheduled(error, delay),
    );
    recovering.on('blocked', (reason: string) =>
      this.context.logger.warn(
        `RabbitMQ blocked the connection (${reason}); events wait, within maxPending, until it unblocks.`,
      ),
    );
    recovering.on('unblocked', () =>
      this.context.logger.log('RabbitMQ unblocked the connection; events flow again.'),
    );
    // The recovering model re-emits socket errors (ECONNRESET when the broker is killed): without
    // a listener they would crash the process. 'disconnect' carries them to the status.
    recovering.on('error', ignore);
  }

  /** Closes a connection whose session broke without it; recovery then builds a new one. */
  restart(model: ChannelModel, reason: string): void {
    if (this.closing) return;
    this.context.logger.warn(`${reason} on exchange "${this.context.key}"; reconnecting.`);
    const error = new Error(reason);
    this.status.dropped(error);
    this.hooks.retire(error);
    model.close().catch(ignore);
  }

  /**
   * The last steps of a shutdown (after the transport stopped consuming and flushed): stop
   * recovery, close the connection (also one still in the setup), destroy its socket past the
   * deadline. An attempt still opening its socket ends by its own `socketOptions.timeout`.
   */
  async end(deadline: Deadline): Promise<void> {
    this.closing = true;
    this.firstOutcome?.(new Error('closed'));
    if (this.recovering) await deadline.within(this.recovering.close());
    const session = this.session;
    if (session) {
      // amqplib reports the close on RabbitMQ's close-ok, before its socket is gone: wait for both.
      const socket = socketOf(session.model);
      const socketClosed = new Promise((resolve) =>
        !socket || socket.destroyed ? resolve(undefined) : socket.once('close', resolve),
      );
      session.model.close().catch(ignore);
      const closing = Promise.all([session.ended, socketClosed]);
      if ((await deadline.within(closing)) === 'timeout') socket?.destroy();
    }
    this.status.closed();
  }

  private async setup(model: ChannelModel): Promise<void> {
    if (this.closing) throw new Error('the AMQP transport is closing');
    const session: Session = {
      model,
      ended: new Promise((resolve) => model.once('close', () => resolve())),
    };
    // Recovery listens to the model only after the setup: until then an error RabbitMQ closes the
    // connection with would crash the process. Kept, because it explains the failed setup.
    const onError = (error: Error) => (session.error ??= error);
    model.on('error', onError);
    // Once recovery took the model over, it leaves its own silent listener on it when it closes:
    // ours goes then, so that listeners never pile up on dead connections.
    model.once('close', () => {
      if (model.listenerCount('error') > 1) model.removeListener('error', onError);
    });
    this.session = session;
    try {
      await this.hooks.setup(model);
    } catch (error) {
      throw session.error ?? error;
    }
    if (this.closing) throw new Error('the AMQP transport is closing');
  }

  private connected(): void {
    this.lastFailure = undefined;
    this.status.ready();
    this.firstOutcome?.(undefined);
    this.firstOutcome = undefined;
  }

  /** The live connection closed (a channel or consumer failure that closed it already said why). */
  private disconnected(error: Error): void {
    const clean = this.scrubber.error(error);
    if (!this.closing && this.status.isReady) this.status.dropped(clean);
    this.hooks.retire(clean);
  }

  private failed(error: Error): void {
    this.attemptError = error;
    this.firstOutcome?.(error);
    this.firstOutcome = undefined;
  }

  /** Recovery waits `delay` ms before its next attempt: after a failed attempt, log why. */
  private scheduled(error: Error, delay: number): void {
    const failedAttempt = error === this.attemptError;
    this.attemptError = undefined;
    if (this.closing) return;
    if (!failedAttempt) {
      this.context.logger.debug?.(`Reconnecting to RabbitMQ in ${delay} ms.`);
      return;
    }
    const { settings, key, uri } = this.context;
    // What to do: about TLS (connectionError adds it), else about what RabbitMQ said.
    const clean = connectionError(error, 'amqp', this.scrubber);
    if (tlsHint(error, 'amqp') === undefined) clean.message += hintFor(error, key);
    this.status.dropped(clean);
    const text =
      `Could not ${this.status.wasEverReady ? 'reconnect' : 'connect'} to RabbitMQ at ` +
      `${redactUri(uri)} (exchange "${key}"): ${clean.message} ` +
      `Retrying in ${delay} ms, then with backoff up to ${settings.maxReconnectDelay} ms.`;
    if (clean.message !== this.lastFailure) {
      this.lastFailure = clean.message;
      this.context.logger.warn(text);
    } else {
      this.context.logger.debug?.(text);
    }
  }
}

function socketOf(model: ChannelModel): Socket | undefined {
  return (model.connection as unknown as { stream?: Socket }).stream;
}
