import { execFileSync } from 'node:child_process';
import cluster, { type Worker } from 'node:cluster';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClusterSyncPrimary, setupClusterSyncPrimary } from '../../src';
import { buildSample, COMPILED_SRC, sleep } from './sample-support';

/**
 * The cluster:// transport between real processes: this test process is the cluster primary (the
 * relay under test comes from the sources), the workers run the compiled transport and take
 * orders over IPC.
 */

const TRANSPORT = join(COMPILED_SRC, 'transports', 'cluster', 'cluster.transport.js');
const FACTORY = join(COMPILED_SRC, 'transports', 'transport.factory.js');

/** The worker side: opens transports, publishes and reports what it sees, on the test's orders. */
const WORKER_SCRIPT = `
const { ClusterTransport, setupClusterSyncPrimary } = require(process.env.TRANSPORT);
const transports = new Map();
const report = (body) => process.send({ test: true, ...body });
const encode = (payload) =>
  typeof payload === 'string' ? { s: payload } : { b: Buffer.from(payload).toString('base64') };
const decode = (item) => {
  if (item.s !== undefined) return item.s;
  const bytes = Buffer.from(item.b, 'base64');
  // A view into a larger buffer, to check that only the viewed bytes travel.
  const backing = new Uint8Array(bytes.length + 8);
  backing.set(bytes, 4);
  return backing.subarray(4, 4 + bytes.length);
};
const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const listeners = () => process.listenerCount('message') + process.listenerCount('disconnect');
const onCommand = async (command) => {
  if (!command || command.test !== true) return;
  const { id } = command;
  try {
    switch (command.cmd) {
      case 'open': {
        const logger = { log() {}, warn: (m) => report({ id, warn: m }), error: (m) => report({ id, error: m }) };
        const transport = new ClusterTransport({ key: command.key, options: {}, logger, uri: 'cluster://' });
        transports.set(id, { transport, timersBefore: timers(), listenersBefore: listeners() });
        transport.open({
          message: (payload) => report({ id, message: encode(payload), binary: typeof payload !== 'string' }),
          status: (status) => report({ id, status }),
        });
        return;
      }
      case 'publish':
        for (const item of command.items) void transports.get(id).transport.publish(decode(item));
        return report({ id, published: command.items.length });
      case 'close': {
        const entry = transports.get(id);
        await entry.transport.close();
        transports.delete(id);
        return report({ id, closed: true, timersBefore: entry.timersBefore, timersAfter: timers(), listenersBefore: entry.listenersBefore, listenersAfter: listeners() });
      }
      case 'setupPrimary':
        setupClusterSyncPrimary();
        return report({ id, error: 'no error' });
    }
  } catch (error) {
    report({ id, error: error.message });
  }
};
process.on('message', onCommand);
report({ up: true });
`;

interface Report {
  test: true;
  id?: string;
  up?: boolean;
  status?: string;
  message?: { s?: string; b?: string };
  binary?: boolean;
  published?: number;
  closed?: boolean;
  timersBefore?: number;
  timersAfter?: number;
  listenersBefore?: number;
  listenersAfter?: number;
  warn?: string;
  error?: string;
}

/** One forked worker and everything it reported. */
class TestWorker {
  readonly reports: Report[] = [];
  constructor(readonly worker: Worker) {
    worker.on('message', (message: Report) => {
      if (message?.test === true) this.reports.push(message);
    });
  }

  command(body: Record<string, unknown>): void {
    this.worker.send({ test: true, ...body });
  }

  /** Reports about transport `id` matching `pick`, once at least `count` arrived. */
  async waitFor(
    id: string | undefined,
    pick: (r: Report) => boolean,
    count = 1,
    timeoutMs = 5000,
  ): Promise<Report[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.reports.filter((r) => r.id === id && pick(r));
      if (found.length >= count) return found;
      if (Date.now() > deadline) {
        throw new Error(
          `worker ${this.worker.id}: ${found.length}/${count} reports for ${id} after ${timeoutMs} ms; ` +
            `got ${JSON.stringify(this.reports.filter((r) => r.id === id).slice(-5))}`,
        );
      }
      await sleep(10);
    }
  }

  messages(id: string): Report[] {
    return this.reports.filter((r) => r.id === id && r.message);
  }

  statuses(id: string): string[] {
    return this.reports.filter((r) => r.id === id && r.status).map((r) => r.status as string);
  }
}

describe('cluster:// transport', () => {
  let dir: string;
  let relay: ClusterSyncPrimary | undefined;
  const workers: TestWorker[] = [];
  const key = `cluster-test-${process.pid}`;

  async function fork(serialization: 'json' | 'advanced' = 'json'): Promise<TestWorker> {
    cluster.setupPrimary({
      exec: join(dir, 'worker.js'),
      args: [],
      silent: true,
      serialization,
    });
    const worker = new TestWorker(cluster.fork({ TRANSPORT }));
    workers.push(worker);
    await worker.waitFor(undefined, (r) => r.up === true);
    return worker;
  }

  async function open(worker: TestWorker, id: string): Promise<void> {
    worker.command({ cmd: 'open', id, key });
    await worker.waitFor(id, (r) => r.status === 'connecting');
  }

  const ready = (worker: TestWorker, id: string) => worker.waitFor(id, (r) => r.status === 'ready');

  beforeAll(() => {
    buildSample();
    dir = mkdtempSync(join(tmpdir(), 'cluster-transport-'));
    writeFileSync(join(dir, 'worker.js'), WORKER_SCRIPT);
  });

  afterAll(async () => {
    relay?.close();
    await Promise.all(
      workers.map(
        ({ worker }) =>
          new Promise<void>((resolve) => {
            if (worker.isDead()) return resolve();
            worker.once('exit', () => resolve());
            worker.kill();
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses to start outside a cluster worker, naming the fix', () => {
    const script =
      `const { ClusterTransport } = require(${JSON.stringify(TRANSPORT)});` +
      `const { createTransport } = require(${JSON.stringify(FACTORY)});` +
      `const logger = { log() {}, warn() {}, error() {} };` +
      `try { new ClusterTransport({ key: 'k', options: {}, logger }); } catch (e) { console.log(e.name + ': ' + e.message); }` +
      `createTransport({ uri: 'cluster://' }, { key: 'k', logger }).catch((e) => console.log(e.name));`;
    const output = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(output).toContain('FeathersSyncConfigError: The cluster:// transport');
    expect(output).toContain('setupClusterSyncPrimary()');
    // The factory maps cluster:// to this transport: same error through createTransport.
    expect(output.trim().split('\n')[1]).toBe('FeathersSyncConfigError');
  });

  it('stays connecting until the primary relay answers, then reports ready', async () => {
    const a = await fork();
    await open(a, 'a1');
    await sleep(700);
    expect(a.statuses('a1')).toEqual(['connecting']);

    relay = setupClusterSyncPrimary();
    await ready(a, 'a1');
    expect(setupClusterSyncPrimary()).toBe(relay);
  });

  it('relays to every other worker and never back to the sender', async () => {
    const [a] = workers;
    const b = await fork();
    await open(b, 'b1');
    await ready(b, 'b1');

    a.command({ cmd: 'publish', id: 'a1', items: [{ s: 'hello from a' }] });
    const [got] = await b.waitFor('b1', (r) => r.message !== undefined);
    expect(got.message).toEqual({ s: 'hello from a' });
    await sleep(300);
    expect(a.messages('a1')).toEqual([]);
  });

  it('delivers to another subscription in the sender’s own process, not to the sender', async () => {
    const [a, b] = workers;
    await open(a, 'a2');
    await ready(a, 'a2');
    a.command({ cmd: 'publish', id: 'a2', items: [{ s: 'neighbour' }] });
    await a.waitFor('a1', (r) => r.message?.s === 'neighbour');
    await b.waitFor('b1', (r) => r.message?.s === 'neighbour');
    await sleep(200);
    expect(a.messages('a2')).toEqual([]);
    a.command({ cmd: 'close', id: 'a2' });
    await a.waitFor('a2', (r) => r.closed === true);
  });

  it('keeps the order of a burst and carries binary payloads byte for byte', async () => {
    const [a, b] = workers;
    const before = b.messages('b1').length;
    const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('base64');
    const items = Array.from({ length: 400 }, (_, i) =>
      i % 4 === 3
        ? {
            b: Buffer.concat([Buffer.from(`#${i}:`), Buffer.from(allBytes, 'base64')]).toString(
              'base64',
            ),
          }
        : { s: `message ${i} ✓` },
    );
    a.command({ cmd: 'publish', id: 'a1', items });
    await b.waitFor('b1', (r) => r.message !== undefined, before + items.length, 10_000);
    const received = b.messages('b1').slice(before);
    expect(received.map((r) => r.message)).toEqual(items);
    expect(received.map((r) => r.binary)).toEqual(items.map((item) => item.b !== undefined));
  });

  it('works the same for a worker forked with serialization: advanced', async () => {
    const [a] = workers;
    const c = await fork('advanced');
    await open(c, 'c1');
    await ready(c, 'c1');
    const bytes = Buffer.from([0, 255, 1, 254, 0x80]).toString('base64');
    a.command({ cmd: 'publish', id: 'a1', items: [{ b: bytes }, { s: 'after the bytes' }] });
    const received = await c.waitFor('c1', (r) => r.message !== undefined, 2);
    expect(received.map((r) => r.message)).toEqual([{ b: bytes }, { s: 'after the bytes' }]);
    c.command({ cmd: 'publish', id: 'c1', items: [{ b: bytes }] });
    await a.waitFor('a1', (r) => r.message?.b === bytes);
  });

  it('closes cleanly: no timer or listener left, no more deliveries', async () => {
    const [a, b, c] = workers;
    b.command({ cmd: 'close', id: 'b1' });
    const [closed] = await b.waitFor('b1', (r) => r.closed === true);
    expect(closed.timersAfter).toBe(closed.timersBefore);
    // Its IPC listeners are gone, or they would keep the worker's channel referenced.
    expect(closed.listenersAfter).toBe(closed.listenersBefore);
    expect(b.statuses('b1').at(-1)).toBe('closed');

    const before = b.messages('b1').length;
    a.command({ cmd: 'publish', id: 'a1', items: [{ s: 'after b closed' }] });
    await c.waitFor('c1', (r) => r.message?.s === 'after b closed');
    await sleep(200);
    expect(b.messages('b1')).toHaveLength(before);
  });

  it('closes cleanly while still waiting for a primary that never answers', async () => {
    relay?.close();
    relay = undefined;
    const [, b] = workers;
    await open(b, 'b2');
    await sleep(600);
    b.command({ cmd: 'close', id: 'b2' });
    const [closed] = await b.waitFor('b2', (r) => r.closed === true);
    expect(b.statuses('b2')).toEqual(['connecting', 'closed']);
    expect(closed.timersAfter).toBe(closed.timersBefore);
    expect(closed.listenersAfter).toBe(closed.listenersBefore);
  });

  it('refuses to set up the relay in a worker', async () => {
    const [a] = workers;
    a.command({ cmd: 'setupPrimary', id: 'setup' });
    const [report] = await a.waitFor('setup', (r) => r.error !== undefined);
    expect(report.error).toContain('runs in the cluster primary');
  });
});
