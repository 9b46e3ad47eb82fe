import type { SyncEnvelope, SyncOrigin } from './envelope.types.js';
import type { SyncedService } from './service-hook.js';

/**
 * What an observer of the sync path (OpenTelemetry, see src/telemetry/) is told. The engine holds
 * none unless an SDK is registered: each hook in the core is then a single `undefined` check, and
 * nothing is allocated per event.
 */
export interface SyncObserver {
  /** An event is being published: may add a send time and a trace context to its stamp. */
  publishing(stamp: SyncOrigin, path: string, event: string): void;
  /**
   * A remote event is to be emitted on this instance: the observer emits it (the service's own
   * `emit`, as the receiver would) and throws what that throws.
   */
  emitRemote(
    envelope: SyncEnvelope,
    path: string,
    target: SyncedService,
    context: Record<string, unknown>,
  ): void;
}
