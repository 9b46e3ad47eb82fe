import { FEATHERS_SERVICE_OPTIONS, type FeathersServiceLike } from './feathers.types.js';

export const STANDARD_EVENTS = ['created', 'updated', 'patched', 'removed'] as const;

interface FeathersServiceOptions {
  events?: readonly string[];
  serviceEvents?: readonly string[];
}

/**
 * The events of a service that are synced: the four standard ones, the custom events it declares
 * in `events`, and anything listed in `serviceEvents` (which feathers-sync ignores, although
 * channels publish those events to clients).
 */
export function syncedEventsOf(service: FeathersServiceLike): ReadonlySet<string> {
  const options = (service as unknown as Record<symbol, FeathersServiceOptions | undefined>)[
    FEATHERS_SERVICE_OPTIONS
  ];
  const events = new Set<string>(STANDARD_EVENTS);
  for (const list of [options?.events ?? service.events, options?.serviceEvents]) {
    if (Array.isArray(list))
      for (const name of list) if (typeof name === 'string') events.add(name);
  }
  return events;
}
