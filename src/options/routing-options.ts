import type { ServicePattern, ServiceRoutingRules, SyncDirection } from '../core/routing.js';
import { fail } from './checks.js';

/** The `services` option: which services sync (on both sides). */
export interface ServiceRoutingOptions {
  /** Only these services sync: paths (`'messages'`) or RegExps matched against the path. */
  include?: ServicePattern | readonly ServicePattern[];
  /** These services never sync (checked after `include`). */
  exclude?: ServicePattern | readonly ServicePattern[];
}

const DIRECTIONS: readonly SyncDirection[] = ['both', 'publish', 'subscribe'];

export function resolveDirection(value: unknown): SyncDirection {
  if (value === undefined) return 'both';
  if (typeof value === 'string' && (DIRECTIONS as readonly string[]).includes(value)) {
    return value as SyncDirection;
  }
  return fail(
    'direction',
    "'both' (publish and receive, the default), 'publish' (a worker that only sends) or " +
      "'subscribe' (an instance that only listens)",
    value,
  );
}

/** `undefined` when every service syncs (nothing to check per event). */
export function resolveRouting(value: unknown): ServiceRoutingRules | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('services', 'an object { include?, exclude? }', value);
  }
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).filter((name) => name !== 'include' && name !== 'exclude');
  if (unknown.length > 0) {
    fail(
      `services.${unknown[0]}`,
      'absent (`services` takes `include` and `exclude` only)',
      record[unknown[0]],
    );
  }
  const include = patterns('services.include', record.include);
  const exclude = patterns('services.exclude', record.exclude);
  if (include === undefined && exclude === undefined) return undefined;
  return { include, exclude };
}

function patterns(name: string, value: unknown): ServicePattern[] | undefined {
  if (value === undefined) return undefined;
  const list: unknown[] = Array.isArray(value) ? value : [value];
  for (const item of list) {
    if (!(typeof item === 'string' || item instanceof RegExp)) {
      fail(
        name,
        "a service path or RegExp, or an array of them (e.g. ['messages', /^admin\\//])",
        item,
      );
    }
  }
  return list as ServicePattern[];
}
