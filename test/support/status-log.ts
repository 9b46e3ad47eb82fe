import type { LoggerService } from '@nestjs/common';
import type { SyncService, SyncStatus } from '../../src';

/** Every status an instance reports from now on (status$ starts with the current one). */
export function recordStatuses(sync: SyncService): SyncStatus[] {
  const seen: SyncStatus[] = [];
  sync.status$.subscribe((status) => seen.push(status));
  return seen;
}

/** A logger that keeps what it is told, by level. */
export function capturingLogger(): LoggerService & { warnings: string[]; logs: string[] } {
  const warnings: string[] = [];
  const logs: string[] = [];
  return {
    warnings,
    logs,
    log: (message: unknown) => void logs.push(String(message)),
    warn: (message: unknown) => void warnings.push(String(message)),
    error: (message: unknown) => void warnings.push(String(message)),
  };
}
