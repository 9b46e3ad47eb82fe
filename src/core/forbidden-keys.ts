/**
 * Keys that, once merged into an object by a listener, change prototypes. A message holding one
 * anywhere is refused whole.
 */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const NEEDLES = ['__proto__', 'constructor', 'prototype'];

/** Cheap pre-check on the raw text: most messages hold none of the words and skip the walk. */
export function mayHoldForbiddenKey(raw: string | Uint8Array): boolean {
  if (typeof raw === 'string') return NEEDLES.some((needle) => raw.includes(needle));
  const buffer = Buffer.isBuffer(raw)
    ? raw
    : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  return NEEDLES.some((needle) => buffer.includes(needle));
}

/** Depth-first walk of plain data; returns the path of the first forbidden key, if any. */
export function findForbiddenKey(value: unknown, maxDepth = 200): string | undefined {
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
