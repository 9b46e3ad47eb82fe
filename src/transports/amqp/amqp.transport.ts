import type { Channel, ChannelModel, ConsumeMessage, Options } from 'amqplib';
import type { AmqpSettings } from '../../options/transport-options.js';
import { toBuffer } from '../../shared/bytes.js';
import { Deadline } from '../../shared/timeout.js';
import type {
  SyncTransport,
  SyncTransportContext,
  SyncTransportHandlers,
} from '../sync-transport.js';
import { freshQueueName, instanceQueue } from './amqp.queue.js';
import { AmqpConnection } from './amqp.recovery.js';

/** Publish options shared by every message: feathers-sync sends none either. */
const NO_OPTIONS = Object.freeze({});
const ignore = (): void => undefined;

/** The session whose consumer runs: publishing goes to its channel. */
interface Live {
  model: ChannelModel;
  channel: Channel;
  /** Absent on a publish-only instance: no queue, no consumer. */
  consumerTag?: string;
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
 * serialized bytes as the body. Reconnection is amqplib's own recovery (see AmqpConnection),
 * which runs our setup on every new connection: it declares the whole topology and starts the
 * consumer. Whatever kills the channel alone (a channel error, the queue deleted under us) closes
 * the connection, so the same setup runs again.
 *
 * The queue outlives a dropped connection by `queueExpires`: RabbitMQ keeps what peers publish
 * meanwhile and the instance consumes it when it is back.
 */
export class AmqpTransport implements SyncTransport {
  readonly type = 'amqp';
  private readonly connection: AmqpConnection;
  private readonly queueOptions: Options.AssertQueue;
  /** Our own name, so that a reconnect finds the same queue; '' lets RabbitMQ name it. */
  private queueName: string;
  private handlers?: SyncTransportHandlers;
  private live?: Live;
  private backpressure?: Backpressure;
  private closed?: Promise<void>;

  constructor(private readonly context: SyncTransportContext<AmqpSettings>) {
    const queue = instanceQueue(context.key, context.settings);
    this.queueName = queue.name;
    this.queueOptions = queue.options;
    this.connection = new AmqpConnection(context, {
      setup: (model) => this.setup(model),
      retire: (error) => this.retire(error),
    });
  }

  async open(handlers: SyncTransportHandlers): Promise<void> {
    if (this.handlers || this.connection.closing) return;
    this.handlers = handlers;
    await this.connection.open((status, error) => handlers.status(status, error));
  }

  publish(payload: Uint8Array | string): void | Promise<void> {
    const live = this.live;
    if (!live) {
      const state = this.connection.closing ? 'closed' : 'not connected';
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
    const { key } = this.context;
    const channel = await model.createChannel();
    // Only a channel error closes the channel alone (a dropped connection closes it without one):
    // start the session over on a new connection, where this setup runs again.
    channel.on('error', (error: Error) =>
      this.restart(
        model,
        `RabbitMQ closed the channel (${this.connection.scrubber.text(error.message)})`,
      ),
    );
    // Exactly feathers-sync's declaration: any other argument makes RabbitMQ refuse one side (406).
    await channel.assertExchange(key, 'fanout', { durable: false });
    const consumerTag =
      this.context.subscribe === false ? undefined : await this.consume(model, channel);
    if (this.connection.closing) throw new Error('the AMQP transport is closing');
    const onDrain = () => this.drained(channel);
    channel.on('drain', onDrain);
    this.live = { model, channel, consumerTag, onDrain };
  }

  /** Our queue, bound to the exchange, and its consumer. */
  private async consume(model: ChannelModel, channel: Channel): Promise<string> {
    const { key } = this.context;
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
    return consumerTag;
  }

  /** The session broke without its connection: close the connection, recovery builds a new one. */
  private restart(model: ChannelModel, reason: string): void {
    if (this.live?.model === model) this.connection.restart(model, reason);
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
    if (this.connection.closing) return;
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
   * recovery and close the connection (AmqpConnection.end), within `closeTimeout`.
   */
  private async shutdown(): Promise<void> {
    this.connection.closing = true;
    const deadline = new Deadline(this.context.closeTimeout);
    const live = this.live;
    this.live = undefined;
    if (live) await deadline.within(this.stopConsuming(live));
    this.retire(new Error('the AMQP transport closed before RabbitMQ had these'));
    await this.connection.end(deadline);
  }

  private async stopConsuming({ channel, consumerTag }: Live): Promise<void> {
    if (consumerTag !== undefined) {
      await channel.cancel(consumerTag).catch(ignore);
      if (this.queueName) await channel.deleteQueue(this.queueName).catch(ignore);
    }
    await channel.close();
    // RabbitMQ had every publish before the close: they are sent.
    this.drained(channel);
  }
}
