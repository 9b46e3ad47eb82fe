/**
 * The option of the `otel` variants, `'metrics'` or `'traces'` (metrics and traces): not a module
 * option (createOurs takes it out before forRoot) but the instance registering an OpenTelemetry
 * SDK before the module boots (telemetry-sdk.ts).
 * A file of its own so that systems.ts loads the SDK only when a variant asks for it.
 */
export const BENCH_OTEL_OPTION = 'benchOpenTelemetrySdk';
