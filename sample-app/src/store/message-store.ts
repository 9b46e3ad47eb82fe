import type { DatabaseConfig } from '../config';
import type { Message } from '../messages/message';

/** Where messages live. Every instance opens the same store, so any page shows the same history. */
export interface MessageStore {
  readonly kind: DatabaseConfig['kind'];
  /** The newest `limit` messages with an id above `afterId`, oldest first. */
  list(query: { afterId: number; limit: number }): Promise<Message[]>;
  get(id: number): Promise<Message | undefined>;
  create(data: Pick<Message, 'text' | 'instance'>): Promise<Message>;
  close(): Promise<void>;
}

/** Nest token of the store; the Feathers messages service reads and writes through it. */
export const MESSAGE_STORE = Symbol('MESSAGE_STORE');

/** Loads only the driver the configuration names: an instance on PostgreSQL needs no SQLite. */
export async function openMessageStore(database: DatabaseConfig): Promise<MessageStore> {
  if (database.kind === 'postgres') {
    const { PostgresMessageStore } = await import('./postgres.store');
    return PostgresMessageStore.open(database.url, database.display);
  }
  const { SqliteMessageStore } = await import('./sqlite.store');
  return SqliteMessageStore.open(database.file);
}

/** Loads a driver by name without compile-time types (neither ships its own). */
export async function loadDriver(name: string, hint: string): Promise<unknown> {
  try {
    const loaded = (await import(name)) as { default?: unknown };
    return loaded.default ?? loaded;
  } catch (error) {
    if ((error as { code?: string }).code === 'MODULE_NOT_FOUND') {
      throw new Error(`${hint} needs the "${name}" package: npm install ${name}`);
    }
    throw error;
  }
}
