import type { Provider } from '@nestjs/common';
import {
  SYNC_RESOLVED_OPTIONS,
  SYNC_TELEMETRY,
  SYNC_TRANSPORT,
} from './feathers-sync.constants.js';
import { FEATHERS_SYNC_OPTIONS } from './feathers-sync.module-definition.js';
import { resolveOptions, type ResolvedSyncOptions } from './options/resolve-options.js';
import { loadTelemetry } from './telemetry/sync-telemetry.js';
import { createTransport } from './transports/transport.factory.js';

export const resolvedOptionsProvider: Provider = {
  provide: SYNC_RESOLVED_OPTIONS,
  useFactory: resolveOptions,
  inject: [FEATHERS_SYNC_OPTIONS],
};

/** The transport is a provider of its own, picked from the options by one factory. */
export const transportProvider: Provider = {
  provide: SYNC_TRANSPORT,
  useFactory: (resolved: ResolvedSyncOptions) => createTransport(resolved),
  inject: [SYNC_RESOLVED_OPTIONS],
};

/** OpenTelemetry when `@opentelemetry/api` is installed (an optional peer), else undefined. */
export const telemetryProvider: Provider = {
  provide: SYNC_TELEMETRY,
  useFactory: loadTelemetry,
};
