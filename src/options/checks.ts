import { FeathersSyncConfigError } from '../errors/sync.errors.js';
import { messages } from '../errors/sync.messages.js';

/** Checks shared by every option: each failure names the option, what it must be, and what it got. */

export function fail(name: string, expected: string, value: unknown): never {
  throw new FeathersSyncConfigError(messages.invalidOption(name, expected, value));
}

/** A number of milliseconds or a count: finite, > 0 (or ≥ 0 with `allowZero`), integer if asked. */
export function numberOption(
  name: string,
  value: unknown,
  fallback: number,
  { allowZero = false, integer = false }: { allowZero?: boolean; integer?: boolean } = {},
): number {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (allowZero ? value >= 0 : value > 0) &&
    (!integer || Number.isSafeInteger(value));
  if (!ok) {
    const bound = allowZero ? '≥ 0' : '> 0';
    fail(name, integer ? `an integer ${bound}` : `a number ${bound}`, value);
  }
  return value;
}

/** An optional plain object (`undefined` gives `{}`). */
export function objectOption(name: string, value: unknown, what: string): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(name, what, value);
  return value as Record<string, unknown>;
}
