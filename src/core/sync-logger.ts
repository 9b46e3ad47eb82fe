import type { SyncLogger } from '../transports/sync-transport.js';

/**
 * Warnings about bad input can arrive thousands of times a second; log the first of each kind,
 * then at most one line per interval that says how many were suppressed.
 */
export class RateLimitedWarnings {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: SyncLogger,
    private readonly intervalMs = 10_000,
  ) {}

  warn(kind: string, message: string): void {
    const now = Date.now();
    const entry = this.last.get(kind);
    if (entry && now - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    const suffix = entry?.suppressed ? ` (${entry.suppressed} more like it not logged)` : '';
    this.last.set(kind, { at: now, suppressed: 0 });
    this.logger.warn(message + suffix);
  }
}

export const SILENT_LOGGER: SyncLogger = {
  log: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};
