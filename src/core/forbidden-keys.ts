/**
 * Keys that, once merged into an object by a listener, change prototypes. A message holding one
 * anywhere is refused whole.
 */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DEPTH = 200;

/**
 * Fast check of a `JSON.parse` result (no cycles, no Maps): its cost follows the number of keys,
 * not bytes. It reads the parsed keys, so escapes such as `"\u005f_proto__"` cannot hide one.
 */
export function hasForbiddenKey(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (depth > MAX_DEPTH) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (hasForbiddenKey(item, depth + 1)) return true;
    return false;
  }
  for (const key in value) {
    if (FORBIDDEN.has(key)) return true;
    if (hasForbiddenKey((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

/** Depth-first walk of plain data; returns the path of the first forbidden key, if any. */
export function findForbiddenKey(value: unknown, maxDepth = MAX_DEPTH): string | undefined {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [
    { value, path: '', depth: 0 },
  ];
  const seen = new Set<object>();
  while (stack.length > 0) {
    const item = stack.pop()!;
    const current = item.value;
    if (current === null || typeof current !== 'object') continue;
    if (seen.has(current)) continue;
    seen.add(current);
    if (item.depth > maxDepth) return `${item.path} (nested deeper than ${maxDepth})`;
    if (Array.isArray(current)) {
      current.forEach((entry, index) =>
        stack.push({ value: entry, path: `${item.path}[${index}]`, depth: item.depth + 1 }),
      );
      continue;
    }
    if (current instanceof Map) {
      for (const [key, entry] of current) {
        if (typeof key === 'string' && FORBIDDEN.has(key)) return `${item.path}.${key}`;
        stack.push({ value: entry, path: `${item.path}.${String(key)}`, depth: item.depth + 1 });
      }
      continue;
    }
    for (const key of Object.keys(current)) {
      if (FORBIDDEN.has(key)) return `${item.path}.${key}`;
      stack.push({
        value: (current as Record<string, unknown>)[key],
        path: `${item.path}.${key}`,
        depth: item.depth + 1,
      });
    }
  }
  return undefined;
}
