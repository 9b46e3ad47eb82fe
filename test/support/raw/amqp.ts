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

/**
 * Deletes the stream queues that recoverable instances of this test process declared on the
 * local RabbitMQ (named `<key>.stream`, keys from uniqueKey() carry the pid): streams are durable
 * and would pile up on the shared broker. Best effort: needs rabbitmqctl and the local node.
 */
export async function deleteTestStreams(): Promise<void> {
  const { execFile } = await import('node:child_process');
  const run = (args: string[]) =>
    new Promise<string>((resolve) =>
      execFile('rabbitmqctl', ['-q', ...args], { timeout: 30_000 }, (error, stdout) =>
        resolve(error ? '' : stdout),
      ),
    );
  const ours = (await run(['list_queues', 'name', '--no-table-headers']))
    .split('\n')
    .map((line) => line.trim())
    .filter((name) => name.includes(`-${process.pid}-`) && name.endsWith('.stream'));
  if (ours.length === 0) return;
  const connection = await connect(BROKERS.amqp);
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    for (const name of ours) await channel.deleteQueue(name);
  } finally {
    await connection.close().catch(() => undefined);
  }
}
