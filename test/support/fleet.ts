import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FeathersSyncOptions, SyncStats } from '../../src';

const FIXTURE = join(__dirname, '..', 'fixtures', 'sync-process.cjs');
const DIST = join(__dirname, '..', '..', 'dist', 'cjs', 'index.js');

/** What an instance process saw (see test/fixtures/sync-process.cjs). */
export interface InstanceReport {
  index: number;
  /** Events this instance published. */
  sent: number;
  /** origin index → sequence numbers heard from it, in arrival order (its own included). */
  received: Record<string, number[]>;
  gaps: Array<{ origin: string; missing: number }>;
  statuses: string[];
  logs: string[];
  stats: SyncStats & { status: string };
}

type ChildMessage =
  | { ev: 'ready' }
  | { ev: 'error'; message: string }
  | { ev: 'progress'; sent: number; published: number }
  | { ev: 'published'; sent: number }
  | { ev: 'report'; report: InstanceReport };

/** One instance process. */
export class FleetInstance {
  /** Last progress report: events emitted, and how many the broker has acknowledged. */
  progress = { sent: 0, published: 0 };
  private readonly waiters = new Map<string, (message: ChildMessage) => void>();
  private errors: string[] = [];
  private exited = false;

  constructor(
    readonly index: number,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (message: ChildMessage) => {
      if (message.ev === 'progress') this.progress = message;
      if (message.ev === 'error') this.errors.push(message.message);
      this.waiters.get(message.ev)?.(message);
    });
    child.on('exit', () => {
      this.exited = true;
      for (const waiter of this.waiters.values()) waiter({ ev: 'error', message: 'exited' });
    });
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Boots the app with these options; resolves once its subscription is ready. */
  async init(options: FeathersSyncOptions): Promise<void> {
    const ready = this.next('ready', 60_000);
    this.child.send({ cmd: 'init', index: this.index, options });
    await ready;
  }

  /** Starts publishing `rate` events/s for `durationMs`; resolves once all are emitted. */
  publish(rate: number, durationMs: number): Promise<number> {
    this.child.send({ cmd: 'publish', rate, durationMs });
    return this.next('published', durationMs + 30_000).then((m) => (m as { sent: number }).sent);
  }

  async report(): Promise<InstanceReport> {
    this.child.send({ cmd: 'report' });
    return ((await this.next('report', 10_000)) as { report: InstanceReport }).report;
  }

  /** The process dies at once: nothing it holds is flushed. */
  kill(): void {
    this.child.kill('SIGKILL');
  }

  /** Closes the app (a clean shutdown) and returns its last report. */
  async stop(): Promise<InstanceReport | undefined> {
    if (this.exited) return undefined;
    this.child.send({ cmd: 'stop' });
    const message = await this.next('report', 15_000).catch(() => undefined);
    return (message as { report?: InstanceReport } | undefined)?.report;
  }

  next(event: ChildMessage['ev'], timeoutMs: number): Promise<ChildMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(event);
        reject(new Error(`instance ${this.index}: no '${event}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.set(event, (message) => {
        clearTimeout(timer);
        this.waiters.delete(event);
        if (message.ev === 'error' && event !== 'error') {
          reject(
            new Error(`instance ${this.index}: ${message.message}\n${this.errors.join('\n')}`),
          );
        } else {
          resolve(message);
        }
      });
    });
  }
}

/** Instances as separate processes, as users run them behind a load balancer. */
export class Fleet {
  private constructor(readonly instances: FleetInstance[]) {}

  static async start(
    count: number,
    optionsFor: (index: number) => FeathersSyncOptions,
  ): Promise<Fleet> {
    if (!existsSync(DIST)) {
      throw new Error('The fleet runs the built package: run `npm run build` first.');
    }
    const instances = Array.from({ length: count }, (_, index) => {
      const child = fork(FIXTURE, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      return new FleetInstance(index, child);
    });
    const fleet = new Fleet(instances);
    try {
      await Promise.all(instances.map((instance) => instance.init(optionsFor(instance.index))));
    } catch (error) {
      await fleet.stop();
      throw error;
    }
    return fleet;
  }

  at(index: number): FleetInstance {
    return this.instances[index];
  }

  /** Stops every instance still alive; returns their last reports. */
  async stop(): Promise<Array<InstanceReport | undefined>> {
    return Promise.all(this.instances.map((instance) => instance.stop()));
  }
}

/** How the events of one origin arrived at one instance, against 1…`expected`. */
export interface Delivery {
  missing: number;
  duplicates: number;
  outOfOrder: number;
}

export function delivery(heard: number[] | undefined, expected: number): Delivery {
  const seen = new Set<number>();
  let duplicates = 0;
  let outOfOrder = 0;
  let last = 0;
  for (const n of heard ?? []) {
    if (seen.has(n)) {
      duplicates++;
      continue;
    }
    seen.add(n);
    if (n < last) outOfOrder++;
    last = Math.max(last, n);
  }
  let missing = 0;
  for (let n = 1; n <= expected; n++) if (!seen.has(n)) missing++;
  return { missing, duplicates, outOfOrder };
}
