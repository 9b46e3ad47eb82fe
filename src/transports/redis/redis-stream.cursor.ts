import { randomUUID } from 'node:crypto';
import type { SyncLogger } from '../../shared/logger.js';
import type { RedisClient } from './redis.clients.js';
import {
  checkVersion,
  EMPTY_LOG,
  nextReadCount,
  parseEntries,
  parseInfo,
  results,
  type LogInfo,
  type RedisLogKeys,
  type Result,
} from './redis-stream.log.js';

/** Where read entries go: every payload in log order, and every loss the log itself made. */
export interface LogSink {
  message(payload: Buffer): void;
  gap(missing: number, reason: string): void;
}

/**
 * One instance's place in the Redis stream. Each batch is read in one MULTI with XINFO STREAM, so
 * the entries that were trimmed before this instance read them are counted exactly
 * (entries-added − read − length; nothing ever XDELs) and reported before what follows. An epoch
 * key tells a log that was lost (a restart without persistence) from one that survived; a new log
 * is read from its start.
 */
export class RedisLogCursor {
  /** The last entry delivered (at first, the end of the log when this instance joined). */
  position?: string;
  /** How many entries the log had ever been given up to the position, trimmed ones included. */
  private readThrough = 0;
  private epoch?: string;
  /** Entries per read: about a megabyte's worth (see nextReadCount). */
  private readCount = 64;

  constructor(
    private readonly keys: RedisLogKeys,
    private readonly logger: SyncLogger,
    private readonly sink: LogSink,
  ) {}

  /**
   * Takes a place at the end of the log (an instance hears what is published after it started).
   * False when the epoch had to be set first: join again.
   */
  async join(reader: RedisClient): Promise<boolean> {
    const [version, epoch, info] = results(
      await reader
        .multi()
        .info('server')
        .get(this.keys.epoch)
        .xinfo('STREAM', this.keys.stream)
        .exec(),
    );
    checkVersion(version.value);
    const state = await this.stateOf(reader, epoch, info);
    if (!state) return false;
    this.epoch = state.epoch;
    this.position = state.log.lastId;
    this.readThrough = state.log.entriesAdded;
    return true;
  }

  /** Delivers one batch after the position, with the log's state at that instant. True if more may wait. */
  async readBatch(reader: RedisClient): Promise<boolean> {
    const [epoch, info, read] = results(
      await reader
        .multi()
        .get(this.keys.epoch)
        .xinfo('STREAM', this.keys.stream)
        .xreadBuffer('COUNT', this.readCount, 'STREAMS', this.keys.stream, this.position!)
        .exec(),
    );
    const state = await this.stateOf(reader, epoch, info);
    if (!state) return true;
    const { log } = state;
    if (state.epoch !== this.epoch || log.entriesAdded < this.readThrough) {
      this.restartFromStart(state.epoch);
      return true;
    }
    const lost = log.entriesAdded - this.readThrough - log.length;
    if (lost > 0) {
      this.readThrough += lost;
      this.sink.gap(
        lost,
        'trimmed from the Redis stream before this instance read them: raise retention.maxEvents ' +
          'or retention.maxAgeMs',
      );
    }
    const entries = parseEntries(read.ok());
    let bytes = 0;
    for (const [id, payload] of entries) {
      // The position moves first: a listener that threw cannot make an entry come twice.
      this.position = id;
      this.readThrough++;
      bytes += payload.length;
      this.sink.message(payload);
    }
    const full = entries.length >= this.readCount;
    this.readCount = nextReadCount(this.readCount, entries.length, bytes);
    return full;
  }

  /** The log was lost and begun again: what it held is gone, what the new one holds is read. */
  private restartFromStart(epoch: string): void {
    this.logger.warn(
      `The Redis stream "${this.keys.stream}" was lost and started again (a restart without ` +
        'persistence, a flush or a deletion); reading the new one from its start. Events lost with ' +
        'it are counted per sender in `missed`. Turn on AOF (appendonly yes) to keep it.',
    );
    this.epoch = epoch;
    this.position = '0-0';
    this.readThrough = 0;
  }

  /**
   * The epoch and the stream's state from one MULTI; undefined when the epoch was missing and had
   * to be set first (whoever comes first sets it, everyone then reads the same value).
   */
  private async stateOf(
    reader: RedisClient,
    epoch: Result,
    info: Result,
  ): Promise<{ epoch: string; log: LogInfo } | undefined> {
    const value = epoch.ok();
    if (typeof value !== 'string') {
      await reader.set(this.keys.epoch, randomUUID(), 'NX');
      return undefined;
    }
    const missing = info.error !== undefined && /no such key/i.test(info.error.message);
    return { epoch: value, log: missing ? EMPTY_LOG : parseInfo(info.ok()) };
  }
}
