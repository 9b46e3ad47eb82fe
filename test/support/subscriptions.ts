import { execFile } from 'node:child_process';
import { BROKERS, type BrokerName } from './brokers';
import type { SyncDelivery } from '../../src';
import { streamNameOf } from '../../src/transports/nats/jetstream-stream';

/**
 * How many receivers the broker itself holds for `key`, asked with the broker's own tools:
 * Redis channel subscribers (PUBSUB NUMSUB) or stream readers named `connectionName` (CLIENT LIST),
 * RabbitMQ queues bound to the exchange or consumers of the stream queue (rabbitmqctl), JetStream
 * consumers of the stream. Core NATS has no such count without monitoring: see `natsHasNoResponders`.
 */
export async function receiversAtBroker(
  broker: Exclude<BrokerName, 'memory'>,
  key: string,
  delivery: SyncDelivery,
  connectionName: string,
): Promise<number> {
  if (broker === 'redis') {
    const { Redis } = await import('ioredis');
    const client = new Redis(BROKERS.redis);
    try {
      if (delivery === 'broadcast') {
        const [, count] = (await client.pubsub('NUMSUB', key)) as [string, number];
        return Number(count);
      }
      // The instance named its connections `connectionName`: all but its publisher read the stream.
      const list = (await client.client('LIST')) as string;
      const ours = list.split('\n').filter((line) => line.includes(` name=${connectionName} `));
      return ours.length - 1;
    } finally {
      client.disconnect();
    }
  }
  if (broker === 'amqp') {
    if (delivery === 'broadcast') {
      const rows = await rabbitmqctl(['list_bindings', 'source_name', 'destination_name']);
      return rows.filter(([source]) => source === key).length;
    }
    const rows = await rabbitmqctl(['list_queues', 'name', 'consumers']);
    return Number(rows.find(([queue]) => queue === `${key}.stream`)?.[1] ?? 0);
  }
  if (delivery === 'broadcast') {
    throw new Error('core NATS: use natsHasNoResponders');
  }
  const { connect } = await import('nats');
  const connection = await connect({ servers: new URL(BROKERS.nats).host });
  try {
    const jsm = await connection.jetstreamManager();
    const consumers = await jsm.consumers.list(streamNameOf(key)).next();
    return consumers.length;
  } finally {
    await connection.close();
  }
}

/**
 * Core NATS answers a request on a subject nobody subscribes to with "no responders" (503) at once;
 * with a subscriber, the request simply gets no reply. True when nobody subscribes to `key`.
 */
export async function natsHasNoResponders(key: string): Promise<boolean> {
  const { connect } = await import('nats');
  const connection = await connect({ servers: new URL(BROKERS.nats).host });
  try {
    await connection.request(key, new Uint8Array(0), { timeout: 1500 });
    return false;
  } catch (error) {
    return (error as { code?: string }).code === '503';
  } finally {
    await connection.close();
  }
}

export function rabbitmqctl(args: string[]): Promise<string[][]> {
  return new Promise((resolve, reject) =>
    execFile(
      'rabbitmqctl',
      ['-q', ...args, '--no-table-headers'],
      { timeout: 30_000 },
      (error, stdout) =>
        error
          ? reject(new Error(`rabbitmqctl ${args[0]} failed: ${error.message}`))
          : resolve(
              stdout
                .split('\n')
                .filter((line) => line.trim() !== '')
                .map((line) => line.split('\t')),
            ),
    ),
  );
}
