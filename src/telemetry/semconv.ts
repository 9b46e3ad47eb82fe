/**
 * Attribute and metric names. The messaging semantic conventions are still in development and
 * their JavaScript constants live in an unstable entry point, so the names are written here.
 */

/** The meter's and the tracer's name (their version is the package's). */
export const INSTRUMENTATION_NAME = 'nestjs-feathers-sync';

export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_CLIENT_ID = 'messaging.client.id';
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const ATTR_ERROR_TYPE = 'error.type';
/** Ours: the Feathers service path of the event, and its name. */
export const ATTR_SERVICE_PATH = 'feathers_sync.service.path';
export const ATTR_EVENT = 'feathers_sync.event';

export const METRIC = {
  published: 'feathers_sync.published',
  received: 'feathers_sync.received',
  emitted: 'feathers_sync.emitted',
  echoes: 'feathers_sync.echoes',
  duplicates: 'feathers_sync.duplicates',
  missed: 'feathers_sync.missed',
  publishFailures: 'feathers_sync.publish_failures',
  dropped: 'feathers_sync.dropped',
  pending: 'feathers_sync.pending',
  latency: 'feathers_sync.delivery.latency',
} as const;

/** Bucket bounds of the latency histogram, in seconds: 0.5 ms to 30 s. */
export const LATENCY_BUCKETS_S = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/**
 * `messaging.system` of a transport type: the conventions' name where they have one (RabbitMQ),
 * else the transport's own.
 */
export function messagingSystem(transportType: string): string {
  return transportType === 'amqp' ? 'rabbitmq' : transportType;
}
