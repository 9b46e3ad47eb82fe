import { errorText } from '../shared/errors.js';
import type { RateLimitedWarnings } from '../shared/logger.js';
import type { Codec } from './codec.js';
import type { DropReason, SyncEnvelope, SyncMarker } from './envelope.types.js';
import type { FeathersAppLike } from './feathers.types.js';
import type { SequenceTracker } from './sequence-tracker.js';
import type { ServiceHook } from './service-hook.js';
import type { SyncCounters } from './sync-stats.js';

export interface ReceiverParts {
  instanceId: string;
  codec: Codec;
  tracker: SequenceTracker;
  hook: ServiceHook;
  counters: SyncCounters;
  warnings: RateLimitedWarnings;
  app: () => FeathersAppLike | undefined;
  /** `signing.maxAgeMs`: signed messages sent longer ago are refused. */
  maxAgeMs?: number;
}

/**
 * The inbound pipeline: bytes from the broker → our own echo? → signature, decoded and checked
 * envelopes → age, duplicates, replays and gaps per origin → the service's local `emit`. Bad input
 * is dropped and counted; nothing here ever throws back into a broker client.
 */
export class Receiver {
  constructor(private readonly parts: ReceiverParts) {}

  receive(raw: string | Uint8Array): void {
    const { counters } = this.parts;
    counters.received++;
    try {
      this.deliver(raw);
    } catch (error) {
      this.drop('listenerError', `a listener threw: ${errorText(error)}`);
    }
  }

  private deliver(raw: string | Uint8Array): void {
    if (typeof raw !== 'string' && !(raw instanceof Uint8Array)) {
      return this.drop('shape', `the transport delivered ${typeof raw}, not bytes`);
    }
    const { codec, counters } = this.parts;
    if (codec.isOwnEcho(raw)) {
      counters.echoes++;
      return;
    }
    const decoded = codec.decode(raw);
    if (!decoded.ok) return this.drop(decoded.reason, decoded.detail);
    for (const item of decoded.items) {
      if (item.ok) this.deliverOne(item.envelope, decoded.trusted);
      else this.drop(item.reason, item.detail);
    }
  }

  /** `trusted`: the stamp can be believed (signed, or signing is off). */
  private deliverOne(envelope: SyncEnvelope, trusted: boolean): void {
    const { counters, tracker, hook, instanceId, maxAgeMs } = this.parts;
    const stamp = trusted ? envelope.sync : undefined;
    if (stamp) {
      const { origin, seq } = stamp;
      if (origin === instanceId) {
        counters.echoes++;
        return;
      }
      if (maxAgeMs !== undefined) {
        const age = Date.now() - (stamp.ts ?? Number.NEGATIVE_INFINITY);
        if (!(age <= maxAgeMs)) {
          return this.drop(
            'expired',
            stamp.ts === undefined
              ? `it has no send time, and signing.maxAgeMs is set (from instance ${origin})`
              : `it was sent ${Math.round(age)} ms ago by instance ${origin}, more than ` +
                  `signing.maxAgeMs (${maxAgeMs} ms): a replay, or a clock far off`,
          );
        }
      }
      const verdict = tracker.accept(origin, seq, stamp.epoch);
      if (verdict === 'duplicate') {
        counters.duplicates++;
        return;
      }
      if (verdict === 'stale') {
        return this.drop(
          'replayed',
          `instance ${origin} has restarted since it sent this (a replay, or two running ` +
            `instances share the instanceId "${origin}")`,
        );
      }
    }
    const app = this.parts.app();
    const path = trimSlashes(envelope.path);
    const target = hook.lookup(path);
    if (!app || !target)
      return this.drop('unknownService', `no service at "${path}" on this instance`);
    if (!target.events.has(envelope.event)) {
      return this.drop(
        'unknownEvent',
        `service "${path}" does not declare the event "${envelope.event}"`,
      );
    }
    const marker: SyncMarker = stamp ? { origin: stamp.origin, seq: stamp.seq } : {};
    const received = envelope.context;
    // The decoded context is ours (a fresh deserializer result, or rebuilt from a lean envelope):
    // completed in place. A copy of a parsed object with keys added after it cost more than the
    // JSON.parse of the whole message; one the deserializer froze is still copied.
    const context: Record<string, unknown> = received
      ? Object.isExtensible(received)
        ? received
        : { ...received }
      : { path, event: envelope.event, result: envelope.data, params: {} };
    context.app = app;
    context.service = target.service;
    context.sync = marker;
    try {
      target.emitLocally.call(target.service, envelope.event, envelope.data, context);
    } catch (error) {
      return this.drop(
        'listenerError',
        `a "${path} ${envelope.event}" listener threw: ${errorText(error)}`,
      );
    }
    counters.emitted++;
  }

  private drop(reason: DropReason, detail: string): void {
    this.parts.counters.dropped[reason]++;
    this.parts.warnings.warn(
      `drop:${reason}`,
      `Dropped a message from the broker (${reason}): ${detail}.`,
    );
  }
}

/** `/todos/` → `todos`, without a regular expression for the usual path that has no slash to trim. */
function trimSlashes(path: string): string {
  const last = path.length - 1;
  if (last < 0 || (path.charCodeAt(0) !== 47 && path.charCodeAt(last) !== 47)) return path;
  return path.replace(/^\/+|\/+$/g, '');
}
