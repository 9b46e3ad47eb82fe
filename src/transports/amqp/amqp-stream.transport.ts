import type { ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { FeathersSyncConfigError } from '../../errors/sync.errors.js';
import type { AmqpSettings, Retention } from '../../options/transport-options.js';
import { toBuffer } from '../../shared/bytes.js';
import { asError } from '../../shared/errors.js';
import { Deadline } from '../../shared/timeout.js';
import type {
  SyncTransport,
  SyncTransportContext,
  SyncTransportHandlers,
} from '../sync-transport.js';
import { ConfirmsInOrder } from './amqp.confirms.js';
import { streamHint } from './amqp.hints.js';
import { AmqpConnection } from './amqp.recovery.js';
import {
  OFFSET_HEADER,
  PROBE_HEADER,
  probeStreamEnd,
  StreamReader,
  type StreamPosition,
} from './amqp.stream-reader.js';

export type AmqpStreamSettings = AmqpSettings & { retention: Retention };

const ignore = (): void => undefined;

interface Live {
  model: ChannelModel;
  channel: ConfirmChannel;
  /** Absent on a publish-only instance: it declares the stream and publishes, never reads. */
  consumerTag?: string;
  reader?: StreamReader;
  /** Ids of the messages RabbitMQ returned as unroutable on this channel: their confirm is a refusal. */
  returned: Set<string>;
}

/**
 * `delivery: 'recoverable'` over RabbitMQ: a stream queue `<key>.stream` is the durable log. It is
 * bound to the feathers-sync fanout exchange `<key>`, and we publish to that exchange, so
 * feathers-sync peers hear us and what they publish lands in the stream too. Every connection's
 * setup declares exchange, stream and binding before it publishes or reads: a broker restart
 * drops the non-durable exchange with its binding, and whoever publishes first would otherwise
 * publish into nothing.
 *
 * Publishing waits for the publisher confirm (RabbitMQ stored the message), with `mandatory`: a
 * message that reached no queue comes back and counts as refused. Each instance reads the stream
 * with its own consumer from its own offset: right after a probe it appends when it joins, at the
 * last message it read when it reconnects (see resumeAt); the prefetch and our acknowledgements
 * keep the unread part in the stream, not in the instance. Reconnection, status and close come
 * from AmqpConnection.
 */
export class AmqpStreamTransport implements SyncTransport {
  readonly type = 'amqp';
  private readonly connection: AmqpConnection;
  private readonly stream: string;
  private readonly streamArguments: Record<string, unknown>;
  private readonly confirms = new ConfirmsInOrder();
  private readonly ackEvery: number;
  private handlers?: SyncTransportHandlers;
  private live?: Live;
  /** The last message read: a new consumer starts there. */
  private position?: StreamPosition;
  /** The stream was found replaced: the next consumer reads it from its first offset. */
  private rewind = false;
  private published = 0;
  private closed?: Promise<void>;

  constructor(private readonly context: SyncTransportContext<AmqpStreamSettings>) {
    const { key, settings } = context;
    this.stream = `${key}.stream`;
    if (Buffer.byteLength(this.stream) > 255) {
      throw new FeathersSyncConfigError(
        `FeathersSyncModule: the stream of key "${key}" would be named "${this.stream}", over ` +
          "RabbitMQ's 255 bytes. Use a shorter key.",
      );
    }
    this.streamArguments = {
      'x-queue-type': 'stream',
      // RabbitMQ takes whole seconds (or coarser units) only: rounded up, never shorter.
      'x-max-age': `${Math.max(1, Math.ceil(settings.retention.maxAgeMs / 1000))}s`,
      'x-stream-max-segment-size-bytes': settings.streamSegmentBytes,
      ...(settings.streamMaxBytes === undefined
        ? {}
        : { 'x-max-length-bytes': settings.streamMaxBytes }),
    };
    this.ackEvery = Math.max(1, Math.floor(settings.streamPrefetch / 4));
    this.connection = new AmqpConnection(context, {
      setup: (model) => this.setup(model),
      retire: () => this.retire(),
    });
  }

  /**
   * Starts connecting and waits for the first attempt's outcome only: when RabbitMQ refuses the
   * stream for a reason retrying cannot fix (no streams, or another instance's settings), boot
   * learns why. The transport keeps trying meanwhile, in case the broker is fixed.
   */
  async open(handlers: SyncTransportHandlers): Promise<void> {
    if (this.handlers || this.connection.closing) return;
    this.handlers = handlers;
    await this.connection.open((status, error) => handlers.status(status, error));
    const failure = await this.connection.firstAttempt;
    const hint = failure && streamHint(failure, this.context.key);
    if (failure && hint) {
      throw new FeathersSyncConfigError(
        `RabbitMQ refused the stream "${this.stream}" that delivery 'recoverable' needs: ` +
          `${this.connection.scrubber.text(failure.message)}${hint}`,
      );
    }
  }

  /** Settles once RabbitMQ confirmed it has the message in the stream (in publish order). */
  publish(payload: Uint8Array | string): Promise<void> {
    const live = this.live;
    if (!live) {
      const state = this.connection.closing ? 'closed' : 'not connected';
      return Promise.reject(new Error(`the AMQP transport is ${state}`));
    }
    const body = typeof payload === 'string' ? Buffer.from(payload) : toBuffer(payload);
    const messageId = String(++this.published);
    const { returned, channel } = live;
    const { promise, settle } = this.confirms.add();
    try {
      channel.publish(
        this.context.key,
        '',
        body,
        { mandatory: true, messageId },
        (error: Error | null) =>
          settle(
            error ??
              (returned.delete(messageId)
                ? new Error(`RabbitMQ could not route the message to the stream "${this.stream}"`)
                : undefined),
          ),
      );
    } catch (error) {
      settle(asError(error));
    }
    return promise;
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  /** Runs on every new connection, before amqplib reports it: topology, position, consumer. */
  private async setup(model: ChannelModel): Promise<void> {
    const { key, settings } = this.context;
    const channel = await model.createConfirmChannel();
    channel.on('error', (error: Error) =>
      this.restart(
        model,
        `RabbitMQ closed the channel (${this.connection.scrubber.text(error.message)})`,
      ),
    );
    const returned = new Set<string>();
    channel.on('return', (message: ConsumeMessage) => {
      const id = message.properties.messageId as string | undefined;
      if (id !== undefined) returned.add(id);
      this.restart(
        model,
        `RabbitMQ returned a message: nothing was bound to exchange "${key}" (the stream's binding was gone)`,
      );
    });
    // Exactly feathers-sync's declaration: any other argument makes RabbitMQ refuse one side (406).
    await channel.assertExchange(key, 'fanout', { durable: false });
    await channel.assertQueue(this.stream, { durable: true, arguments: this.streamArguments });
    await channel.bindQueue(this.stream, key, '');
    if (this.context.subscribe === false) {
      if (this.connection.closing) throw new Error('the AMQP transport is closing');
      this.live = { model, channel, returned };
      return;
    }
    // Stream consumers must have a prefetch and acknowledge (RabbitMQ refuses them otherwise).
    await channel.prefetch(settings.streamPrefetch);
    const end = await probeStreamEnd(channel, this.stream);
    const reader = this.resumeAt(channel, end);
    const { consumerTag } = await channel.consume(
      this.stream,
      (message) => this.deliver(model, reader, message),
      { noAck: false, arguments: { [OFFSET_HEADER]: reader.offsetArgument } },
    );
    if (reader.retired) throw new Error(`the stream "${this.stream}" starts over`);
    if (this.connection.closing) throw new Error('the AMQP transport is closing');
    this.live = { model, channel, consumerTag, reader, returned };
  }

  /**
   * Where the new consumer starts, `end` being the stream's last message (a probe): right after
   * it when the instance joins (the probe counts as read, so that a reconnect before any message
   * resumes there), at the last message it read when it comes back (read again to prove the
   * stream is the same). A stream that ends before that offset, or holds another message there,
   * was deleted and declared again (or lost with the broker's data): a consumer asking past its
   * end would wait silently until it grew that far, so the new stream is read from its first
   * offset (what the instance already emitted is then dropped as a duplicate).
   */
  private resumeAt(channel: ConfirmChannel, end: StreamPosition): StreamReader {
    const position = this.position;
    if (position === undefined) {
      this.position = end;
      return new StreamReader(channel, end.offset + 1, undefined, this.ackEvery);
    }
    if (!this.rewind && end.offset > position.offset) {
      return new StreamReader(channel, position.offset, position, this.ackEvery);
    }
    this.rewind = false;
    this.context.logger.warn(
      `The stream "${this.stream}" starts over (deleted and declared again, or lost with the ` +
        'broker’s data): what it held before is gone; losses are counted from the senders’ ' +
        'sequence numbers.',
    );
    return new StreamReader(channel, 'first', undefined, this.ackEvery);
  }

  private deliver(model: ChannelModel, reader: StreamReader, message: ConsumeMessage | null): void {
    if (message === null) {
      this.restart(
        model,
        `RabbitMQ cancelled the consumer (the stream "${this.stream}" was deleted?)`,
      );
      return;
    }
    if (reader.retired) return;
    reader.ack(message);
    const headers = message.properties.headers ?? {};
    const offset = Number(headers[OFFSET_HEADER]);
    const probe: unknown = headers[PROBE_HEADER];
    const first = reader.firstDelivery(offset, message.content, probe);
    if (first === 'again') return;
    if (first === 'replaced') {
      this.rewind = true;
      reader.retired = true;
      const reason = `The stream "${this.stream}" holds another message where this instance stopped`;
      if (this.live?.reader === reader) this.connection.restart(model, reason);
      return;
    }
    if (first > 0) {
      this.handlers?.gap?.(
        first,
        `the stream "${this.stream}" dropped them (retention) before this instance read them`,
      );
    }
    this.position = { offset, content: message.content, probe };
    if (probe !== undefined) return;
    if (this.connection.closing) return;
    try {
      this.handlers?.message(message.content);
    } catch {
      // The core never throws; were it to, amqplib would close the channel over it.
    }
  }

  /** The session broke without its connection: close the connection, recovery builds a new one. */
  private restart(model: ChannelModel, reason: string): void {
    if (this.live?.model === model) this.connection.restart(model, reason);
  }

  /** Publishing and reading stop on the live session; its unconfirmed messages fail with it. */
  private retire(): void {
    this.live?.reader?.retire();
    this.live = undefined;
  }

  /**
   * Wait for RabbitMQ's confirms of what the core handed over, stop consuming, acknowledge, close
   * the channel, then the connection (AmqpConnection.end), within `closeTimeout`.
   */
  private async shutdown(): Promise<void> {
    this.connection.closing = true;
    const deadline = new Deadline(this.context.closeTimeout);
    const live = this.live;
    if (live) {
      await deadline.within(this.confirms.idle());
      await deadline.within(this.stopConsuming(live));
    }
    this.retire();
    await this.connection.end(deadline);
  }

  private async stopConsuming({ channel, reader, consumerTag }: Live): Promise<void> {
    if (consumerTag !== undefined) await channel.cancel(consumerTag).catch(ignore);
    reader?.flush();
    await channel.close();
  }
}
