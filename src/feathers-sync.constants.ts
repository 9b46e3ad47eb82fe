/**
 * Set `context[SYNC] = false` in a hook to keep that call's events on this instance.
 * `Symbol.for` so that two copies of the package (or a hook module loaded twice) agree.
 */
export const SYNC: unique symbol = Symbol.for('nestjs-feathers-sync/sync') as never;

/** Injection token under which an app may provide its Feathers application. */
export const FEATHERS_APP = Symbol.for('nestjs-feathers-sync/feathers-app');

/** Injection token of the active transport (a `SyncTransport`), chosen from the options. */
export const SYNC_TRANSPORT = Symbol.for('nestjs-feathers-sync/transport');

/** Injection token of the validated options with their defaults applied. */
export const SYNC_RESOLVED_OPTIONS = Symbol.for('nestjs-feathers-sync/resolved-options');

/** Internal: OpenTelemetry, loaded once at module start when `@opentelemetry/api` is installed. */
export const SYNC_TELEMETRY = Symbol.for('nestjs-feathers-sync/telemetry');

export const DEFAULT_KEY = 'feathers-sync';
export const DEFAULT_CONNECT_TIMEOUT = 30_000;
export const DEFAULT_CLOSE_TIMEOUT = 5_000;
export const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024;
export const DEFAULT_MAX_PENDING = 10_000;
export const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;
export const DEFAULT_HEARTBEAT_MS = 5_000;
/** Params that carry credentials or live objects and stay off the bus unless asked for. */
export const DEFAULT_REDACT_PARAMS: readonly string[] = ['authentication', 'headers', 'connection'];
