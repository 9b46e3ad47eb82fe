import type { Attributes } from '@opentelemetry/api';
import type { SyncEnvelope, SyncOrigin } from '../core/envelope.types.js';
import type { SyncedService } from '../core/service-hook.js';
import type { SyncStats } from '../core/sync-stats.js';
import { loadOpenTelemetryApi, type OpenTelemetryApi } from './otel-api.js';
import { PACKAGE_VERSION } from './package-version.js';
import {
  ATTR_MESSAGING_CLIENT_ID,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_SYSTEM,
  INSTRUMENTATION_NAME,
  messagingSystem,
} from './semconv.js';
import { SyncMetrics } from './sync-metrics.js';
import { SyncTracing } from './sync-tracing.js';
import type { SyncTelemetry, TelemetryStarter, TelemetryTarget } from './telemetry.types.js';

/**
 * Loads `@opentelemetry/api` when it is installed. Undefined when it is not: the module then has
 * no observer at all.
 */
export async function loadTelemetry(): Promise<TelemetryStarter | undefined> {
  const api = await loadOpenTelemetryApi();
  return api ? (target) => startTelemetry(api, target) : undefined;
}

/**
 * The observer, when an SDK is registered: a MeterProvider (the meter is not the API's no-op
 * meter) and/or a TracerProvider (the API's proxy provider has a delegate). With neither, undefined:
 * nothing is recorded or allocated per event. An SDK registered after the module started is not seen.
 */
export function startTelemetry(
  api: OpenTelemetryApi,
  target: TelemetryTarget,
): SyncTelemetry | undefined {
  const meter = api.metrics.getMeter(INSTRUMENTATION_NAME, PACKAGE_VERSION);
  const provider = api.trace.getTracerProvider();
  const tracer =
    provider instanceof api.ProxyTracerProvider
      ? provider.getDelegateTracer(INSTRUMENTATION_NAME, PACKAGE_VERSION)
      : provider.getTracer(INSTRUMENTATION_NAME, PACKAGE_VERSION);
  const hasMeter = meter !== api.createNoopMeter();
  if (!hasMeter && tracer === undefined) return undefined;
  const base: Attributes = {
    [ATTR_MESSAGING_SYSTEM]: messagingSystem(target.transportType),
    [ATTR_MESSAGING_DESTINATION_NAME]: target.key,
    [ATTR_MESSAGING_CLIENT_ID]: target.instanceId,
  };
  return new OpenTelemetryObserver(
    hasMeter ? new SyncMetrics(meter, base) : undefined,
    tracer ? new SyncTracing(api, tracer, base, target.key) : undefined,
  );
}

class OpenTelemetryObserver implements SyncTelemetry {
  constructor(
    private readonly metrics: SyncMetrics | undefined,
    private readonly tracing: SyncTracing | undefined,
  ) {}

  publishing(stamp: SyncOrigin, path: string, event: string): void {
    stamp.ts ??= Date.now();
    this.tracing?.publishing(stamp, path, event);
  }

  emitRemote(
    envelope: SyncEnvelope,
    path: string,
    target: SyncedService,
    context: Record<string, unknown>,
  ): void {
    if (this.tracing) this.tracing.process(envelope, path, target, context);
    else target.emitLocally.call(target.service, envelope.event, envelope.data, context);
    this.metrics?.emittedRemote(path, envelope.sync?.ts);
  }

  watch(stats: () => SyncStats): void {
    this.metrics?.watch(stats);
  }

  stop(): void {
    this.metrics?.stop();
  }
}
