/**
 * The parts of a Feathers 5 application and service the core touches. Structural, so the package
 * needs no runtime dependency on @feathersjs/feathers and accepts `feathers()` as well as
 * `express(feathers())`.
 */

export type EventListener = (...args: unknown[]) => void;

export interface FeathersServiceLike {
  emit: (event: string | symbol, ...args: unknown[]) => boolean;
  on: (event: string | symbol, listener: EventListener) => unknown;
  events?: readonly string[];
}

/** Typed loosely (`never` params) so a real Feathers `Application` is assignable to it. */
export type FeathersMixin = (...args: never[]) => unknown;

export interface FeathersAppLike {
  services: Record<string, FeathersServiceLike>;
  mixins: FeathersMixin[];
  service(path: string): unknown;
  use(...args: never[]): unknown;
  emit(event: string | symbol, ...args: unknown[]): boolean;
  on(event: string | symbol, listener: EventListener): unknown;
  removeListener(event: string | symbol, listener: EventListener): unknown;
  listenerCount?: (event: string) => number;
  sync?: unknown;
}

/** Feathers 5 keeps normalised service options under this registered symbol. */
export const FEATHERS_SERVICE_OPTIONS = Symbol.for('@feathersjs/service');

export function isFeathersApp(value: unknown): value is FeathersAppLike {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  const app = value as Partial<FeathersAppLike>;
  return (
    typeof app.service === 'function' &&
    typeof app.use === 'function' &&
    typeof app.emit === 'function' &&
    typeof app.on === 'function' &&
    Array.isArray(app.mixins) &&
    typeof app.services === 'object' &&
    app.services !== null
  );
}
