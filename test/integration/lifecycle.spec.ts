import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { FeathersSyncConnectTimeoutError, type FeathersSyncOptions } from '../../src';
import {
  BROKERS,
  describeWithBroker,
  uniqueKey,
  freePort,
  type BrokerName,
} from '../support/brokers';
import { runToExit } from '../support/run-to-exit';
import { CutProxy } from '../support/cut-proxy';
import { recordEvents } from '../support/feathers-app';
import { closeAll, startInstance, type Instance } from '../support/instances';

function unreachableUri(broker: Exclude<BrokerName, 'memory'>, port: number): string {
  return {
    redis: `redis://user:s3cr3t-pw@127.0.0.1:${port}`,
    amqp: `amqp://guest:s3cr3t-pw@127.0.0.1:${port}`,
    nats: `nats://user:s3cr3t-pw@127.0.0.1:${port}`,
  }[broker];
}

function captureLogger() {
  const lines: string[] = [];
  const push = (message: unknown) => lines.push(String(message));
  return { lines, logger: { log: push, warn: push, error: push, debug: push, verbose: push } };
}

for (const broker of ['redis', 'amqp', 'nats'] as const) {
  describe(`lifecycle over ${broker} when the broker is down`, () => {
    let instances: Instance[] = [];
    afterEach(() => closeAll(instances));

    it('boots anyway, stays local, rejects `ready` after connectTimeout, and never logs the password', async () => {
      const { lines, logger } = captureLogger();
      const uri = unreachableUri(broker, await freePort());
      const instance = await startInstance({ uri, key: uniqueKey(), connectTimeout: 300, logger });
      instances = [instance];
      expect(instance.sync.status).toBe('connecting');
      const failure = await instance.sync.ready.then(
        () => new Error('ready resolved'),
        (error: Error) => error,
      );
      expect(failure).toBeInstanceOf(FeathersSyncConnectTimeoutError);
      expect(failure.message).toMatch(/within 300 ms/);
      expect(failure.message).toMatch(/keeps trying/);
      expect(failure.message).not.toContain('s3cr3t-pw');
      // Local delivery does not depend on the broker.
      const log = recordEvents(instance.app, 'todos', ['created']);
      await instance.app.service('todos').create({ text: 'local' });
      expect(log).toHaveLength(1);
      expect(instance.sync.stats().pending).toBe(1);
      await closeAll(instances);
      expect(instance.sync.status).toBe('closed');
      expect(lines.join('\n')).not.toContain('s3cr3t-pw');
      expect(lines.some((line) => line.includes('never sent'))).toBe(true);
    });

    it('keeps at most maxPending events, and maxPendingBytes, dropping the oldest and counting them', async () => {
      const uri = unreachableUri(broker, await freePort());
      const byCount = await startInstance({ uri, key: uniqueKey(), maxPending: 50 });
      const byBytes = await startInstance({ uri, key: uniqueKey(), maxPendingBytes: 20_000 });
      instances = [byCount, byBytes];
      const text = 'x'.repeat(1000);
      for (const instance of instances) {
        const todos = instance.app.service('todos');
        for (let n = 0; n < 200; n++) todos.emit('custom', { n, text });
      }
      // 200 events of about 1.1 KB each: 50 kept by count, what fits in 20 KB kept by bytes.
      expect(byCount.sync.stats()).toEqual(
        expect.objectContaining({ pending: 50, publishFailed: 150, published: 0 }),
      );
      const bytes = byBytes.sync.stats();
      expect(bytes.pending).toBeGreaterThan(10);
      expect(bytes.pending).toBeLessThan(20);
      expect(bytes.pending + bytes.publishFailed).toBe(200);
      // Still bounded after the transport kept trying for a while.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(byCount.sync.stats().pending).toBe(50);
    });

    it('fails boot after connectTimeout when waitForBroker is set', async () => {
      const uri = unreachableUri(broker, await freePort());
      const options: FeathersSyncOptions = {
        uri,
        key: uniqueKey(),
        connectTimeout: 300,
        waitForBroker: true,
      };
      await expect(startInstance(options)).rejects.toThrow(FeathersSyncConnectTimeoutError);
    });
  });
}

const TRANSPORTS: BrokerName[] = ['memory', 'redis', 'amqp', 'nats'];
const dist = join(__dirname, '..', '..', 'dist', 'cjs', 'index.js');

for (const [broker, delivery] of TRANSPORTS.flatMap((b) =>
  (['broadcast', 'recoverable'] as const).map((d) => [b, d] as const),
)) {
  describeWithBroker(broker, `shutdown over ${broker} (${delivery})`, () => {
    it('app.close() leaves no open handle: the process exits by itself', async () => {
      if (!existsSync(dist))
        throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
      const script = join(__dirname, '..', 'fixtures', 'boot-and-close.cjs');
      const args = [script, BROKERS[broker], uniqueKey('exit'), delivery];
      const { code, output } = await runToExit(args);
      expect({ code, output }).toEqual({ code: 0, output: 'closed\n' });
    });

    if (broker !== 'memory') {
      it('closing just as the connection breaks leaves nothing trying to reconnect', async () => {
        const target = new URL(BROKERS[broker]);
        const proxy = await CutProxy.start({ host: target.hostname, port: Number(target.port) });
        const instance = await startInstance({
          uri: proxy.uri(BROKERS[broker]),
          key: uniqueKey('breaks'),
          delivery,
        });
        await instance.sync.ready;
        // The connection breaks, and the app closes right then.
        await proxy.close();
        await instance.nest.close();
        expect(instance.sync.status).toBe('closed');
        // Whatever would still retry dials the proxy's port: listen there, and count.
        expect(await connectionsTo(proxy.port, 1_500)).toBe(0);
      });
    }
  });
}

/** How many connections arrive on `port` within `ms`. */
async function connectionsTo(port: number, ms: number): Promise<number> {
  let count = 0;
  const server = createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await new Promise((resolve) => setTimeout(resolve, ms));
  await new Promise((resolve) => server.close(resolve));
  return count;
}
