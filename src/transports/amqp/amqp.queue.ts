import { randomUUID } from 'node:crypto';
import type { Options } from 'amqplib';
import type { AmqpSettings } from '../../options/transport-options.js';

/** Queue names are at most 255 bytes; a uuid and a dot follow the key. */
const MAX_KEY_IN_QUEUE_NAME = 200;

/** A name no other instance uses: `<key>.<uuid>`. */
export function freshQueueName(key: string): string {
  return `${key.slice(0, MAX_KEY_IN_QUEUE_NAME)}.${randomUUID()}`;
}

/**
 * This instance's queue: named by us when it outlives a dropped connection by `queueExpires`
 * (so a reconnect finds it again), else server-named ('') and exclusive to the connection.
 */
export function instanceQueue(
  key: string,
  settings: AmqpSettings,
): {
  name: string;
  options: Options.AssertQueue;
} {
  if (settings.queueExpires === 0) {
    return {
      name: '',
      options: {
        durable: false,
        exclusive: true,
        autoDelete: true,
        maxLength: settings.queueMaxLength,
      },
    };
  }
  // Not auto-delete: the consumer goes with a dropped connection, the queue must stay. Durable
  // because RabbitMQ 4.3 refuses transient non-exclusive queues; `expires` removes it. Classic
  // named explicitly: some brokers (Amazon MQ 4) make quorum queues the default type.
  return {
    name: freshQueueName(key),
    options: {
      durable: true,
      exclusive: false,
      autoDelete: false,
      expires: settings.queueExpires,
      maxLength: settings.queueMaxLength,
      arguments: { 'x-queue-type': 'classic' },
    },
  };
}
