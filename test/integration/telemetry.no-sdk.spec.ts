import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { context, propagation } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { SyncDelivery } from '../../src';
import { loadTelemetry } from '../../src/telemetry/sync-telemetry';
import { BROKERS, describeWithBroker, uniqueKey, type BrokerName } from '../support/brokers';
import { recordEvents, waitFor } from '../support/feathers-app';
import { closeAll, startInstances, type Instance } from '../support/instances';
import { captureRaw, type RawCapture } from '../support/raw-capture';

/**
 * `@opentelemetry/api` installed, no SDK registered (only a context manager and a propagator, as
 * some apps have): the module has no observer, records nothing, adds nothing to the wire.
 */
const TRANSPORTS: Array<Exclude<BrokerName, 'memory'>> = ['redis', 'amqp', 'nats'];
const DELIVERIES: SyncDelivery[] = ['broadcast', 'recoverable'];

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
afterAll(() => {
  context.disable();
  propagation.disable();
});

it('starts no observer when no MeterProvider or TracerProvider is registered', async () => {
  const start = await loadTelemetry();
  expect(start).toBeInstanceOf(Function);
  expect(start!({ key: 'k', transportType: 'redis', instanceId: 'i' })).toBeUndefined();
});

it("the package's type declarations never reach @opentelemetry/api (apps without it type-check)", () => {
  const dist = join(__dirname, '..', '..', 'dist');
  if (!existsSync(join(dist, 'cjs', 'index.d.ts'))) {
    throw new Error('This test reads the built package: run `npm run build` first.');
  }
  const seen = new Set<string>();
  const reached: string[] = [];
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(/(?:from|import\()\s*'([^']+)'/g)) {
      if (!spec.startsWith('.')) {
        if (spec.startsWith('@opentelemetry/')) reached.push(`${file} imports ${spec}`);
        continue;
      }
      const target = resolve(dirname(file), spec).replace(/\.js$/, '') + '.d.ts';
      if (existsSync(target)) walk(target);
    }
  };
  walk(join(dist, 'cjs', 'index.d.ts'));
  walk(join(dist, 'esm', 'index.d.ts'));
  expect(seen.size).toBeGreaterThan(20);
  expect(reached).toEqual([]);
});

for (const [broker, delivery] of TRANSPORTS.flatMap((b) =>
  DELIVERIES.map((d) => [b, d] as const),
)) {
  describeWithBroker(broker, `no OpenTelemetry SDK over ${broker} (${delivery})`, () => {
    let instances: Instance[] = [];
    let capture: RawCapture | undefined;
    afterEach(async () => {
      await closeAll(instances);
      await capture?.close();
      capture = undefined;
    });
    if (broker === 'amqp' && delivery === 'recoverable') {
      afterAll(async () => (await import('../support/raw/amqp')).deleteTestStreams());
    }

    it('events flow, and their stamps carry no send time or trace context', async () => {
      const key = uniqueKey('otel-none');
      instances = await startInstances(2, { uri: BROKERS[broker], delivery, key });
      capture = await captureRaw(broker, key, delivery);
      const heard = recordEvents(instances[1].app, 'todos', ['created']);
      for (let n = 1; n <= 3; n++) await instances[0].app.service('todos').create({ n });
      await waitFor(() => heard.length === 3 && capture!.messages.length >= 3, 'three events');
      expect(heard.map((r) => r.data.n)).toEqual([1, 2, 3]);
      for (const message of capture.messages) {
        const stamp = JSON.parse(message.toString()).sync;
        expect(Object.keys(stamp).sort()).toEqual(['origin', 'seq', 'v']);
      }
      expect(instances[1].sync.stats().emitted).toBe(3);
    });
  });
}
