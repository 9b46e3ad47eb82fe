import { SYNC } from '../feathers-sync.constants.js';
import {
  FEATHERS_SERVICE_OPTIONS,
  type FeathersAppLike,
  type FeathersServiceLike,
} from './feathers.types.js';

export const STANDARD_EVENTS = ['created', 'updated', 'patched', 'removed'] as const;

/** Called for every event a service emits that is to be synced. */
export type SyncedEventListener = (
  path: string,
  event: string,
  data: unknown,
  context: unknown,
) => void;

/** What is known of a service, to emit a received event on it. */
export interface SyncedService {
  service: FeathersServiceLike;
  path: string;
  /** The events it syncs. */
  events: ReadonlySet<string>;
  /** Emits without publishing (the original `emit`). */
  emitLocally: FeathersServiceLike['emit'];
}

const PATCHED = Symbol.for('nestjs-feathers-sync/patched');
/** The symbol feathers-sync 3.x uses for the same purpose; hooks written for it keep working. */
const FEATHERS_SYNC_SYMBOL_DESCRIPTION = 'feathers-sync/enabled';

type PatchableService = FeathersServiceLike & { [PATCHED]?: SyncedService };

/**
 * Patches `emit` on every service of a Feathers app, those registered already and those registered
 * later (a mixin), so that the events a service syncs are handed to a listener before they are
 * emitted locally. `context[SYNC] = false` keeps an event local.
 */
export class ServiceHook {
  private app?: FeathersAppLike;
  private listener: SyncedEventListener = () => undefined;
  private readonly mixin = (service: FeathersServiceLike, path: string) =>
    this.patch(service, path);

  attach(app: FeathersAppLike, listener: SyncedEventListener): void {
    this.app = app;
    this.listener = listener;
    for (const [path, service] of Object.entries(app.services)) this.patch(service, path);
    app.mixins.push(this.mixin);
  }

  /** Services stay patched but emit locally only from now on; later services are not patched. */
  detach(): void {
    this.listener = () => undefined;
    const mixins = this.app?.mixins;
    const index = mixins ? mixins.indexOf(this.mixin) : -1;
    if (mixins && index >= 0) mixins.splice(index, 1);
  }

  /** The service at `path` on the attached app, if any. */
  lookup(path: string): SyncedService | undefined {
    const app = this.app;
    if (!app || !Object.prototype.hasOwnProperty.call(app.services, path)) return undefined;
    const service = app.services[path] as PatchableService;
    return (
      service[PATCHED] ?? {
        service,
        path,
        events: syncedEventsOf(service),
        emitLocally: service.emit,
      }
    );
  }

  private patch(service: FeathersServiceLike, path: string): void {
    const target = service as PatchableService;
    // An alias (the same service object under a second path) is patched once, under its first path.
    if (Object.prototype.hasOwnProperty.call(target, PATCHED) || typeof target.emit !== 'function')
      return;
    const record: SyncedService = {
      service,
      path,
      events: syncedEventsOf(service),
      emitLocally: target.emit,
    };
    Object.defineProperty(target, PATCHED, {
      value: record,
      enumerable: false,
      configurable: true,
    });
    const sync = (event: string, data: unknown, context: unknown) =>
      this.listener(record.path, event, data, context);
    target.emit = function syncedEmit(
      this: FeathersServiceLike,
      event: string | symbol,
      ...args: unknown[]
    ) {
      if (typeof event === 'string' && record.events.has(event) && !isLocalOnly(args[1])) {
        sync(event, args[0], args[1]);
      }
      return record.emitLocally.call(this, event, ...args);
    };
  }
}

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

/** `context[SYNC] === false` (ours, or the symbol feathers-sync 3.x exports) keeps an event local. */
function isLocalOnly(context: unknown): boolean {
  if (context === null || typeof context !== 'object') return false;
  const record = context as Record<symbol, unknown>;
  if (record[SYNC] === false) return true;
  for (const symbol of Object.getOwnPropertySymbols(context)) {
    if (symbol.description === FEATHERS_SYNC_SYMBOL_DESCRIPTION && record[symbol] === false)
      return true;
  }
  return false;
}
