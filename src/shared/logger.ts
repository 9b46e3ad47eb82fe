import { Logger, type LoggerService } from '@nestjs/common';

/** The subset of Nest's LoggerService the module uses. */
export interface SyncLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug?(message: string): void;
}

export const SILENT_LOGGER: SyncLogger = {
  log: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};

/** The `logger` option as the module uses it: a Nest logger by default, silence for `false`. */
export function toSyncLogger(
  logger: LoggerService | false | undefined,
  context: string,
): SyncLogger {
  if (logger === false) return SILENT_LOGGER;
  const target: LoggerService = logger ?? new Logger(context);
  return {
    log: (message) => {
      target.log(message);
    },
    warn: (message) => {
      target.warn(message);
    },
    error: (message) => {
      target.error(message);
    },
    debug: (message) => {
      target.debug?.(message);
    },
  };
}

/** `logger` with every message passed through `scrub` first (credentials out). */
export function scrubbedLogger(logger: SyncLogger, scrub: (text: string) => string): SyncLogger {
  return {
    log: (message) => logger.log(scrub(message)),
    warn: (message) => logger.warn(scrub(message)),
    error: (message) => logger.error(scrub(message)),
    debug: (message) => logger.debug?.(scrub(message)),
  };
}

/**
 * Warnings about bad input or a failing broker can come thousands of times a second: log the
 * first of each kind, then at most one line per interval that says how many were suppressed.
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
