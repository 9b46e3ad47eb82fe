import type { SyncStatus } from '../../src';
import { sleep } from './processes/broker-process';
import type { Instance } from './instances';

/**
 * One instance emits a numbered `created` event every `intervalMs` while the others record what
 * arrives, so that a test can strike a fault in the middle and then account for every event:
 * each receiver heard it (once) or counts it in `missed`.
 */
export class FailoverRun {
  private sent = 0;
  private readonly sentAt: number[] = [];
  private readonly heard: Array<Map<number, number>>;
  private readonly statuses: SyncStatus[][];
  private running = false;
  private loop?: Promise<void>;

  constructor(
    private readonly origin: Instance,
    private readonly receivers: Instance[],
    private readonly intervalMs = 20,
  ) {
    this.heard = receivers.map((receiver) => {
      const heard = new Map<number, number>();
      receiver.app.service('todos').on('created', (todo: { n: number }) => {
        // A second arrival of one event would be a duplicate emit: keep the count.
        heard.set(todo.n, (heard.get(todo.n) ?? 0) + 1);
      });
      return heard;
    });
    this.statuses = receivers.map((receiver) => {
      const seen: SyncStatus[] = [];
      receiver.sync.status$.subscribe((status) => seen.push(status));
      return seen;
    });
  }

  start(): this {
    this.running = true;
    this.loop = (async () => {
      const todos = this.origin.app.service('todos');
      while (this.running) {
        const n = ++this.sent;
        this.sentAt[n] = Date.now();
        await todos.create({ text: `event ${n}`, n });
        await sleep(this.intervalMs);
      }
    })();
    return this;
  }

  /** The statuses each receiver went through (in order, as `status$` told them). */
  statusesOf(index: number): SyncStatus[] {
    return this.statuses[index];
  }

  /**
   * Resolves once every receiver heard an event emitted after `since`; the ms from `since` to the
   * slowest receiver's first such event.
   */
  async resumedAfter(since: number, timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const firsts = this.heard.map((heard) => {
        const after = [...heard.keys()].filter((n) => this.sentAt[n] > since);
        return after.length === 0 ? undefined : Math.min(...after.map((n) => this.sentAt[n]));
      });
      if (firsts.every((first) => first !== undefined)) {
        return Math.max(...firsts) - since;
      }
      if (Date.now() > deadline) throw new Error(`events did not flow again in ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /**
   * Stops emitting; waits until every receiver heard the last event; returns per receiver how
   * many events it never heard, how many it counts as missed, and how many it heard twice.
   */
  async stop(
    timeoutMs = 30_000,
  ): Promise<Array<{ missing: number; missed: number; twice: number }>> {
    this.running = false;
    await this.loop;
    const last = this.sent;
    const deadline = Date.now() + timeoutMs;
    while (!this.heard.every((heard) => heard.has(last))) {
      if (Date.now() > deadline)
        throw new Error(`the last event (${last}) did not arrive everywhere`);
      await sleep(50);
    }
    return this.heard.map((heard, index) => ({
      missing: last - heard.size,
      missed: this.receivers[index].sync.stats().missed,
      twice: [...heard.values()].filter((count) => count > 1).length,
    }));
  }

  /** The events receiver `index` heard. */
  heardBy(index: number): Set<number> {
    return new Set(this.heard[index].keys());
  }

  get emitted(): number {
    return this.sent;
  }
}
