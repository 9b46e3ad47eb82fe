import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';

/**
 * An OpenTelemetry SDK registered globally, as an app registers one before Nest boots, with the
 * SDK's in-memory exporters: metrics are read on demand, finished spans are kept.
 */
export class TestTelemetry {
  readonly spans = new InMemorySpanExporter();
  private readonly metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  private readonly reader = new PeriodicExportingMetricReader({
    exporter: this.metricExporter,
    exportIntervalMillis: 3_600_000,
  });
  private readonly meterProvider = new MeterProvider({ readers: [this.reader] });
  private readonly tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(this.spans)],
  });
  private readonly contextManager = new AsyncLocalStorageContextManager();

  static register(): TestTelemetry {
    const sdk = new TestTelemetry();
    context.setGlobalContextManager(sdk.contextManager.enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(sdk.tracerProvider);
    metrics.setGlobalMeterProvider(sdk.meterProvider);
    return sdk;
  }

  /** The metrics of this package, collected now. */
  async collect(): Promise<MetricData[]> {
    this.metricExporter.reset();
    await this.reader.forceFlush();
    return this.metricExporter
      .getMetrics()
      .flatMap((resource) => resource.scopeMetrics)
      .filter((scope) => scope.scope.name === 'nestjs-feathers-sync')
      .flatMap((scope) => scope.metrics);
  }

  finishedSpans(): ReadableSpan[] {
    return this.spans.getFinishedSpans();
  }

  async shutdown(): Promise<void> {
    await Promise.all([this.meterProvider.shutdown(), this.tracerProvider.shutdown()]);
    metrics.disable();
    trace.disable();
    propagation.disable();
    context.disable();
  }
}

/**
 * The sum of a metric's points whose attributes include `match` (a histogram's: its count), or
 * undefined when the metric or such a point does not exist.
 */
export function metricValue(
  collected: MetricData[],
  name: string,
  match: Record<string, unknown>,
): number | undefined {
  const metric = collected.find((m) => m.descriptor.name === name);
  if (!metric) return undefined;
  const points = (
    metric.dataPoints as Array<{ attributes: Record<string, unknown>; value: unknown }>
  ).filter((point) => Object.entries(match).every(([k, v]) => point.attributes[k] === v));
  if (points.length === 0) return undefined;
  return points.reduce(
    (sum, point) =>
      sum +
      (metric.dataPointType === DataPointType.HISTOGRAM
        ? (point.value as { count: number }).count
        : (point.value as number)),
    0,
  );
}
