const HOOK_CONTEXT_OMIT = new Set(['app', 'service', 'self', 'arguments', 'data']);
const PLAIN_CONTEXT_OMIT = new Set(['app', 'service', 'self']);

interface Jsonable {
  toJSON(): unknown;
}

/** Whether a context is a Feathers HookContext (derivable keys may then be left out in lean mode). */
export function isHookContext(context: unknown): boolean {
  return (
    context !== null &&
    typeof context === 'object' &&
    typeof (context as Partial<Jsonable>).toJSON === 'function'
  );
}

/**
 * What of a context travels. For a HookContext: `toJSON()` (which includes `path`, `method`, `id`,
 * `result`, `params`, `dispatch`, `type`, `event` and custom keys) minus the app, the service and
 * the copies of the input (`data`, `arguments`) that receivers never need. A plain object passed
 * to a custom `emit()` travels as it is, minus app/service/self.
 */
export function contextForWire(
  context: unknown,
  redactParams: ReadonlySet<string>,
  hook = isHookContext(context),
): Record<string, unknown> | undefined {
  if (context === null || typeof context !== 'object') return undefined;
  const source = hook ? (context as Jsonable).toJSON() : context;
  if (source === null || typeof source !== 'object') return undefined;
  const omit = hook ? HOOK_CONTEXT_OMIT : PLAIN_CONTEXT_OMIT;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    if (omit.has(key)) continue;
    const value = (source as Record<string, unknown>)[key];
    if (value === undefined) continue;
    out[key] = key === 'params' ? redact(value, redactParams) : value;
  }
  return out;
}

function redact(params: unknown, keys: ReadonlySet<string>): unknown {
  if (keys.size === 0 || params === null || typeof params !== 'object') return params;
  const record = params as Record<string, unknown>;
  let hit = false;
  for (const key of keys) {
    if (key in record) {
      hit = true;
      break;
    }
  }
  if (!hit) return params;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(record)) if (!keys.has(key)) out[key] = record[key];
  return out;
}
