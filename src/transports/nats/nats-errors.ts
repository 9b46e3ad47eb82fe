/**
 * The NATS errors the transports act on, recognised in both clients' shapes: the 2.x client sets
 * string `code`s (`'503'`, `'PERMISSIONS_VIOLATION'`) and an `api_error`; the 3.x packages throw
 * typed errors (`NoResponders`, `JetStreamNotEnabled`, `PermissionViolationError`,
 * `JetStreamApiError` with `apiError()`), sometimes as the `cause` of another.
 */

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  cause?: unknown;
  api_error?: { err_code?: number };
  apiError?: () => { err_code?: number };
}

/** The error and its causes, innermost last (a short chain; bounded against cycles). */
function chain(error: unknown): ErrorShape[] {
  const found: ErrorShape[] = [];
  let current = error;
  while (current !== null && typeof current === 'object' && found.length < 5) {
    found.push(current);
    current = (current as ErrorShape).cause;
  }
  return found;
}

/** The JetStream API error code (`err_code`, e.g. 10059 stream not found), if the server sent one. */
export function apiCodeOf(error: unknown): number | undefined {
  for (const shape of chain(error)) {
    if (shape.api_error?.err_code !== undefined) return shape.api_error.err_code;
    if (typeof shape.apiError === 'function') return shape.apiError().err_code;
  }
  return undefined;
}

/**
 * Nobody answered a request: for a JetStream API call, no JetStream (or JetStream disabled for the
 * account: 3.x reports both as JetStreamNotEnabled); for a JetStream publish, no stream takes the subject.
 */
export function isNoResponders(error: unknown): boolean {
  return chain(error).some(
    (shape) =>
      (shape.code === '503' && shape.api_error === undefined) ||
      shape.name === 'NoResponders' ||
      shape.name === 'JetStreamNotEnabled',
  );
}

/** The server refused a publish or subscription to the connection's user. */
export function isPermissionViolation(error: unknown): boolean {
  return chain(error).some(
    (shape) => shape.code === 'PERMISSIONS_VIOLATION' || shape.name === 'PermissionViolationError',
  );
}
