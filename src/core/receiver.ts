import { errorText } from '../shared/errors.js';
import type { RateLimitedWarnings } from '../shared/logger.js';
import type { Codec } from './codec.js';
import type { DropReason, SyncEnvelope, SyncMarker, SyncOrigin } from './envelope.types.js';
import type { FeathersAppLike } from './feathers.types.js';
import type { ServiceRouting } from './routing.js';
import type { SequenceTracker } from './sequence-tracker.js';
import type { ServiceHook } from './service-hook.js';
import type { SyncObserver } from './sync-observer.js';
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
  /** Runs each remote emit (OpenTelemetry: in a consumer span); absent: nothing. */
  observer?: SyncObserver;
  /** The `services` filter: events of services it leaves out are not emitted. */
  routing?: ServiceRouting;
  /** A trusted canary arrived (this instance's own or another's; see Canary). */
  canary?: (stamp: SyncOrigin & { canary: number }) => void;
}

/**
 * The inbound pipeline: bytes from the broker → our own echo? → signature, decoded and checked
 * envelopes → age, duplicates, replays and gaps per origin → the service's local `emit`. Bad input
 * is dropped and counted; nothing here ever throws back into a broker client.
 */
export class Receiver {
  constructor(private readonly parts: ReceiverParts) {}

  receive(raw: string | Uint8Array): void {
    let canary = false;
    try {
      canary = this.deliver(raw);
    } catch (error) {
      this.drop('listenerError', `a listener threw: ${errorText(error)}`);
    }
    // A canary is no event: it has its own counters.
    if (!canary) this.parts.counters.received++;
  }

  /** True when `raw` was a canary. */
  private deliver(raw: string | Uint8Array): boolean {
    if (typeof raw !== 'string' && !(raw instanceof Uint8Array)) {
      this.drop('shape', `the transport delivered ${typeof raw}, not bytes`);
      return false;
    }
    const { codec, counters } = this.parts;
    if (codec.isOwnEcho(raw)) {
      counters.echoes++;
      return false;
    }
    const decoded = codec.decode(raw);
    if (!decoded.ok) {
      this.drop(decoded.reason, decoded.detail);
      return false;
    }
    const { items, trusted } = decoded;
    const canary = items.length === 1 && items[0].ok ? items[0].envelope.sync : undefined;
    if (canary?.canary !== undefined) {
      // Never emitted, whoever sent it; only a trusted one of our own proves anything.
      if (trusted) this.parts.canary?.(canary as SyncOrigin & { canary: number });
      return true;
    }
    for (const item of items) {
      if (item.ok) this.deliverOne(item.envelope, trusted);
      else this.drop(item.reason, item.detail);
    }
    return false;
  }

  /** `trusted`: the stamp can be believed (signed, or signing is off). */
  private deliverOne(envelope: SyncEnvelope, trusted: boolean): void {
    const { counters, tracker, hook, instanceId, maxAgeMs } = this.parts;
    if (envelope.sync?.canary !== undefined) return; // inside a batch: never an event either
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
    const path = trimSlashes(envelope.path);
    // After the sequence check: what is filtered out still counts as heard from its sender.
    if (this.parts.routing && !this.parts.routing.allows(path)) {
      counters.filtered++;
      return;
    }
    const app = this.parts.app();
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
    const { observer } = this.parts;
    try {
      if (observer === undefined) {
        target.emitLocally.call(target.service, envelope.event, envelope.data, context);
      } else {
        observer.emitRemote(envelope, path, target, context);
      }
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
