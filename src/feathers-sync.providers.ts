import { randomBytes } from 'node:crypto';
import { Logger, type LoggerService, type Provider } from '@nestjs/common';
import type { SyncEngineOptions } from './core/sync-engine.js';
import { SILENT_LOGGER } from './core/sync-logger.js';
import type { SyncEnvelope } from './core/envelope.js';
import { FeathersSyncConfigError } from './errors/sync.errors.js';
import { messages } from './errors/sync.messages.js';
import {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_CONNECT_TIMEOUT,
  DEFAULT_KEY,
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_MAX_PENDING,
  DEFAULT_REDACT_PARAMS,
  SYNC_RESOLVED_OPTIONS,
  SYNC_TRANSPORT,
} from './feathers-sync.constants.js';
import { FEATHERS_SYNC_OPTIONS } from './feathers-sync.module-definition.js';
import type { FeathersSyncOptions } from './feathers-sync.options.js';
import type { SyncLogger } from './transports/sync-transport.js';
import { createTransport } from './transports/transport.factory.js';

/** Options after validation, with every default applied. */
export interface ResolvedSyncOptions {
  raw: FeathersSyncOptions;
  key: string;
  connectTimeout: number;
  closeTimeout: number;
  waitForBroker: boolean;
  logger: SyncLogger;
  engine: Omit<SyncEngineOptions, 'onStatus'>;
}

const KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,255}$/;

export function resolveOptions(options: FeathersSyncOptions): ResolvedSyncOptions {
  if (options === null || typeof options !== 'object') {
    throw new FeathersSyncConfigError(messages.invalidOption('options', 'an object', options));
  }
  const key = options.key ?? DEFAULT_KEY;
  if (typeof key !== 'string' || !KEY_PATTERN.test(key))
    throw new FeathersSyncConfigError(messages.invalidKey(key));
  for (const name of ['serialize', 'deserialize'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') {
      throw new FeathersSyncConfigError(messages.invalidOption(name, 'a function', options[name]));
    }
  }
  const redactParams = options.redactParams ?? DEFAULT_REDACT_PARAMS;
  if (!Array.isArray(redactParams) || redactParams.some((k) => typeof k !== 'string')) {
    throw new FeathersSyncConfigError(
      messages.invalidOption('redactParams', 'an array of strings', redactParams),
    );
  }
  const instanceId = options.instanceId ?? randomBytes(9).toString('base64url');
  if (typeof instanceId !== 'string' || instanceId.length === 0) {
    throw new FeathersSyncConfigError(
      messages.invalidOption('instanceId', 'a non-empty string', instanceId),
    );
  }
  const envelope = options.envelope ?? 'compatible';
  if (envelope !== 'compatible' && envelope !== 'lean') {
    throw new FeathersSyncConfigError(
      messages.invalidOption('envelope', "'compatible' or 'lean'", envelope),
    );
  }
  const logger = toSyncLogger(options.logger);
  const serialize = options.serialize ?? (JSON.stringify as (envelope: SyncEnvelope) => string);
  const deserialize =
    options.deserialize ?? (JSON.parse as (payload: string | Uint8Array) => unknown);
  return {
    raw: options,
    key,
    connectTimeout: positive(options, 'connectTimeout', DEFAULT_CONNECT_TIMEOUT),
    closeTimeout: positive(options, 'closeTimeout', DEFAULT_CLOSE_TIMEOUT),
    waitForBroker: options.waitForBroker === true,
    logger,
    engine: {
      instanceId,
      serialize,
      deserialize,
      jsonDeserializer: options.deserialize === undefined || options.deserialize === JSON.parse,
      jsonSerializer: options.serialize === undefined || options.serialize === JSON.stringify,
      maxMessageSize: positive(options, 'maxMessageSize', DEFAULT_MAX_MESSAGE_SIZE),
      maxPending: positive(options, 'maxPending', DEFAULT_MAX_PENDING, true),
      redactParams: new Set(redactParams),
      envelope,
      logger,
    },
  };
}

function positive(
  options: FeathersSyncOptions,
  name: 'connectTimeout' | 'closeTimeout' | 'maxMessageSize' | 'maxPending',
  fallback: number,
  allowZero = false,
): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < 0 ||
    (!allowZero && value === 0)
  ) {
    throw new FeathersSyncConfigError(
      messages.invalidOption(name, allowZero ? 'a number ≥ 0' : 'a number > 0', value),
    );
  }
  return value;
}

function toSyncLogger(logger: LoggerService | false | undefined): SyncLogger {
  if (logger === false) return SILENT_LOGGER;
  const target: LoggerService = logger ?? new Logger('FeathersSyncModule');
  return {
    log: (message) => {
      target.log(message);
    },
    warn: (message) => {
      target.warn(message);
    },
    error: (message) => {
      target.error(message);
    },
    debug: (message) => {
      target.debug?.(message);
    },
  };
}

export const resolvedOptionsProvider: Provider = {
  provide: SYNC_RESOLVED_OPTIONS,
  useFactory: resolveOptions,
  inject: [FEATHERS_SYNC_OPTIONS],
};

/** The transport is a provider of its own, picked from the options by one factory. */
export const transportProvider: Provider = {
  provide: SYNC_TRANSPORT,
  useFactory: (resolved: ResolvedSyncOptions) =>
    createTransport(resolved.raw, { key: resolved.key, logger: resolved.logger }),
  inject: [SYNC_RESOLVED_OPTIONS],
};
