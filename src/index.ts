export { FeathersSyncModule } from './feathers-sync.module.js';
export {
  type FeathersSyncModuleExtras,
  type FeathersSyncOptionsFactory,
  FEATHERS_SYNC_OPTIONS,
} from './feathers-sync.module-definition.js';
export { SyncService, type SyncStatus, type FeathersSyncCompat } from './sync.service.js';
export { SYNC, FEATHERS_APP, SYNC_TRANSPORT } from './feathers-sync.constants.js';
export type { FeathersSyncOptions } from './options/feathers-sync.options.js';
export type { SigningOptions } from './options/signing-options.js';
export type { ServiceRoutingOptions } from './options/routing-options.js';
export type { ServicePattern, SyncDirection } from './core/routing.js';
export type {
  RedisTransportOptions,
  RedisClientLike,
  RedisSettings,
  AmqpTransportOptions,
  AmqpSettings,
  NatsTransportOptions,
  NatsSettings,
  RetentionOptions,
  Retention,
} from './options/transport-options.js';
export type {
  SyncTransport,
  SyncTransportClass,
  SyncTransportContext,
  SyncTransportHandlers,
  SyncLogger,
  SyncDelivery,
  TransportStatus,
} from './transports/sync-transport.js';
export type { SyncGap } from './core/sync-engine.js';
export type { SyncEnvelope, SyncOrigin, SyncMarker, DropReason } from './core/envelope.types.js';
export type { SyncStats } from './core/sync-stats.js';
export type { FeathersAppLike, FeathersServiceLike } from './core/feathers.types.js';
export { isSyncedEvent } from './core/is-synced.js';
export {
  FeathersSyncConfigError,
  FeathersSyncMissingPackageError,
  FeathersSyncConnectTimeoutError,
  FeathersSyncClosedError,
} from './errors/sync.errors.js';
export { MemoryTransport } from './transports/memory/memory.transport.js';
export { RedisTransport } from './transports/redis/redis.transport.js';
export { AmqpTransport } from './transports/amqp/amqp.transport.js';
export { NatsTransport } from './transports/nats/nats.transport.js';
export {
  FeathersSyncAdapterTransport,
  type FeathersSyncAdapter,
  type FeathersSyncAdapterHost,
} from './transports/adapter/feathers-sync-adapter.transport.js';
export {
  ClusterTransport,
  setupClusterSyncPrimary,
  type ClusterSyncPrimary,
} from './transports/cluster/cluster.transport.js';
