/**
 * An OpenTelemetry SDK in a bench instance, as a production app registers one before Nest boots:
 * a MeterProvider collected every second and (`traces`) a TracerProvider that samples every span,
 * with the AsyncLocalStorage context manager and the W3C propagator, batching spans to an exporter
 * that discards them (what is measured is the module's and the SDK's work,
 * not a collector's network).
 */
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  AggregationTemporality,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';

const SUCCESS = { code: 0 } as const;

const discardMetrics: PushMetricExporter = {
  export: (_metrics, done) => done(SUCCESS),
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
  selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
};

const discardSpans: SpanExporter = {
  export: (_spans, done) => done(SUCCESS),
  shutdown: async () => undefined,
};

export interface BenchTelemetry {
  shutdown(): Promise<void>;
}

/** `metrics`: a MeterProvider only; `traces`: a TracerProvider too. */
export function registerBenchTelemetry(what: 'metrics' | 'traces'): BenchTelemetry {
  const meterProvider = new MeterProvider({
    readers: [
      new PeriodicExportingMetricReader({ exporter: discardMetrics, exportIntervalMillis: 1000 }),
    ],
  });
  metrics.setGlobalMeterProvider(meterProvider);
  if (what === 'metrics') return { shutdown: () => meterProvider.shutdown() };
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(discardSpans)],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(tracerProvider);
  return {
    shutdown: async () => {
      await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]);
    },
  };
}
