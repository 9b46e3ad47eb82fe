import { randomBytes } from 'node:crypto';
import type { SyncEnvelope } from '../core/envelope.types.js';
import type { FeathersAppLike } from '../core/feathers.types.js';
import { newEpoch } from '../core/sequence-tracker.js';
import type { SyncEngineOptions } from '../core/sync-engine.js';
import { FeathersSyncConfigError } from '../errors/sync.errors.js';
import { messages } from '../errors/sync.messages.js';
import {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_KEY,
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_MAX_PENDING,
  DEFAULT_MAX_PENDING_BYTES,
  DEFAULT_REDACT_PARAMS,
} from '../feathers-sync.constants.js';
import { scrubbedLogger, toSyncLogger, type SyncLogger } from '../shared/logger.js';
import { SecretScrubber, secretsIn } from '../shared/redact.js';
import type {
  SyncDelivery,
  SyncTransport,
  SyncTransportClass,
} from '../transports/sync-transport.js';
import { fail, numberOption } from './checks.js';
import type { FeathersSyncOptions } from './feathers-sync.options.js';
import { resolveDirection, resolveRouting } from './routing-options.js';
import { resolveSigning } from './signing-options.js';
import {
  resolveAmqpSettings,
  resolveNatsSettings,
  resolveRedisSettings,
  resolveRetention,
  type AmqpSettings,
  type NatsSettings,
  type RedisSettings,
  type Retention,
} from './transport-options.js';

/** Every option checked, with its default applied: the one place options are read. */
export interface ResolvedSyncOptions {
  uri?: string;
  key: string;
  app?: FeathersAppLike;
  transport?: SyncTransport | SyncTransportClass;
  connectTimeout: number;
  closeTimeout: number;
  waitForBroker: boolean;
  logger: SyncLogger;
  /** Takes the uri's and the client options' credentials out of any text (the logger applies it). */
  scrubber: SecretScrubber;
  delivery: SyncDelivery;
  /** False for a publish-only instance: the transport opens no subscription. */
  subscribe: boolean;
  retention: Retention;
  engine: Omit<SyncEngineOptions, 'onStatus' | 'onGap'>;
  /** Each built-in transport's settings; the factory hands the one its scheme needs to it. */
  transports: { redis: RedisSettings; amqp: AmqpSettings; nats: NatsSettings };
}

const KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,255}$/;

export function resolveOptions(options: FeathersSyncOptions): ResolvedSyncOptions {
  if (options === null || typeof options !== 'object') fail('options', 'an object', options);
  const key = options.key ?? DEFAULT_KEY;
  if (typeof key !== 'string' || !KEY_PATTERN.test(key))
    throw new FeathersSyncConfigError(messages.invalidKey(key));
  if (options.uri !== undefined && typeof options.uri !== 'string') {
    fail('uri', 'a string', options.uri);
  }
  for (const name of ['serialize', 'deserialize'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      fail(name, 'a function', options[name]);
    }
  }
  const redactParams = options.redactParams ?? DEFAULT_REDACT_PARAMS;
  if (!Array.isArray(redactParams) || redactParams.some((k) => typeof k !== 'string')) {
    fail('redactParams', 'an array of strings', redactParams);
  }
  const instanceId = options.instanceId ?? randomBytes(9).toString('base64url');
  if (typeof instanceId !== 'string' || instanceId.length === 0) {
    fail('instanceId', 'a non-empty string', instanceId);
  }
  const envelope = options.envelope ?? 'compatible';
  if (envelope !== 'compatible' && envelope !== 'lean') {
    fail('envelope', "'compatible' or 'lean'", envelope);
  }
  const delivery = options.delivery ?? 'broadcast';
  if (delivery !== 'broadcast' && delivery !== 'recoverable') {
    fail('delivery', "'broadcast' or 'recoverable'", delivery);
  }
  if (options.waitForBroker !== undefined && typeof options.waitForBroker !== 'boolean') {
    fail('waitForBroker', 'true or false', options.waitForBroker);
  }
  // Every line the module logs goes through the scrubber: no credential of the options, whatever
  // a broker client put into its error, reaches the log.
  const scrubber = new SecretScrubber(options.uri, [
    ...secretsIn({
      redis: options.redis?.options,
      amqp: options.amqp?.socketOptions,
      nats: options.nats?.connectionOptions,
    }),
    ...signingSecrets(options.signing),
  ]);
  const logger = scrubbedLogger(toSyncLogger(options.logger, 'FeathersSyncModule'), (text) =>
    scrubber.text(text),
  );
  const direction = resolveDirection(options.direction);
  const routing = resolveRouting(options.services);
  const heartbeatMs = numberOption('heartbeatMs', options.heartbeatMs, DEFAULT_HEARTBEAT_MS, {
    allowZero: true,
  });
  const retention = resolveRetention(options.retention);
  const closeTimeout = numberOption('closeTimeout', options.closeTimeout, DEFAULT_CLOSE_TIMEOUT);
  const maxMessageSize = numberOption(
    'maxMessageSize',
    options.maxMessageSize,
    DEFAULT_MAX_MESSAGE_SIZE,
  );
  return {
    uri: options.uri,
    key,
    app: options.app,
    transport: options.transport,
    connectTimeout: numberOption('connectTimeout', options.connectTimeout, DEFAULT_CONNECT_TIMEOUT),
    closeTimeout,
    waitForBroker: options.waitForBroker === true,
    logger,
    scrubber,
    delivery,
    subscribe: direction !== 'publish',
    retention,
    engine: {
      delivery,
      direction,
      routing,
      heartbeatMs,
      instanceId,
      // A random id is new at every start already; a fixed one needs the start told apart.
      epoch: options.instanceId === undefined ? undefined : newEpoch(),
      // signing.maxAgeMs must not refuse what catching up legitimately delivers.
      signing: resolveSigning(
        options.signing,
        key,
        delivery === 'recoverable' ? retention.maxAgeMs : undefined,
      ),
      serialize: options.serialize ?? (JSON.stringify as (envelope: SyncEnvelope) => string),
      deserialize: options.deserialize ?? (JSON.parse as (payload: string | Uint8Array) => unknown),
      jsonDeserializer: options.deserialize === undefined || options.deserialize === JSON.parse,
      jsonSerializer: options.serialize === undefined || options.serialize === JSON.stringify,
      maxMessageSize,
      maxPending: numberOption('maxPending', options.maxPending, DEFAULT_MAX_PENDING, {
        allowZero: true,
        integer: true,
      }),
      maxPendingBytes: numberOption(
        'maxPendingBytes',
        options.maxPendingBytes,
        DEFAULT_MAX_PENDING_BYTES,
        { allowZero: true, integer: true },
      ),
      redactParams: new Set(redactParams),
      envelope,
      closeTimeout,
      logger,
    },
    transports: {
      redis: resolveRedisSettings(options.redis),
      amqp: resolveAmqpSettings(options.amqp, key, logger, closeTimeout),
      nats: resolveNatsSettings(options.nats, options.uri),
    },
  };
}

/** The signing keys given as text (a Buffer key never reaches a log line as such). */
function signingSecrets(signing: unknown): string[] {
  const keys = (signing as { keys?: unknown } | null | undefined)?.keys;
  if (keys === null || typeof keys !== 'object') return [];
  return Object.values(keys as Record<string, unknown>).filter(
    (key): key is string => typeof key === 'string',
  );
}
