import { BROKERS, type BrokerName } from './brokers';
import { MemoryTransport } from '../../src';

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
export async function captureRaw(broker: BrokerName, key: string): Promise<RawCapture> {
  const messages: Buffer[] = [];
  const record = (payload: string | Uint8Array) =>
    messages.push(Buffer.from(typeof payload === 'string' ? Buffer.from(payload) : payload));
  switch (broker) {
    case 'memory': {
      const transport = new MemoryTransport({
        key,
        logger: console,
        closeTimeout: 1000,
        settings: undefined,
      });
      transport.open({ message: record, status: () => undefined });
      return { messages, close: () => transport.close() };
    }
    case 'redis': {
      const { Redis } = await import('ioredis');
      const client = new Redis(BROKERS.redis);
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
