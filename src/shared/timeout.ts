const ignore = (): void => undefined;

/**
 * Waits for `promise`, but no longer than `ms`; never rejects. Says which came first, so the caller
 * can force what did not finish (destroy a socket) without a second timer of its own.
 */
export async function within(promise: Promise<unknown>, ms: number): Promise<'done' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), Math.max(0, ms));
  });
  try {
    return await Promise.race([
      promise.then(
        () => 'done' as const,
        () => 'done' as const,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * One deadline shared by every step of a shutdown: each step gets what is left, so the steps
 * together never take longer than the budget they were given.
 */
export class Deadline {
  private readonly end: number;

  constructor(budgetMs: number) {
    this.end = Date.now() + Math.max(0, budgetMs);
  }

  left(): number {
    return Math.max(0, this.end - Date.now());
  }

  /** Waits for `promise` within what is left of the budget; never rejects. */
  within(promise: Promise<unknown>): Promise<'done' | 'timeout'> {
    return within(promise.catch(ignore), this.left());
  }
}
