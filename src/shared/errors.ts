/** Node's own errors may come from another realm (jest's sandbox): `instanceof` is not enough. */
export function asError(error: unknown): Error {
  if (error instanceof Error) return error;
  if (error !== null && typeof error === 'object' && typeof (error as Error).message === 'string') {
    return error as Error;
  }
  return new Error(String(error));
}

/** The message of anything thrown, for a log line. */
export function errorText(error: unknown): string {
  return asError(error).message;
}
