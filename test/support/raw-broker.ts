import { BROKERS, type BrokerName } from './brokers';
import { MemoryTransport } from '../../src';

/**
 * Publishes bytes on a key the way a foreign or malicious peer would: with the broker's own
 * client, bypassing the module. Used by the bad-input tests.
 */
export async function publishRaw(
  broker: BrokerName,
  key: string,
  payloads: Array<string | Buffer>,
): Promise<void> {
  switch (broker) {
    case 'memory': {
      const transport = new MemoryTransport({
        key,
        logger: console,
        closeTimeout: 1000,
        settings: undefined,
      });
      for (const payload of payloads) transport.publish(payload);
      return;
    }
    case 'redis': {
      const { Redis } = await import('ioredis');
      const client = new Redis(BROKERS.redis);
      try {
        for (const payload of payloads) await client.publish(key, payload);
      } finally {
        await client.quit();
      }
      return;
    }
    case 'amqp':
      return (await import('./raw/amqp')).publishRawAmqp(key, payloads);
    case 'nats':
      return (await import('./raw/nats')).publishRawNats(key, payloads);
  }
}
