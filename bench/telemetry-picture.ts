/**
 * What the OpenTelemetry metrics show, drawn from a real run: two instances of the module (built
 * package, one process, one Nest application context each) on a real broker, with an SDK whose
 * in-memory exporter is read every second. Instance 0 creates events at a rate that changes by
 * phase, with a burst; the picture plots what a dashboard would: events/s published and emitted,
 * the delivery latency histogram (a heatmap of its buckets, with p50 and p99), and pending events.
 *
 *   npm run build && npx tsc -p bench/tsconfig.json && node dist/bench/telemetry-picture.js [uri] [out.svg]
 *
 * (default: redis://127.0.0.1:6379, docs/telemetry-metrics.svg).
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { feathers } from '@feathersjs/feathers';
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import {
  Module,
  type DynamicModule,
  type INestApplicationContext,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { quantileMs, renderTelemetryPicture, type PictureSample } from './telemetry-picture-svg.js';

const root = join(__dirname, '..', '..');
const uri = process.argv[2] ?? process.env.REDIS_URI ?? 'redis://127.0.0.1:6379';
const out = process.argv[3] ?? join(root, 'docs', 'telemetry-metrics.svg');
/** Seconds and events/s of each phase. */
const PHASES = [
  { seconds: 8, rate: 300 },
  { seconds: 8, rate: 1500 },
  { seconds: 2, rate: 8000 },
  { seconds: 8, rate: 300 },
];

interface SyncLike {
  ready: Promise<void>;
  instanceId: string;
}
interface SyncPackage {
  FeathersSyncModule: { forRoot(options: Record<string, unknown>): DynamicModule };
  SyncService: Type<SyncLike>;
}

class Messages {
  private id = 0;
  async create(data: Record<string, unknown>) {
    return { ...data, id: ++this.id };
  }
}

async function main(): Promise<void> {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ readers: [reader] });
  metrics.setGlobalMeterProvider(provider);

  const pkg = (await import(join(root, 'dist', 'cjs', 'index.js'))) as SyncPackage;
  const key = `telemetry-picture-${process.pid}`;
  const instances: Array<{ nest: INestApplicationContext; app: any; id: string }> = [];
  for (let i = 0; i < 2; i++) {
    const app = feathers();
    app.use('messages', new Messages());
    @Module({ imports: [pkg.FeathersSyncModule.forRoot({ uri, key, app, logger: false })] })
    class PictureModule {}
    const nest = await NestFactory.createApplicationContext(PictureModule, { logger: false });
    const sync = nest.get(pkg.SyncService);
    await sync.ready;
    instances.push({ nest, app, id: sync.instanceId });
  }
  const [origin, receiver] = instances;

  const samples: PictureSample[] = [];
  const started = Date.now();
  let previous: { published: number; emitted: number; counts: number[] } | undefined;
  const sample = async () => {
    exporter.reset();
    await reader.forceFlush();
    const collected = exporter
      .getMetrics()
      .flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    const published = sumOf(collected, 'feathers_sync.published', origin.id);
    const emitted = sumOf(collected, 'feathers_sync.emitted', receiver.id);
    const pending = sumOf(collected, 'feathers_sync.pending', origin.id);
    const histogram = histogramOf(collected, receiver.id);
    const counts = histogram?.buckets.counts ?? [];
    const t = (Date.now() - started) / 1000;
    // The last collection right after an interval's one adds nothing.
    if (previous && t - (samples.at(-1)?.t ?? 0) > 0.5) {
      samples.push({
        t,
        published: published - previous.published,
        emitted: emitted - previous.emitted,
        pending,
        boundaries: histogram?.buckets.boundaries ?? [],
        buckets: counts.map((count, i) => count - (previous!.counts[i] ?? 0)),
      });
    }
    previous = { published, emitted, counts };
  };
  await sample();
  const sampler = setInterval(() => void sample(), 1000);

  for (const phase of PHASES) {
    // Events due by the elapsed time (not per tick), so a slow tick does not lower the rate.
    const begin = Date.now();
    let sent = 0;
    while (Date.now() - begin < phase.seconds * 1000) {
      const due = Math.floor(((Date.now() - begin) / 1000) * phase.rate);
      for (; sent < due; sent++) {
        void origin.app.service('messages').create({ text: 'x'.repeat(150) });
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 2000));
  clearInterval(sampler);
  await sample();
  for (const instance of instances) await instance.nest.close();
  await provider.shutdown();

  writeFileSync(
    out,
    renderTelemetryPicture(samples, {
      title:
        'What the OpenTelemetry metrics show: 2 instances on Redis, events/s by phase, a burst',
      subtitle: `node dist/bench/telemetry-picture.js · ${new Date().toISOString().slice(0, 16)}Z · ${PHASES.map((p) => `${p.seconds} s @ ${p.rate}/s`).join(', ')}`,
    }),
  );
  for (const s of samples) {
    const [p50, p99] = [0.5, 0.99].map((q) => quantileMs(s, q)?.toFixed(2) ?? '-');
    console.log(
      `t=${s.t.toFixed(1)} s  published ${s.published}/s  emitted ${s.emitted}/s  ` +
        `pending ${s.pending}  p50 ${p50} ms  p99 ${p99} ms`,
    );
  }
  const sum = (field: 'published' | 'emitted') => samples.reduce((n, s) => n + s[field], 0);
  console.log(
    `${samples.length} samples; ${sum('published')} events published by instance 0, ` +
      `${sum('emitted')} emitted on instance 1; wrote ${out}`,
  );
}

function pointsOf(collected: MetricData[], name: string, id: string) {
  const metric = collected.find((m) => m.descriptor.name === name);
  const points = (metric?.dataPoints ?? []) as Array<{
    attributes: Record<string, unknown>;
    value: unknown;
  }>;
  return { metric, points: points.filter((p) => p.attributes['messaging.client.id'] === id) };
}

function sumOf(collected: MetricData[], name: string, id: string): number {
  return pointsOf(collected, name, id).points.reduce((sum, p) => sum + (p.value as number), 0);
}

function histogramOf(collected: MetricData[], id: string): Histogram | undefined {
  const { metric, points } = pointsOf(collected, 'feathers_sync.delivery.latency', id);
  return metric?.dataPointType === DataPointType.HISTOGRAM
    ? (points[0]?.value as Histogram)
    : undefined;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
