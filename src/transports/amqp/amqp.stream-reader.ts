import { randomUUID } from 'node:crypto';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';

/** RabbitMQ puts each message's position in the stream in this header. */
export const OFFSET_HEADER = 'x-stream-offset';
/** Marks the message an instance appends to learn where the stream ends (never synced). */
export const PROBE_HEADER = 'x-sync-probe';
const PROBE_TIMEOUT_MS = 10_000;
const ignore = (): void => undefined;

/** The last message an instance read from the stream: where it resumes after a reconnect. */
export interface StreamPosition {
  offset: number;
  content: Buffer;
  /** The probe's id when it was a probe (see AmqpStreamTransport.streamEnd). */
  probe?: unknown;
}

/**
 * What a consumer's first delivery says: `again`, the message it resumed at, read before;
 * `replaced`, another message at that offset (the stream was deleted and declared again);
 * else how many messages retention dropped past the position (0: none).
 */
export type FirstDelivery = 'again' | 'replaced' | number;

/**
 * One consumer of the stream, on one connection's channel. It acknowledges in batches (one ack
 * covers every delivery before it, and gives the consumer its credit back), and checks its first
 * delivery against the position it resumed at.
 */
export class StreamReader {
  /** Set once its connection is given up: what it still delivers is read again by the next one. */
  retired = false;
  private first = true;
  private unacked?: ConsumeMessage;
  private unackedCount = 0;
  private ackTimer?: NodeJS.Immediate;

  constructor(
    readonly channel: ConfirmChannel,
    /** The offset the consumer starts at, or the stream's first one. */
    private readonly from: number | 'first',
    /** The message at `from`, read before: read again to prove the stream is the same one. */
    private readonly expected: StreamPosition | undefined,
    private readonly ackEvery: number,
  ) {}

  /** The consumer's `x-stream-offset`: a 64-bit long, as offsets outgrow 32 bits. */
  get offsetArgument(): unknown {
    return this.from === 'first' ? 'first' : { '!': 'long', value: this.from };
  }

  /**
   * Past where it resumed, the stream dropped whole segments (retention) before this instance
   * read them. Offsets skip one number at each segment start, and a dropped segment holds at
   * least one message, so at least half the distance (less the skip before the segment read
   * next) was messages. That much is proven; the senders' sequence numbers account for the rest
   * (the engine never counts the same loss twice).
   */
  firstDelivery(offset: number, content: Buffer, probe: unknown): FirstDelivery {
    if (!this.first || this.from === 'first') return 0;
    this.first = false;
    const expected = this.expected;
    if (expected && offset === expected.offset) {
      return probe === expected.probe && content.equals(expected.content) ? 'again' : 'replaced';
    }
    const next = expected ? this.from + 1 : this.from;
    if (!(offset >= next)) return 'replaced';
    return Math.max(0, Math.ceil((offset - next - 1) / 2));
  }

  ack(message: ConsumeMessage): void {
    this.unacked = message;
    if (++this.unackedCount >= this.ackEvery) this.flush();
    else this.ackTimer ??= setImmediate(() => this.flush());
  }

  flush(): void {
    if (this.ackTimer) clearImmediate(this.ackTimer);
    this.ackTimer = undefined;
    const message = this.unacked;
    this.unacked = undefined;
    this.unackedCount = 0;
    if (!message || this.retired) return;
    try {
      this.channel.ack(message, true);
    } catch {
      // The channel closed meanwhile: its deliveries go back to the stream, nothing to do.
    }
  }

  retire(): void {
    this.flush();
    this.retired = true;
  }
}

/**
 * The stream's last message: a probe appended through the default exchange (so feathers-sync
 * peers never see it) and read back by a consumer of its own. AMQP has no other way to ask, and
 * `next` has no number a reconnect could resume from.
 */
export async function probeStreamEnd(
  channel: ConfirmChannel,
  stream: string,
): Promise<StreamPosition> {
  const probe = randomUUID();
  let timer: NodeJS.Timeout | undefined;
  let found!: (position: StreamPosition) => void;
  const arrived = new Promise<StreamPosition>((resolve, reject) => {
    found = resolve;
    channel.once('close', () => reject(new Error('the channel closed')));
    timer = setTimeout(
      () => reject(new Error(`the stream "${stream}" did not answer in ${PROBE_TIMEOUT_MS} ms`)),
      PROBE_TIMEOUT_MS,
    );
  });
  // Awaited below, unless the consume fails first: never an unhandled rejection.
  arrived.catch(ignore);
  const { consumerTag } = await channel.consume(
    stream,
    (message) => {
      const headers = message?.properties.headers;
      if (message && headers?.[PROBE_HEADER] === probe) {
        found({ offset: Number(headers[OFFSET_HEADER]), content: message.content, probe });
      }
    },
    { noAck: false, arguments: { [OFFSET_HEADER]: 'next' } },
  );
  channel.publish('', stream, Buffer.alloc(0), {
    mandatory: true,
    headers: { [PROBE_HEADER]: probe },
  });
  try {
    return await arrived;
  } finally {
    clearTimeout(timer);
    await channel.cancel(consumerTag).catch(ignore);
  }
}
