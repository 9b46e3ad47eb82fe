import { randomBytes } from 'node:crypto';
import type {
  AckPolicy,
  ConsumerMessages,
  DeliverPolicy,
  JetStreamManager,
  JsMsg,
  NatsConnection,
} from 'nats';
import type { NatsClient } from './nats-client.js';

/** Messages the server may send ahead of what was handed on: the instance's own read buffer. */
export const READ_BATCH = 256;
/** A pull lasts this long; the server sends an idle heartbeat every half of it. */
const PULL_EXPIRES_MS = 5_000;
/** The server forgets a consumer nobody pulled from this long (an instance killed, or away). */
const INACTIVE_THRESHOLD_MS = 60_000;
const NANOS_PER_MS = 1_000_000;
const ignore = (): void => undefined;

export interface ReaderHandlers {
  /** The next message of the stream, in stream order. */
  message(msg: JsMsg): void;
  /** The reader stopped by itself (its consumer or stream is gone, a delivery went missing). */
  ended(error?: Error): void;
}

/**
 * Reads a stream in order from one sequence on, with an ephemeral consumer of its own: what
 * nats.js's ordered consumer does (no acks, memory storage, one replica), without its own recovery.
 * Its recovery retries creating the consumer in a loop that neither `stop()` nor closing the
 * connection ends (30 tries `expires` apart at first, forever later), which would outlive close().
 * Here the transport resumes after each drop with a new reader at its cursor, once it has checked
 * the stream, and a reader that ends by itself says so.
 */
export class StreamReader {
  private messages?: ConsumerMessages;
  private consumerName?: string;
  private nextDelivery = 1;
  private stopped = false;

  constructor(
    private readonly stream: string,
    private readonly handlers: ReaderHandlers,
  ) {}

  /** Creates the consumer at `from` and starts pulling; rejects if the server refuses. */
  async start(
    client: NatsClient,
    connection: NatsConnection,
    jsm: JetStreamManager,
    from: number,
  ): Promise<void> {
    const info = await jsm.consumers.add(this.stream, {
      name: `sync_${randomBytes(8).toString('hex')}`,
      // Wire values, the same in both NATS clients (whose enums hold them).
      deliver_policy: 'by_start_sequence' as DeliverPolicy,
      opt_start_seq: from,
      ack_policy: 'none' as AckPolicy,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: INACTIVE_THRESHOLD_MS * NANOS_PER_MS,
    });
    this.consumerName = info.name;
    if (this.stopped) return this.remove(jsm);
    const consumer = await client.jetstream(connection).consumers.get(this.stream, info.name);
    if (this.stopped) return this.remove(jsm);
    // A callback, not the iterator: each message is handed on before the next pull is counted, so
    // the server never sends more than READ_BATCH ahead of the app (the log stays on the server).
    const messages = await consumer.consume({
      max_messages: READ_BATCH,
      expires: PULL_EXPIRES_MS,
      // A consumer or stream that vanished ends the reader: the transport checks and resumes.
      abort_on_missing_resource: true,
      callback: (msg) => this.take(msg),
    });
    this.messages = messages;
    void messages.closed().then(
      (error) => this.end(error ?? undefined),
      (error: Error) => this.end(error),
    );
  }

  /** Stops pulling now; nothing more is handed on. */
  stop(): void {
    this.stopped = true;
    this.messages?.stop();
  }

  /** Deletes the server's consumer (best effort: the server forgets it after a minute anyway). */
  remove(jsm: JetStreamManager): Promise<void> {
    this.stop();
    const name = this.consumerName;
    this.consumerName = undefined;
    return name ? jsm.consumers.delete(this.stream, name).then(ignore, ignore) : Promise.resolve();
  }

  private take(msg: JsMsg): void {
    if (this.stopped) return;
    // Without acks the server never sends a message twice: a hole in the delivery count is a
    // message lost on the way (a pull answered over a dying socket). Read again from the cursor.
    if (msg.info.deliverySequence !== this.nextDelivery) {
      this.end(new Error('a delivery from the stream went missing'));
      return;
    }
    this.nextDelivery++;
    this.handlers.message(msg);
  }

  private end(error?: Error): void {
    if (this.stopped) return;
    this.stop();
    this.handlers.ended(error);
  }
}
