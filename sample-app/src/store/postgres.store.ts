import { Logger } from '@nestjs/common';
import type { Message } from '../messages/message';
import { loadDriver, type MessageStore } from './message-store';

/** The part of node-postgres (`pg`) the store uses; `pg` is loaded only when configured. */
interface QueryResult {
  rows: Row[];
}
interface PoolClient {
  query(text: string, values?: unknown[]): Promise<QueryResult>;
  release(): void;
}
interface Pool {
  query(text: string, values?: unknown[]): Promise<QueryResult>;
  connect(): Promise<PoolClient>;
  end(): Promise<void>;
  on(event: 'error', listener: (error: Error) => void): unknown;
}
interface PgModule {
  Pool: new (options: { connectionString: string; max?: number }) => Pool;
}

interface Row {
  id: number;
  text: string;
  instance: string;
  created_at: Date;
}

const COLUMNS = 'id, text, instance, created_at';
/** Any fixed number: instances booting together take turns creating the table. */
const SCHEMA_LOCK = 4_262_077;

/** PostgreSQL through node-postgres, for instances on several machines. */
export class PostgresMessageStore implements MessageStore {
  readonly kind = 'postgres';

  private constructor(private readonly pool: Pool) {}

  static async open(url: string, display: string): Promise<PostgresMessageStore> {
    const pg = (await loadDriver('pg', `DATABASE_URL=${display}`)) as PgModule;
    const pool = new pg.Pool({ connectionString: url, max: 5 });
    // An idle client that loses its connection emits 'error' on the pool; unheard, it would crash.
    const logger = new Logger('PostgresMessageStore');
    pool.on('error', (error) =>
      logger.warn(`An idle PostgreSQL connection failed: ${error.message}`),
    );
    try {
      const client = await pool.connect();
      try {
        // Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalog.
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
        await client.query(
          'CREATE TABLE IF NOT EXISTS messages (id SERIAL PRIMARY KEY, text TEXT NOT NULL, ' +
            'instance TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now())',
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new Error(`PostgreSQL at ${display}: ${(error as Error).message}`);
    }
    return new PostgresMessageStore(pool);
  }

  async list({ afterId, limit }: { afterId: number; limit: number }): Promise<Message[]> {
    const { rows } = await this.pool.query(
      `SELECT ${COLUMNS} FROM messages WHERE id > $1 ORDER BY id DESC LIMIT $2`,
      [afterId, limit],
    );
    return rows.reverse().map(toMessage);
  }

  async get(id: number): Promise<Message | undefined> {
    const { rows } = await this.pool.query(`SELECT ${COLUMNS} FROM messages WHERE id = $1`, [id]);
    const row = rows.at(0);
    return row && toMessage(row);
  }

  async create({ text, instance }: Pick<Message, 'text' | 'instance'>): Promise<Message> {
    const { rows } = await this.pool.query(
      `INSERT INTO messages (text, instance) VALUES ($1, $2) RETURNING ${COLUMNS}`,
      [text, instance],
    );
    const row = rows.at(0);
    if (!row) throw new Error('PostgreSQL returned no row for the new message');
    return toMessage(row);
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

function toMessage(row: Row): Message {
  return {
    id: Number(row.id),
    text: row.text,
    instance: row.instance,
    createdAt: new Date(row.created_at).toISOString(),
  };
}
