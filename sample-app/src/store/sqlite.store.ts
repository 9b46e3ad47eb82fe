import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Message } from '../messages/message';
import { loadDriver, type MessageStore } from './message-store';

/** The part of better-sqlite3's API the store uses (the package has no type declarations). */
interface Statement {
  all(...params: unknown[]): Row[];
  get(...params: unknown[]): Row | undefined;
}
interface Database {
  pragma(source: string): unknown;
  exec(source: string): void;
  prepare(source: string): Statement;
  close(): void;
}
type DatabaseConstructor = new (file: string) => Database;

interface Row {
  id: number;
  text: string;
  instance: string;
  created_at: string;
}

/**
 * SQLite through better-sqlite3: one file that every instance on the machine opens. WAL lets
 * readers and the writer work at the same time; the busy timeout makes a second writer wait for
 * the lock instead of failing.
 */
export class SqliteMessageStore implements MessageStore {
  readonly kind = 'sqlite';
  private readonly insert: Statement;
  private readonly byId: Statement;
  private readonly page: Statement;

  private constructor(private readonly db: Database) {
    this.insert = db.prepare(
      'INSERT INTO messages (text, instance, created_at) VALUES (?, ?, ?) ' +
        'RETURNING id, text, instance, created_at',
    );
    this.byId = db.prepare('SELECT id, text, instance, created_at FROM messages WHERE id = ?');
    this.page = db.prepare(
      'SELECT id, text, instance, created_at FROM messages WHERE id > ? ORDER BY id DESC LIMIT ?',
    );
  }

  static async open(file: string): Promise<SqliteMessageStore> {
    const Sqlite = (await loadDriver('better-sqlite3', 'SQLite')) as DatabaseConstructor;
    mkdirSync(dirname(file), { recursive: true });
    const db = new Sqlite(file);
    try {
      db.pragma('busy_timeout = 5000');
      // Switching to WAL ignores the busy timeout; instances opening a new file together retry.
      await retryWhileBusy(() => db.pragma('journal_mode = WAL'));
      db.exec(
        'CREATE TABLE IF NOT EXISTS messages (' +
          'id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL, ' +
          'instance TEXT NOT NULL, created_at TEXT NOT NULL)',
      );
      return new SqliteMessageStore(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  list({ afterId, limit }: { afterId: number; limit: number }): Promise<Message[]> {
    return Promise.resolve(this.page.all(afterId, limit).reverse().map(toMessage));
  }

  get(id: number): Promise<Message | undefined> {
    const row = this.byId.get(id);
    return Promise.resolve(row && toMessage(row));
  }

  create({ text, instance }: Pick<Message, 'text' | 'instance'>): Promise<Message> {
    const row = this.insert.get(text, instance, new Date().toISOString());
    if (!row) return Promise.reject(new Error('SQLite returned no row for the new message'));
    return Promise.resolve(toMessage(row));
  }

  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }
}

async function retryWhileBusy(action: () => unknown): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      action();
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== 'SQLITE_BUSY' || attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 80));
    }
  }
}

function toMessage(row: Row): Message {
  return { id: row.id, text: row.text, instance: row.instance, createdAt: row.created_at };
}
