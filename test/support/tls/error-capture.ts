import type { LoggerService } from '@nestjs/common';
import { inspect } from 'node:util';
import type { Subscription } from 'rxjs';
import type { Instance } from '../instances';

/**
 * Everything a user could see of one scenario: every log line (any level), every error (its
 * message, stack, own properties and `cause` chain, as `util.inspect` prints them with hidden
 * properties), every `status$` value and `stats()` snapshot. `leaks()` says which secret shows
 * up where.
 */
export class Exposure {
  readonly seen: Array<{ where: string; text: string }> = [];
  private readonly subscriptions: Subscription[] = [];
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(readonly scenario: string) {}

  add(where: string, text: string): void {
    this.seen.push({ where, text });
  }

  /** A Nest LoggerService that keeps every line, whatever its level. */
  readonly logger: LoggerService = {
    log: (message: unknown) => this.add('log', String(message)),
    warn: (message: unknown) => this.add('warn', String(message)),
    error: (message: unknown, ...rest: unknown[]) =>
      this.add('error', [message, ...rest].map((part) => String(part)).join(' ')),
    debug: (message: unknown) => this.add('debug', String(message)),
    verbose: (message: unknown) => this.add('verbose', String(message)),
  };

  /** An error, however deep: message, stack, own properties, causes. */
  error(where: string, error: unknown): void {
    this.add(`${where}: inspect`, inspect(error, { depth: 10, showHidden: true }));
    let current: unknown = error;
    for (let depth = 0; current && depth < 10; depth++) {
      const { message, stack, cause } = current as {
        message?: unknown;
        stack?: unknown;
        cause?: unknown;
      };
      this.add(`${where}: message`, String(message));
      this.add(`${where}: stack`, String(stack));
      this.add(`${where}: json`, safeJson(current));
      current = cause;
    }
  }

  /** Follows an instance: its status$ values, and a stats() snapshot every 100 ms. */
  watch(instance: Instance, label: string): void {
    this.subscriptions.push(
      instance.sync.status$.subscribe((status) => this.add(`${label} status$`, String(status))),
    );
    const timer = setInterval(() => this.stats(instance, label), 100);
    this.timers.push(timer);
  }

  stats(instance: Instance, label: string): void {
    this.add(`${label} stats()`, JSON.stringify(instance.sync.stats()));
  }

  stop(): void {
    for (const subscription of this.subscriptions) subscription.unsubscribe();
    for (const timer of this.timers) clearInterval(timer);
  }

  /** Where each secret (or its URL-encoded form) shows up. */
  leaks(secrets: readonly string[]): string[] {
    const forms = [...new Set(secrets.flatMap((secret) => [secret, encodeURIComponent(secret)]))];
    const found: string[] = [];
    for (const { where, text } of this.seen) {
      for (const form of forms) {
        if (text.includes(form))
          found.push(`${this.scenario} → ${where}: "${form}" in ${text.slice(0, 300)}`);
      }
    }
    return found;
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}
