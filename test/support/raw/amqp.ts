import { connect } from 'amqplib';
import { BROKERS } from '../brokers';

/**
 * Publishes raw bytes on `key` with amqplib, bypassing the module, the way a foreign or malicious
 * peer would. The exchange is declared exactly as feathers-sync declares it (anything else would
 * make RabbitMQ refuse the declaration with 406).
 */
export async function publishRawAmqp(key: string, payloads: Array<string | Buffer>): Promise<void> {
  const connection = await connect(BROKERS.amqp);
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    await channel.assertExchange(key, 'fanout', { durable: false });
    for (const payload of payloads) {
      channel.publish(key, '', typeof payload === 'string' ? Buffer.from(payload) : payload);
    }
    // RabbitMQ acknowledges the channel close only after the publishes before it.
    await channel.close();
  } finally {
    await connection.close();
  }
}
