import { Fifo } from '../../shared/fifo.js';

interface Waiting {
  settled: boolean;
  error?: Error;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * Publisher confirms as promises that settle in publish order, as the transport contract asks:
 * RabbitMQ may nack one message before acking an earlier one, and amqplib calls back as the
 * frames come. A message settles once it and every message before it have their answer.
 */
export class ConfirmsInOrder {
  private readonly waiting = new Fifo<Waiting>();
  private idleWaiters: Array<() => void> = [];

  get size(): number {
    return this.waiting.length;
  }

  /** A promise for the next message published, and the callback its confirm calls. */
  add(): { promise: Promise<void>; settle: (error?: Error) => void } {
    let entry!: Waiting;
    const promise = new Promise<void>((resolve, reject) => {
      entry = { settled: false, resolve, reject };
    });
    this.waiting.push(entry);
    const settle = (error?: Error) => {
      if (entry.settled) return;
      entry.settled = true;
      entry.error = error;
      this.release();
    };
    return { promise, settle };
  }

  /** Resolves once every message added so far has settled. */
  idle(): Promise<void> {
    if (this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private release(): void {
    for (let head = this.waiting.peek(); head?.settled; head = this.waiting.peek()) {
      this.waiting.shift();
      if (head.error) head.reject(head.error);
      else head.resolve();
    }
    if (this.waiting.length === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
