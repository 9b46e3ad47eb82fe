import type {
  Channel,
  ChannelModel,
  ConsumeMessage,
  Options,
  RecoveringChannelModel,
  SocketOptions,
} from 'amqplib';
import type { AmqpSettings } from '../../options/transport-options.js';
import { toBuffer } from '../../shared/bytes.js';
import { SecretScrubber, redactUri } from '../../shared/redact.js';
import { StatusReporter } from '../../shared/status.js';
import { Deadline } from '../../shared/timeout.js';
import { loadAmqplib } from '../broker-packages.js';
import type {
  SyncTransport,
  SyncTransportContext,
  SyncTransportHandlers,
} from '../sync-transport.js';
import { hintFor } from './amqp.hints.js';
import { freshQueueName, instanceQueue } from './amqp.queue.js';

/** Publish options shared by every message: feathers-sync sends none either. */
const NO_OPTIONS = Object.freeze({});
const ignore = (): void => undefined;

/** One connection, from the moment the setup gets it. */
interface Session {
  model: ChannelModel;
  /** Settles once amqplib reports the connection closed, whoever closed it. */
  ended: Promise<void>;
}

/** The session whose consumer runs: publishing goes to its channel. */
interface Live {
  model: ChannelModel;
  channel: Channel;
  consumerTag: string;
  onDrain: () => void;
}

/** The publishes amqplib took past its high-water mark: settled on its channel's 'drain'. */
interface Backpressure {
  channel: Channel;
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * `amqp://` and `amqps://` over amqplib, as feathers-sync 3.x does it on the wire: a fanout
 * exchange `<key>` declared `{ durable: false }`, one queue per instance bound to it, the
 * serialized bytes as the body. Reconnection is amqplib's own recovery: it reconnects with
 * backoff and jitter, without a give-up limit, and runs our setup on every new connection, which
 * declares the whole topology and starts the consumer. Whatever kills the channel alone (a
 * channel error, the queue deleted under us) closes the connection, so the same setup runs again.
 *
 * The queue outlives a dropped connection by `queueExpires`: RabbitMQ keeps what peers publish
 * meanwhile and the instance consumes it when it is back.
 */
export class AmqpTransport implements SyncTransport {
  readonly type = 'amqp';
  private readonly status = new StatusReporter();
  private readonly scrubber: SecretScrubber;
  private readonly queueOptions: Options.AssertQueue;
  /** Our own name, so that a reconnect finds the same queue; '' lets RabbitMQ name it. */
  private queueName: string;
  private handlers?: SyncTransportHandlers;
  private recovering?: RecoveringChannelModel;
  /** The newest connection: live, or still in the setup. */
  private session?: Session;
  private live?: Live;
  private backpressure?: Backpressure;
  /** Why the attempt in progress failed: tells a failed attempt from a dropped connection. */
  private attemptError?: Error;
  private lastFailure?: string;
  private closing = false;
  private closed?: Promise<void>;

  constructor(private readonly context: SyncTransportContext<AmqpSettings>) {
    const queue = instanceQueue(context.key, context.settings);
    this.queueName = queue.name;
    this.queueOptions = queue.options;
    const socket = context.settings.socketOptions as { password?: string; passphrase?: string };
    this.scrubber = new SecretScrubber(context.uri, [socket.password, socket.passphrase]);
  }

  async open(handlers: SyncTransportHandlers): Promise<void> {
    if (this.handlers || this.closing) return;
    this.handlers = handlers;
    this.status.attach((status, error) => handlers.status(status, error));
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
        // Boot never waits for the broker: the first attempt runs in the background too.
        waitForConnect: false,
        setup: (model: ChannelModel) => this.setup(model),
      },
    });
    this.recovering = recovering;
    if (this.closing) {
      // Closed meanwhile: recovery's first attempt has not started yet (it waits for a turn).
      await recovering.close();
      return;
    }
    recovering.on('connect', () => this.connected());
    recovering.on('disconnect', (error: Error) => this.disconnected(error));
    recovering.on('connect-failed', (error: Error) => (this.attemptError = error));
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
    // Connection errors are followed by 'disconnect', which carries them to the status.
    recovering.on('error', ignore);
  }

  publish(payload: Uint8Array | string): void | Promise<void> {
    const live = this.live;
    if (!live) {
      const state = this.closing ? 'closed' : 'not connected';
      return Promise.reject(new Error(`the AMQP transport is ${state}`));
    }
    const body = typeof payload === 'string' ? Buffer.from(payload) : toBuffer(payload);
    if (live.channel.publish(this.context.key, '', body, NO_OPTIONS)) return;
    // amqplib took it above its high-water mark: it settles once amqplib has written it out, so
    // the core hands over no more than its window meanwhile.
    return this.waitForDrain(live.channel);
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  /** Runs on every new connection, before amqplib reports it: the whole topology, then the consumer. */
  private async setup(model: ChannelModel): Promise<void> {
    if (this.closing) throw new Error('the AMQP transport is closing');
    this.session = { model, ended: new Promise((resolve) => model.once('close', () => resolve())) };
    const { key } = this.context;
    const channel = await model.createChannel();
    // Only a channel error closes the channel alone (a dropped connection closes it without one):
    // start the session over on a new connection, where this setup runs again.
    channel.on('error', (error: Error) =>
      this.restart(model, `RabbitMQ closed the channel (${this.scrubber.text(error.message)})`),
    );
    // Exactly feathers-sync's declaration: any other argument makes RabbitMQ refuse one side (406).
    await channel.assertExchange(key, 'fanout', { durable: false });
    // In a cluster, a durable queue whose node is down cannot be declared (404) until that node
    // is back: start afresh with another queue rather than wait.
    const { queue } = await channel
      .assertQueue(this.queueName, this.queueOptions)
      .catch((error: unknown) => this.renameQueueOn(404, error));
    await channel.bindQueue(queue, key, '');
    // An exclusive consumer: should RabbitMQ still feed a connection of ours that it has not seen
    // die yet (until its heartbeat times out), it refuses this one (403) instead of splitting the
    // deliveries with a dead socket; the next attempt then uses a fresh queue.
    const { consumerTag } = await channel
      .consume(queue, (message) => this.deliver(model, message), { noAck: true, exclusive: true })
      .catch((error: unknown) => this.renameQueueOn(403, error));
    if (this.closing) throw new Error('the AMQP transport is closing');
    const onDrain = () => this.drained(channel);
    channel.on('drain', onDrain);
    this.live = { model, channel, consumerTag, onDrain };
  }

  private connected(): void {
    this.lastFailure = undefined;
    this.status.ready();
  }

  /** The live connection closed (a channel or consumer failure that closed it already said why). */
  private disconnected(error: Error): void {
    const clean = this.scrubber.error(error);
    if (!this.closing && this.status.isReady) this.status.dropped(clean);
    this.retire(clean);
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
    const clean = this.scrubber.error(error);
    this.status.dropped(clean);
    const { settings, key, uri } = this.context;
    const text =
      `Could not ${this.status.wasEverReady ? 'reconnect' : 'connect'} to RabbitMQ at ` +
      `${redactUri(uri)} (exchange "${key}"): ${clean.message}${hintFor(error, key)} ` +
      `Retrying in ${delay} ms, then with backoff up to ${settings.maxReconnectDelay} ms.`;
    if (clean.message !== this.lastFailure) {
      this.lastFailure = clean.message;
      this.context.logger.warn(text);
    } else {
      this.context.logger.debug?.(text);
    }
  }

  /** The session broke without its connection: close the connection, recovery builds a new one. */
  private restart(model: ChannelModel, reason: string): void {
    if (this.closing || this.live?.model !== model) return;
    this.context.logger.warn(`${reason} on exchange "${this.context.key}"; reconnecting.`);
    const error = new Error(reason);
    this.status.dropped(error);
    this.retire(error);
    model.close().catch(ignore);
  }

  /** Publishing stops on the live session; what amqplib had not written out yet is lost with it. */
  private retire(error: Error): void {
    const live = this.live;
    this.live = undefined;
    live?.channel.removeListener('drain', live.onDrain);
    this.backpressure?.reject(error);
    this.backpressure = undefined;
  }

  private deliver(model: ChannelModel, message: ConsumeMessage | null): void {
    if (message === null) {
      this.restart(model, 'RabbitMQ cancelled the consumer (its queue was deleted?)');
      return;
    }
    if (this.closing) return;
    try {
      this.handlers?.message(message.content);
    } catch {
      // The core never throws; were it to, amqplib would close the channel over it.
    }
  }

  private waitForDrain(channel: Channel): Promise<void> {
    if (this.backpressure?.channel !== channel) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.backpressure = { channel, promise, resolve, reject };
    }
    return this.backpressure.promise;
  }

  private drained(channel: Channel): void {
    if (this.backpressure?.channel !== channel) return;
    this.backpressure.resolve();
    this.backpressure = undefined;
  }

  /** Rethrows `error`, after picking a new queue name if it has the code that calls for one. */
  private renameQueueOn(code: number, error: unknown): never {
    if (this.queueName && (error as { code?: unknown } | null)?.code === code) {
      this.queueName = freshQueueName(this.context.key);
    }
    throw error;
  }

  /**
   * Stop consuming, delete our queue (nobody comes back for it), close the channel (RabbitMQ
   * confirms that only after the writes before it, so what amqplib buffered goes out), then stop
   * recovery and close the connection, also one still in the setup. Past `closeTimeout` the socket
   * is destroyed. An attempt still opening its socket ends by its own `socketOptions.timeout`.
   */
  private async shutdown(): Promise<void> {
    this.closing = true;
    const deadline = new Deadline(this.context.closeTimeout);
    const live = this.live;
    this.live = undefined;
    if (live) await deadline.within(this.stopConsuming(live));
    this.retire(new Error('the AMQP transport closed before RabbitMQ had these'));
    if (this.recovering) await deadline.within(this.recovering.close());
    const session = this.session;
    if (session) {
      session.model.close().catch(ignore);
      if ((await deadline.within(session.ended)) === 'timeout') destroySocket(session.model);
    }
    this.status.closed();
  }

  private async stopConsuming({ channel, consumerTag }: Live): Promise<void> {
    await channel.cancel(consumerTag).catch(ignore);
    if (this.queueName) await channel.deleteQueue(this.queueName).catch(ignore);
    await channel.close();
    // RabbitMQ had every publish before the close: they are sent.
    this.drained(channel);
  }
}

function destroySocket(model: ChannelModel): void {
  const stream = (model.connection as unknown as { stream?: { destroy(): void } }).stream;
  stream?.destroy();
}
