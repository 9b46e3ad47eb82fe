import { isAbsolute, join, resolve } from 'node:path';
import { SAMPLE_ROOT } from './paths';

/** The settings of one instance, read from the environment (and `.env`) by Nest's ConfigModule. */
export interface SampleConfig {
  /** The port this instance serves the page, /health, Feathers REST and socket.io on. */
  PORT: number;
  /** Interface to listen on; unset means every interface, as Nest's `listen(port)` does. */
  HOST: string | undefined;
  /** Where instances meet: `cluster://` (default, no broker), `redis://…`, `amqp://…`, `nats://…`. */
  FEATHERS_SYNC_URI: string;
  /** Redis channel, AMQP exchange or NATS subject shared by the instances. */
  FEATHERS_SYNC_KEY: string;
  /** The sync canary's interval in ms (`0`: off); unset keeps the module's default (5000). */
  FEATHERS_SYNC_HEARTBEAT_MS: number | undefined;
  /** The message store every instance shares: SQLite (default) or PostgreSQL. */
  DATABASE: DatabaseConfig;
  /** How this instance signs the messages it creates and names itself on the page. */
  INSTANCE_NAME: string;
  /** Nest's own log output; the sync module always reports its connection events. */
  LOG_LEVEL: 'verbose' | 'debug' | 'log' | 'warn' | 'error';
}

export type DatabaseConfig =
  { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string; display: string };

const LOG_LEVELS = ['verbose', 'debug', 'log', 'warn', 'error'] as const;
const DEFAULT_DATABASE_FILE = join(SAMPLE_ROOT, 'data', 'messages.sqlite');

/** ConfigModule's `validate`: a bad value stops boot with a message that says what to set. */
export function validateConfig(env: Record<string, unknown>): SampleConfig {
  const text = (name: string): string | undefined => {
    const value = env[name];
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string') throw new Error(`${name} must be a string.`);
    return value.trim();
  };

  const portText = text('PORT') ?? '3030';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`PORT must be a port number (1-65535), got "${portText}".`);
  }

  const heartbeatText = text('FEATHERS_SYNC_HEARTBEAT_MS');
  const heartbeat = heartbeatText === undefined ? undefined : Number(heartbeatText);
  if (heartbeat !== undefined && !(Number.isInteger(heartbeat) && heartbeat >= 0)) {
    throw new Error(
      `FEATHERS_SYNC_HEARTBEAT_MS must be a whole number of ms (0 turns the canary off), got "${heartbeatText}".`,
    );
  }

  const logLevel = text('LOG_LEVEL') ?? 'warn';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}".`);
  }

  return {
    PORT: port,
    HOST: text('HOST'),
    FEATHERS_SYNC_URI: text('FEATHERS_SYNC_URI') ?? 'cluster://',
    FEATHERS_SYNC_KEY: text('FEATHERS_SYNC_KEY') ?? 'feathers-sync',
    FEATHERS_SYNC_HEARTBEAT_MS: heartbeat,
    DATABASE: parseDatabaseUrl(text('DATABASE_URL')),
    INSTANCE_NAME: text('INSTANCE_NAME') ?? `localhost:${port}`,
    LOG_LEVEL: logLevel as SampleConfig['LOG_LEVEL'],
  };
}

/**
 * `sqlite:<file>` (relative to the working directory) or `postgres://user@host:port/db`. Unset:
 * the SQLite file under sample-app/data, which every instance on this machine opens.
 */
export function parseDatabaseUrl(url: string | undefined): DatabaseConfig {
  if (url === undefined) return { kind: 'sqlite', file: DEFAULT_DATABASE_FILE };
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (file === '' || file === ':memory:') {
      throw new Error(
        'DATABASE_URL=sqlite:<file> needs a file that every instance opens (an in-memory ' +
          'database is private to one process), e.g. sqlite:sample-app/data/messages.sqlite.',
      );
    }
    return { kind: 'sqlite', file: isAbsolute(file) ? file : resolve(file) };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const display = new URL(url);
    if (display.password) display.password = '***';
    return { kind: 'postgres', url, display: display.toString() };
  }
  throw new Error(
    'DATABASE_URL must be sqlite:<file> or postgres://user:password@host:port/database ' +
      '(unset: SQLite in sample-app/data).',
  );
}
