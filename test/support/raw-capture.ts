import type { Redis } from 'ioredis';
import { BROKERS, type BrokerName } from './brokers';
import { MemoryTransport, type SyncDelivery } from '../../src';
import { redisLogKeys } from '../../src/transports/redis/redis-stream.log';

export interface RawCapture {
  /** Every message on the key since the capture started, as the broker delivered it. */
  messages: Buffer[];
  close(): Promise<void>;
}

/**
 * Listens on a key with the broker's own client, bypassing the module, the way an eavesdropper
 * with broker access would: what it records can be replayed or tampered with by `publishRaw`.
 * Resolves once the subscription is live.
 */
export async function captureRaw(
  broker: BrokerName,
  key: string,
  delivery: SyncDelivery = 'broadcast',
): Promise<RawCapture> {
  const messages: Buffer[] = [];
  const record = (payload: string | Uint8Array) =>
    messages.push(Buffer.from(typeof payload === 'string' ? Buffer.from(payload) : payload));
  switch (broker) {
    case 'memory': {
      const transport = new MemoryTransport({
        key,
        logger: console,
        closeTimeout: 1000,
        delivery,
        settings: undefined,
      });
      transport.open({ message: record, status: () => undefined });
      return { messages, close: () => transport.close() };
    }
    case 'redis': {
      const { Redis } = await import('ioredis');
      const client = new Redis(BROKERS.redis);
      // Recoverable instances write the key's stream, not its channel: read the stream.
      if (delivery === 'recoverable') return captureRedisStream(client, key, messages, record);
      client.on('messageBuffer', (channel: Buffer, message: Buffer) => {
        if (channel.toString() === key) record(message);
      });
      await client.subscribe(key);
      return { messages, close: async () => void (await client.quit()) };
    }
    case 'amqp': {
      const { connect } = await import('amqplib');
      const connection = await connect(BROKERS.amqp);
      connection.on('error', () => undefined);
      const channel = await connection.createChannel();
      channel.on('error', () => undefined);
      // Declared exactly as feathers-sync and the module declare it.
      await channel.assertExchange(key, 'fanout', { durable: false });
      const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
      await channel.bindQueue(queue, key, '');
      await channel.consume(queue, (message) => message && record(message.content), {
        noAck: true,
      });
      return { messages, close: () => connection.close() };
    }
    case 'nats': {
      const { connect } = await import('nats');
      const url = new URL(BROKERS.nats);
      const connection = await connect({
        servers: url.host,
        ...(url.username && url.password
          ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
          : url.username
            ? { token: decodeURIComponent(url.username) }
            : {}),
      });
      const subscription = connection.subscribe(key, {
        callback: (error, message) => {
          if (!error) record(message.data);
        },
      });
      await connection.flush();
      return {
        messages,
        close: async () => {
          subscription.unsubscribe();
          await connection.close();
        },
      };
    }
  }
}

/** Reads every entry appended to the key's stream from now on (field `d`: the message). */
async function captureRedisStream(
  client: Redis,
  key: string,
  messages: Buffer[],
  record: (payload: Buffer) => void,
): Promise<RawCapture> {
  const { stream } = redisLogKeys(key);
  // An explicit cursor, never `$` again: entries added between two reads would be skipped.
  const [last] = await client.xrevrange(stream, '+', '-', 'COUNT', 1);
  let cursor = last?.[0] ?? '0-0';
  let open = true;
  const reading = (async () => {
    while (open) {
      const reply = await client
        .xreadBuffer('BLOCK', 200, 'STREAMS', stream, cursor)
        .catch(() => null);
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          cursor = id.toString();
          const at = fields.findIndex((field) => field.toString() === 'd');
          if (at >= 0) record(fields[at + 1]);
        }
      }
    }
  })();
  return {
    messages,
    close: async () => {
      open = false;
      await reading;
      await client.quit();
    },
  };
}
