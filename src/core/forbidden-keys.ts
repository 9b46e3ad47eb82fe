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

/**
 * JSON text this short is searched for the forbidden words before its parsed value is walked:
 * cheaper than the walk on small messages. A longer text costs more to search than its keys do to
 * walk (a 10 KB event has few keys), so it is walked straight away.
 */
const PRESCAN_UP_TO = 2048;

/**
 * Whether the text of a JSON document could hold a forbidden key: one of the words, or a `\u`
 * escape, which could spell one (`"\u005f_proto__"`); JSON has no other escape that makes a
 * letter or `_`. The pre-scan of secure-json-parse, for our three words.
 */
export function mayHoldForbiddenKey(text: string): boolean {
  return (
    text.includes('\\u') ||
    text.includes('__proto__') ||
    text.includes('constructor') ||
    text.includes('prototype')
  );
}

/**
 * The check of a `JSON.parse` result and the text it was parsed from. A short text without any of
 * the words is not walked, so the walk's depth bound applies to longer messages only (a short one
 * nests at most ~1000 deep, which JSON.parse itself handled).
 */
export function hasForbiddenKeyInJson(text: string, value: unknown): boolean {
  if (text.length <= PRESCAN_UP_TO && !mayHoldForbiddenKey(text)) return false;
  return hasForbiddenKey(value);
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
