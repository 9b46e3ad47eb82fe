import { execFileSync, fork } from 'node:child_process';
import { join } from 'node:path';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { SyncDelivery } from '../../src';
import { BROKERS, describeWithBroker, uniqueKey, type BrokerName } from '../support/brokers';
import { recordEvents, waitFor } from '../support/feathers-app';
import { closePeer, startFeathersSyncPeer } from '../support/feathers-sync-peer';
import { FleetInstance } from '../support/fleet';
import { closeAll, startInstances, type Instance } from '../support/instances';
import { publishRaw } from '../support/raw-broker';
import { captureRaw } from '../support/raw-capture';
import { metricValue, TestTelemetry } from '../support/telemetry-sdk';

/**
 * OpenTelemetry with an SDK registered before the module starts (the SDK's in-memory exporters):
 * metrics of two instances after N events, the delivery latency, drops by reason, and the trace
 * of an event: a producer span on the origin, one linked consumer span per receiving instance.
 */
const TRANSPORTS: Array<Exclude<BrokerName, 'memory'>> = ['redis', 'amqp', 'nats'];
const DELIVERIES: SyncDelivery[] = ['broadcast', 'recoverable'];
const N = 25;
const FIXTURES = join(__dirname, '..', 'fixtures');
/** A preload that makes `@opentelemetry/api` unresolvable in the process that loads it. */
const BLOCK_API = join(FIXTURES, 'block-opentelemetry-api.cjs');

const COUNTERS = [
  ['feathers_sync.published', 'published'],
  ['feathers_sync.received', 'received'],
  ['feathers_sync.echoes', 'echoes'],
  ['feathers_sync.duplicates', 'duplicates'],
  ['feathers_sync.missed', 'missed'],
  ['feathers_sync.publish_failures', 'publishFailed'],
] as const;

let sdk: TestTelemetry;
beforeAll(() => {
  sdk = TestTelemetry.register();
});
afterAll(() => sdk.shutdown());

for (const [broker, delivery] of TRANSPORTS.flatMap((b) =>
  DELIVERIES.map((d) => [b, d] as const),
)) {
  describeWithBroker(broker, `OpenTelemetry over ${broker} (${delivery})`, () => {
    const uri = BROKERS[broker];
    const system = broker === 'amqp' ? 'rabbitmq' : broker;
    let instances: Instance[] = [];
    afterEach(() => closeAll(instances));
    if (broker === 'amqp' && delivery === 'recoverable') {
      afterAll(async () => (await import('../support/raw/amqp')).deleteTestStreams());
    }

    it(`records the counters, the pending gauge and the latency of ${N} events on two instances`, async () => {
      const key = uniqueKey('otel');
      instances = await startInstances(2, { uri, delivery, key });
      const [origin, receiver] = instances;
      for (let n = 1; n <= N; n++) await origin.app.service('todos').create({ text: `#${n}` });
      await waitFor(
        () => receiver.sync.stats().emitted === N && origin.sync.stats().published === N,
        `${N} events published and emitted`,
      );
      await waitFor(() => origin.sync.stats().echoes === N, 'the echoes');

      const collected = await sdk.collect();
      const names = collected.map((m) => m.descriptor.name);
      for (const name of [
        ...COUNTERS.map(([metric]) => metric),
        'feathers_sync.emitted',
        'feathers_sync.pending',
        'feathers_sync.delivery.latency',
      ]) {
        expect(names).toContain(name);
      }
      for (const instance of instances) {
        const stats = instance.sync.stats();
        const base = {
          'messaging.system': system,
          'messaging.destination.name': key,
          'messaging.client.id': instance.sync.instanceId,
        };
        for (const [metric, field] of COUNTERS) {
          expect([metric, metricValue(collected, metric, base)]).toEqual([metric, stats[field]]);
        }
        expect(metricValue(collected, 'feathers_sync.pending', base)).toBe(0);
      }
      const at = (instance: Instance) => ({
        'messaging.client.id': instance.sync.instanceId,
        'messaging.destination.name': key,
        'feathers_sync.service.path': 'todos',
      });
      expect(metricValue(collected, 'feathers_sync.published', at(origin))).toBeUndefined();
      expect(
        metricValue(collected, 'feathers_sync.published', {
          'messaging.client.id': origin.sync.instanceId,
        }),
      ).toBe(N);
      expect(metricValue(collected, 'feathers_sync.emitted', at(receiver))).toBe(N);
      expect(metricValue(collected, 'feathers_sync.delivery.latency', at(receiver))).toBe(N);
      expect(metricValue(collected, 'feathers_sync.emitted', at(origin))).toBeUndefined();
      expect(metricValue(collected, 'feathers_sync.delivery.latency', at(origin))).toBeUndefined();
      const latency = collected.find((m) => m.descriptor.name === 'feathers_sync.delivery.latency');
      expect(latency?.descriptor.unit).toBe('s');
    });

    it('counts dropped messages by reason', async () => {
      const key = uniqueKey('otel-drop');
      instances = await startInstances(1, { uri, delivery, key });
      const [instance] = instances;
      await publishRaw(broker, key, delivery, [
        'not json',
        'not json either',
        JSON.stringify({ event: 'created', path: 'nowhere', data: {} }),
      ]);
      await waitFor(
        () =>
          instance.sync.stats().dropped.decode === 2 &&
          instance.sync.stats().dropped.unknownService === 1,
        'the drops',
      );
      const collected = await sdk.collect();
      const base = { 'messaging.client.id': instance.sync.instanceId };
      expect(
        metricValue(collected, 'feathers_sync.dropped', { ...base, 'error.type': 'decode' }),
      ).toBe(2);
      expect(
        metricValue(collected, 'feathers_sync.dropped', {
          ...base,
          'error.type': 'unknownService',
        }),
      ).toBe(1);
      expect(
        metricValue(collected, 'feathers_sync.dropped', { ...base, 'error.type': 'shape' }),
      ).toBeUndefined();
    });

    for (const envelope of ['compatible', 'lean'] as const) {
      it(`traces an event (${envelope} envelope): a producer span on the origin, one linked consumer span per receiving instance`, async () => {
        const key = uniqueKey('otel-trace');
        instances = await startInstances(3, { uri, delivery, key, envelope });
        const [origin, ...receivers] = instances;
        // The span that is active in a listener on a receiving instance.
        const activeInListener = new Map<string, string | undefined>();
        for (const instance of receivers) {
          instance.app.service('todos').on('created', () => {
            activeInListener.set(
              instance.sync.instanceId,
              trace.getActiveSpan()?.spanContext().spanId,
            );
          });
        }
        const logs = receivers.map((instance) => recordEvents(instance.app, 'todos', ['created']));
        const tracer = trace.getTracer('test');
        const request = await tracer.startActiveSpan('POST /todos', async (span) => {
          await origin.app.service('todos').create({ text: 'traced' });
          span.end();
          return span.spanContext();
        });
        await waitFor(() => logs.every((log) => log.length === 1), 'the event everywhere');

        const spans = sdk
          .finishedSpans()
          .filter((span) => span.attributes['messaging.destination.name'] === key);
        const producers = spans.filter((span) => span.kind === SpanKind.PRODUCER);
        expect(producers).toHaveLength(1);
        const [producer] = producers;
        expect(producer.name).toBe(`create ${key}`);
        expect(producer.spanContext().traceId).toBe(request.traceId);
        expect(producer.parentSpanContext?.spanId).toBe(request.spanId);
        expect(producer.attributes).toMatchObject({
          'messaging.system': system,
          'messaging.operation.type': 'create',
          'messaging.client.id': origin.sync.instanceId,
          'feathers_sync.service.path': 'todos',
          'feathers_sync.event': 'created',
        });

        const consumers = spans.filter((span) => span.kind === SpanKind.CONSUMER);
        expect(consumers.map((span) => span.attributes['messaging.client.id']).sort()).toEqual(
          receivers.map((instance) => instance.sync.instanceId).sort(),
        );
        for (const consumer of consumers) {
          expect(consumer.name).toBe(`process ${key}`);
          expect(consumer.attributes['messaging.operation.type']).toBe('process');
          expect(consumer.links).toHaveLength(1);
          expect(consumer.links[0].context.traceId).toBe(request.traceId);
          expect(consumer.links[0].context.spanId).toBe(producer.spanContext().spanId);
          // The listeners ran inside the consumer span.
          expect(activeInListener.get(consumer.attributes['messaging.client.id'] as string)).toBe(
            consumer.spanContext().spanId,
          );
        }
      });
    }

    it('an instance without @opentelemetry/api (its own process) exchanges events with one that records', async () => {
      // The preload does block the package.
      expect(() =>
        execFileSync(process.execPath, ['-r', BLOCK_API, '-e', "require('@opentelemetry/api')"], {
          stdio: 'ignore',
        }),
      ).toThrow();
      const key = uniqueKey('otel-absent');
      instances = await startInstances(1, { uri, delivery, key });
      const [recording] = instances;
      const withoutApi = new FleetInstance(
        1,
        fork(join(FIXTURES, 'sync-process.cjs'), [], {
          execArgv: ['-r', BLOCK_API],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        }),
      );
      try {
        await withoutApi.init({ uri, delivery, key });
        const heard = recordEvents(recording.app, 'todos', ['created']);
        const tracer = trace.getTracer('test');
        await tracer.startActiveSpan('POST /todos', async (span) => {
          for (let n = 1; n <= 5; n++) await recording.app.service('todos').create({ o: 0, n });
          span.end();
        });
        expect(await withoutApi.publish(100, 50)).toBe(5);
        await waitFor(() => heard.length === 10, 'five events from the instance without the API');
        await waitFor(
          async () => ((await withoutApi.report()).received['0'] ?? []).length === 5,
          'five events on the instance without the API',
        );
        const report = await withoutApi.report();
        expect(report.received['0']).toEqual([1, 2, 3, 4, 5]);
        expect(report.stats.dropped).toEqual(
          Object.fromEntries(Object.keys(report.stats.dropped).map((reason) => [reason, 0])),
        );
        expect(report.logs.filter((line) => !line.startsWith('log:'))).toEqual([]);
        // Its events reach the recording instance without a trace context: no link, no error.
        const consumers = sdk
          .finishedSpans()
          .filter(
            (span) =>
              span.kind === SpanKind.CONSUMER &&
              span.attributes['messaging.destination.name'] === key,
          );
        expect(consumers).toHaveLength(5);
        for (const consumer of consumers) expect(consumer.links).toEqual([]);
      } finally {
        await withoutApi.stop();
      }
    });
  });
}

/** The send time and trace context travel in our stamp, which feathers-sync 3.1.1 ignores. */
for (const broker of TRANSPORTS) {
  describeWithBroker(broker, `OpenTelemetry beside feathers-sync 3.1.1 over ${broker}`, () => {
    it('a feathers-sync peer takes traced events, and its events are processed without a link', async () => {
      const key = uniqueKey('otel-interop');
      const peer = await startFeathersSyncPeer(broker, key);
      const instances = await startInstances(1, { uri: BROKERS[broker], key });
      const capture = await captureRaw(broker, key);
      try {
        const theirs = recordEvents(peer, 'todos', ['created']);
        const ours = recordEvents(instances[0].app, 'todos', ['created']);
        await trace.getTracer('test').startActiveSpan('POST /todos', async (span) => {
          await instances[0].app.service('todos').create({ text: 'from ours' });
          span.end();
        });
        await waitFor(
          () => theirs.length === 1,
          'our traced event on the feathers-sync peer',
          15_000,
        );
        expect(theirs[0].data).toEqual({ id: 1, text: 'from ours' });
        expect(theirs[0].context.path).toBe('todos');
        const stamp = JSON.parse(capture.messages[0].toString()).sync;
        expect(stamp.ts).toEqual(expect.any(Number));
        expect(stamp.tc.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);

        await peer.service('todos').create({ text: 'from feathers-sync' });
        await waitFor(() => ours.length === 2, 'the peer event on ours', 15_000);
        const consumers = sdk
          .finishedSpans()
          .filter(
            (span) =>
              span.kind === SpanKind.CONSUMER &&
              span.attributes['messaging.destination.name'] === key,
          );
        expect(consumers).toHaveLength(1);
        expect(consumers[0].links).toEqual([]);
        expect(instances[0].sync.stats().dropped).toEqual(
          Object.fromEntries(Object.keys(instances[0].sync.stats().dropped).map((r) => [r, 0])),
        );
      } finally {
        await capture.close();
        await closeAll(instances);
        await closePeer(peer);
      }
    });
  });
}

describe('OpenTelemetry: a listener that throws', () => {
  it('marks the consumer span as an error, and the message is dropped as listenerError', async () => {
    const key = uniqueKey('otel-throw');
    const instances = await startInstances(2, { uri: BROKERS.memory, key });
    try {
      instances[1].app.service('todos').on('created', () => {
        throw new Error('listener failed');
      });
      await instances[0].app.service('todos').create({ text: 'x' });
      await waitFor(() => instances[1].sync.stats().dropped.listenerError === 1, 'the drop');
      const [consumer] = sdk
        .finishedSpans()
        .filter(
          (span) =>
            span.kind === SpanKind.CONSUMER &&
            span.attributes['messaging.destination.name'] === key,
        );
      expect(consumer.status.code).toBe(SpanStatusCode.ERROR);
      expect(consumer.events.map((event) => event.name)).toEqual(['exception']);
    } finally {
      await closeAll(instances);
    }
  });
});
