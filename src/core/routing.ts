/** A service path (`'messages'`, leading and trailing slashes ignored) or a pattern it must match. */
export type ServicePattern = string | RegExp;

/** Which services sync: every path that matches `include` (all when absent) and not `exclude`. */
export interface ServiceRoutingRules {
  include?: readonly ServicePattern[];
  exclude?: readonly ServicePattern[];
}

/** Which way events travel for this instance. */
export type SyncDirection = 'both' | 'publish' | 'subscribe';

/** Most paths whose verdict is remembered (services are few; the bound only guards odd input). */
const MAX_CACHED = 1024;

/**
 * The `services` filter, applied on both sides: an event of a service it excludes is neither
 * published nor, when it arrives from another instance, emitted. Verdicts are cached per path.
 */
export class ServiceRouting {
  private readonly include?: Matcher[];
  private readonly exclude: Matcher[];
  private readonly verdicts = new Map<string, boolean>();

  constructor(rules: ServiceRoutingRules) {
    this.include = rules.include?.map(matcherOf);
    this.exclude = (rules.exclude ?? []).map(matcherOf);
  }

  /** `path` as Feathers names it (slashes at either end are ignored). */
  allows(path: string): boolean {
    const known = this.verdicts.get(path);
    if (known !== undefined) return known;
    const name = path.replace(/^\/+|\/+$/g, '');
    const verdict =
      (this.include === undefined || this.include.some((match) => match(name))) &&
      !this.exclude.some((match) => match(name));
    if (this.verdicts.size >= MAX_CACHED) this.verdicts.clear();
    this.verdicts.set(path, verdict);
    return verdict;
  }
}

type Matcher = (path: string) => boolean;

function matcherOf(pattern: ServicePattern): Matcher {
  if (typeof pattern === 'string') {
    const wanted = pattern.replace(/^\/+|\/+$/g, '');
    return (path) => path === wanted;
  }
  // A copy without the global/sticky flags: `test` must not carry a position between calls.
  const regexp = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
  return (path) => regexp.test(path);
}
