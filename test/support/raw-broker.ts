import { BROKERS, type BrokerName } from './brokers';
import { MemoryTransport, type SyncDelivery } from '../../src';
import { PAYLOAD_FIELD, redisLogKeys } from '../../src/transports/redis/redis-stream.log';

/**
 * Publishes bytes on a key the way a foreign or malicious peer would: with the broker's own
 * client, bypassing the module, where instances in that delivery mode read. Used by the
 * bad-input tests.
 */
export async function publishRaw(
  broker: BrokerName,
  key: string,
  delivery: SyncDelivery,
  payloads: Array<string | Buffer>,
): Promise<void> {
  switch (broker) {
    case 'memory': {
      const transport = new MemoryTransport({
        key,
        logger: console,
        closeTimeout: 1000,
        delivery,
        settings: undefined,
      });
      for (const payload of payloads) transport.publish(payload);
      return;
    }
    case 'redis': {
      const { Redis } = await import('ioredis');
      const client = new Redis(BROKERS.redis);
      // Recoverable instances read the key's stream, not its channel.
      const { stream } = redisLogKeys(key);
      try {
        for (const payload of payloads) {
          if (delivery === 'recoverable') await client.xadd(stream, '*', PAYLOAD_FIELD, payload);
          else await client.publish(key, payload);
        }
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
