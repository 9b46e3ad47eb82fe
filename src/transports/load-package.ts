import { FeathersSyncMissingPackageError } from '../errors/sync.errors.js';
import { messages } from '../errors/sync.messages.js';

/**
 * Loads an optional broker client only when its scheme is used, so an app on Redis installs
 * ioredis alone. `loader` is a literal `() => import('pkg')` so bundlers and both module systems
 * see the dependency.
 */
export async function loadPackage<T>(
  name: string,
  scheme: string,
  loader: () => Promise<T>,
): Promise<T> {
  try {
    return await loader();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      const missing = String((error as Error).message);
      if (
        missing.includes(`'${name}'`) ||
        missing.includes(`"${name}"`) ||
        missing.includes(name)
      ) {
        throw new FeathersSyncMissingPackageError(messages.missingPackage(name, scheme));
      }
    }
    throw error;
  }
}

/** ES module namespaces of CommonJS packages put the exports under `default`. */
export function interopDefault<T>(mod: T | { default: T }): T {
  const withDefault = mod as { default?: T };
  return withDefault.default !== undefined && withDefault.default !== null
    ? withDefault.default
    : (mod as T);
}
