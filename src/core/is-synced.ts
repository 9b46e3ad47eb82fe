import type { SyncMarker } from './envelope.types.js';

/**
 * True when a listener receives an event that another instance emitted (it came through the
 * broker); false for events of this instance. Received contexts carry `context.sync`.
 */
export function isSyncedEvent(context: unknown): context is { sync: SyncMarker } {
  if (context === null || typeof context !== 'object') return false;
  const marker = (context as { sync?: unknown }).sync;
  return marker !== null && typeof marker === 'object';
}
