import { asError } from '../../shared/errors.js';
import { Fifo } from '../../shared/fifo.js';

interface Slot {
  settled: boolean;
  error?: Error;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * Publish results handed back in call order, as the core requires, whatever order the broker
 * answers in (each JetStream publish is a request with a timer of its own).
 */
export class InOrder {
  private readonly slots = new Fifo<Slot>();
  private emptied?: () => void;

  /** A promise for `result` that settles only after every earlier one. */
  add(result: Promise<unknown>): Promise<void> {
    let slot!: Slot;
    const promise = new Promise<void>((resolve, reject) => {
      slot = { settled: false, resolve, reject };
    });
    this.slots.push(slot);
    result.then(
      () => this.settle(slot),
      (error: unknown) => this.settle(slot, asError(error)),
    );
    return promise;
  }

  /** Everything not answered yet fails now (the link dropped: the core sends it again). */
  failAll(error: Error): void {
    for (const slot of this.slots.drain()) {
      if (!slot.settled) Object.assign(slot, { settled: true, error });
      this.slots.push(slot);
    }
    this.flush();
  }

  /** Resolves once every publish so far has settled. */
  idle(): Promise<void> {
    if (this.slots.length === 0) return Promise.resolve();
    return new Promise((resolve) => (this.emptied = resolve));
  }

  private settle(slot: Slot, error?: Error): void {
    if (slot.settled) return;
    slot.settled = true;
    slot.error = error;
    this.flush();
  }

  private flush(): void {
    for (let head = this.slots.peek(); head?.settled; head = this.slots.peek()) {
      this.slots.shift();
      if (head.error) head.reject(head.error);
      else head.resolve();
    }
    if (this.slots.length > 0) return;
    this.emptied?.();
    this.emptied = undefined;
  }
}
