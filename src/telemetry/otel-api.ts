import type * as OtelApi from '@opentelemetry/api';

/** The `@opentelemetry/api` module, as this package uses it. */
export type OpenTelemetryApi = typeof OtelApi;

let loading: Promise<OpenTelemetryApi | undefined> | undefined;

/**
 * `@opentelemetry/api`, an optional peer dependency: loaded once per process, when the module
 * starts. Not installed (or not loadable): undefined, and the module records nothing. A literal
 * `import()` so that bundlers and both module systems see the dependency.
 */
export function loadOpenTelemetryApi(): Promise<OpenTelemetryApi | undefined> {
  return (loading ??= import('@opentelemetry/api').then(
    (mod): OpenTelemetryApi => mod,
    () => undefined,
  ));
}
