import type { Attributes, Link, TextMapGetter, Tracer } from '@opentelemetry/api';
import type { SyncEnvelope, SyncOrigin } from '../core/envelope.types.js';
import type { SyncedService } from '../core/service-hook.js';
import type { OpenTelemetryApi } from './otel-api.js';
import {
  ATTR_EVENT,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_SERVICE_PATH,
} from './semconv.js';

/** Reads a trace carrier that came from the broker: string values only, anything else is ignored. */
const carrierGetter: TextMapGetter<unknown> = {
  keys: (carrier) => (carrier !== null && typeof carrier === 'object' ? Object.keys(carrier) : []),
  get: (carrier, key) => {
    if (carrier === null || typeof carrier !== 'object') return undefined;
    const value = (carrier as Record<string, unknown>)[key];
    return typeof value === 'string' ? value : undefined;
  },
};

/**
 * The span model: on the origin, a PRODUCER span `create <key>` (a child of the span active when
 * the service emitted) whose context travels in the envelope's stamp; on each receiving instance,
 * a CONSUMER span `process <key>` around the remote emit, linked to that producer span (the
 * messaging conventions recommend a link rather than a parent).
 */
export class SyncTracing {
  private readonly createName: string;
  private readonly processName: string;
  /** Span attributes per operation, service path and event, made once (paths and events are few). */
  private readonly attributes = {
    create: new Map<string, Map<string, Attributes>>(),
    process: new Map<string, Map<string, Attributes>>(),
  };

  constructor(
    private readonly api: OpenTelemetryApi,
    private readonly tracer: Tracer,
    private readonly base: Attributes,
    key: string,
  ) {
    this.createName = `create ${key}`;
    this.processName = `process ${key}`;
  }

  /** Starts and ends the producer span; its context goes in `stamp.tc` (W3C traceparent). */
  publishing(stamp: SyncOrigin, path: string, event: string): void {
    const { api } = this;
    const active = api.context.active();
    const span = this.tracer.startSpan(
      this.createName,
      { kind: api.SpanKind.PRODUCER, attributes: this.attributesOf('create', path, event) },
      active,
    );
    span.setAttribute(ATTR_MESSAGING_MESSAGE_ID, `${stamp.origin}:${stamp.seq}`);
    const carrier: Record<string, string> = {};
    api.propagation.inject(api.trace.setSpan(active, span), carrier);
    span.end();
    for (const _key in carrier) {
      stamp.tc = carrier;
      return;
    }
  }

  /** Runs `emit` inside the consumer span, linked to the producer's span context when it came. */
  process(envelope: SyncEnvelope, path: string, target: SyncedService, context: object): void {
    const { api } = this;
    const stamp = envelope.sync;
    let links: Link[] | undefined;
    if (stamp?.tc !== undefined) {
      const remote = api.trace.getSpanContext(
        api.propagation.extract(api.ROOT_CONTEXT, stamp.tc, carrierGetter),
      );
      if (remote !== undefined && api.isSpanContextValid(remote)) links = [{ context: remote }];
    }
    // A root span: the broker client's callback may run in whatever context it was created in.
    const span = this.tracer.startSpan(
      this.processName,
      {
        kind: api.SpanKind.CONSUMER,
        links,
        attributes: this.attributesOf('process', path, envelope.event),
        root: true,
      },
      api.ROOT_CONTEXT,
    );
    if (stamp) span.setAttribute(ATTR_MESSAGING_MESSAGE_ID, `${stamp.origin}:${stamp.seq}`);
    try {
      api.context.with(api.trace.setSpan(api.ROOT_CONTEXT, span), () =>
        target.emitLocally.call(target.service, envelope.event, envelope.data, context),
      );
    } catch (error) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: api.SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  }

  private attributesOf(operation: 'create' | 'process', path: string, event: string): Attributes {
    const byPath = this.attributes[operation];
    let byEvent = byPath.get(path);
    if (byEvent === undefined) byPath.set(path, (byEvent = new Map<string, Attributes>()));
    let attributes = byEvent.get(event);
    if (attributes === undefined) {
      attributes = {
        ...this.base,
        [ATTR_MESSAGING_OPERATION_TYPE]: operation,
        [ATTR_MESSAGING_OPERATION_NAME]: operation,
        [ATTR_SERVICE_PATH]: path,
        [ATTR_EVENT]: event,
      };
      byEvent.set(event, attributes);
    }
    return attributes;
  }
}
