import { Outbox, UNBATCHED_FROM, type OutboxOptions, type OutboxSend } from '../../src/core/outbox';
import { createCounters } from '../../src/core/sync-stats';
import { RateLimitedWarnings, type SyncLogger } from '../../src/shared/logger';

/** A hand-settled broker call: the outbox's view of a transport whose replies we control. */
interface Call {
  payload: string | Uint8Array;
  resolve(): void;
  reject(error: Error): void;
}

function setup(options: Partial<OutboxOptions> = {}, send?: OutboxSend) {
  const calls: Call[] = [];
  const warnings: string[] = [];
  const formed: Array<string | Uint8Array> = [];
  const logger: SyncLogger = {
    log: () => undefined,
    warn: (m) => warnings.push(m),
    error: () => undefined,
  };
  const counters = createCounters();
  const outbox = new Outbox(
    send ??
      ((payload) =>
        new Promise<void>((resolve, reject) => calls.push({ payload, resolve, reject }))),
    {
      maxPending: 100,
      maxPendingBytes: 1024 * 1024,
      maxFrameBytes: 64 * 1024,
      formed: (payload) => formed.push(payload),
      type: 'test',
      retryRefused: false,
      ...options,
    },
    counters,
    new RateLimitedWarnings(logger),
  );
  return { outbox, calls, warnings, counters, formed };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Outbox', () => {
  it('keeps what comes while the transport is down, drops the oldest past maxPending, sends the rest in order', async () => {
    const { outbox, calls, counters, warnings } = setup({ maxPending: 3 });
    for (const n of [1, 2, 3, 4, 5]) outbox.push(`m${n}`);
    expect(outbox.pending).toBe(3);
    expect(counters.publishFailed).toBe(2);
    expect(warnings).toHaveLength(1); // rate-limited: one line for both
    expect(warnings[0]).toMatch(/maxPending/);
    outbox.setReady(true);
    expect(calls.map((c) => c.payload)).toEqual(['m3', 'm4', 'm5']);
    calls.forEach((call) => call.resolve());
    await tick();
    expect(counters.published).toBe(3);
    expect(outbox.pending).toBe(0);
  });

  it('bounds the bytes kept as well', () => {
    const { outbox, counters } = setup({ maxPendingBytes: 250 });
    for (let n = 0; n < 10; n++) outbox.push('x'.repeat(100));
    expect(outbox.pending).toBe(2);
    expect(counters.publishFailed).toBe(8);
  });

  it('counts messages in flight against the bound, and hands over no more than its window', async () => {
    const { outbox, calls, counters } = setup({ maxPending: 10_000 });
    outbox.setReady(true);
    for (let n = 0; n < 6000; n++) outbox.push(`m${n}`);
    // The transport never answered: 4,096 in flight, the rest waits.
    expect(calls).toHaveLength(4096);
    expect(outbox.pending).toBe(6000);
    calls.slice(0, 100).forEach((call) => call.resolve());
    await tick();
    expect(counters.published).toBe(100);
    expect(calls).toHaveLength(4196);
    expect(calls.at(-1)?.payload).toBe('m4195');
  });

  it('sends again, first and in order, what a dropped connection lost; counts a refusal while up as lost', async () => {
    const { outbox, calls, counters } = setup();
    outbox.setReady(true);
    for (const n of [1, 2, 3]) outbox.push(`m${n}`);
    calls[0].resolve();
    await tick();
    outbox.setReady(false); // the transport reported a drop…
    calls[1].reject(new Error('connection closed'));
    calls[2].reject(new Error('connection closed'));
    outbox.push('m4'); // …while the app keeps emitting
    await tick();
    expect(counters.published).toBe(1);
    expect(counters.publishFailed).toBe(0);
    expect(outbox.pending).toBe(3);
    outbox.setReady(true);
    expect(calls.slice(3).map((c) => c.payload)).toEqual(['m2', 'm3', 'm4']);
    calls[3].reject(new Error('NOPERM')); // refused while up: not sent again
    calls[4].resolve();
    calls[5].resolve();
    await tick();
    expect(counters.published).toBe(3);
    expect(counters.publishFailed).toBe(1);
    expect(calls).toHaveLength(6);
  });

  it('recoverable delivery: tries a refused message again after a pause, a few times, then counts it lost', async () => {
    jest.useFakeTimers();
    try {
      const { outbox, calls, counters } = setup({ retryRefused: true });
      outbox.setReady(true);
      outbox.push('m1');
      outbox.push('m2');
      calls[0].reject(new Error('publish timeout'));
      await Promise.resolve();
      await Promise.resolve();
      // Paused: m1 waits to go again first; m2 is still in flight.
      expect(counters.publishFailed).toBe(0);
      calls[1].resolve();
      await jest.advanceTimersByTimeAsync(500);
      expect(calls.map((c) => c.payload)).toEqual(['m1', 'm2', 'm1']);
      for (let attempt = 3; attempt < 7; attempt++) {
        calls[attempt - 1].reject(new Error('publish timeout'));
        await jest.advanceTimersByTimeAsync(500);
      }
      // Refused 5 times while the broker was up: lost now, and nothing more is sent.
      calls.at(-1)!.reject(new Error('publish timeout'));
      await jest.advanceTimersByTimeAsync(1000);
      expect(calls).toHaveLength(7);
      expect(counters.publishFailed).toBe(1);
      expect(counters.published).toBe(1);
    } finally {
      jest.useRealTimers();
    }
  });

  it('counts a message handed over synchronously as published at once', () => {
    const sent: Array<string | Uint8Array> = [];
    const { outbox, counters } = setup({}, (payload) => {
      sent.push(payload);
    });
    outbox.setReady(true);
    outbox.push('a');
    outbox.push(Buffer.from('b'));
    expect(sent).toEqual(['a', Buffer.from('b')]);
    expect(counters.published).toBe(2);
    expect(outbox.pending).toBe(0);
  });

  it('joins the messages of one turn into one frame when it can, and flushes at the end of the turn', async () => {
    const { outbox, calls, formed } = setup({ frame: (parts) => `[${parts.join(',')}]` });
    outbox.setReady(true);
    outbox.push('1');
    outbox.push('2');
    outbox.push('3');
    expect(calls).toHaveLength(0);
    expect(outbox.pending).toBe(3);
    await tick();
    expect(calls.map((c) => c.payload)).toEqual(['[1,2,3]']);
    expect(formed).toEqual(['[1,2,3]']);
    // A binary payload cannot be framed: the batch before it leaves first, in order.
    outbox.push('4');
    outbox.push(Buffer.from('5'));
    expect(calls.map((c) => String(c.payload))).toEqual(['[1,2,3]', '[4]', '5']);
  });

  it('sends a large lean event alone (through the frame of one), after the batch before it', async () => {
    const framed: string[][] = [];
    const { outbox, calls } = setup({
      frame: (parts) => {
        framed.push([...parts]);
        return parts.length === 1 ? parts[0] : `[${parts.join(',')}]`;
      },
    });
    outbox.setReady(true);
    const large = 'L'.repeat(UNBATCHED_FROM);
    const justBelow = 'b'.repeat(UNBATCHED_FROM - 1);
    outbox.push('1');
    outbox.push('2');
    outbox.push(large);
    outbox.push('3');
    outbox.push(justBelow);
    await tick();
    expect(calls.map((c) => c.payload)).toEqual(['[1,2]', large, `[3,${justBelow}]`]);
    // The large one went through the frame too (which signs when signing is on), on its own.
    expect(framed).toEqual([['1', '2'], [large], ['3', justBelow]]);
    expect(outbox.pending).toBe(5);
  });

  it('settles every message a transport acknowledged with one shared promise (a turn), in order', async () => {
    const turns: Array<{ resolve(): void; reject(error: Error): void }> = [];
    const sent: string[] = [];
    let shared: Promise<void> | undefined;
    const { outbox, counters } = setup({}, (payload) => {
      sent.push(String(payload));
      if (!shared) {
        shared = new Promise<void>((resolve, reject) => turns.push({ resolve, reject }));
        queueMicrotask(() => (shared = undefined));
      }
      return shared;
    });
    outbox.setReady(true);
    for (const n of ['1', '2', '3']) outbox.push(n);
    await tick();
    for (const n of ['4', '5']) outbox.push(n);
    expect(turns).toHaveLength(2);
    expect(outbox.pending).toBe(5);
    turns[0].resolve();
    await tick();
    expect(counters.published).toBe(3);
    expect(outbox.pending).toBe(2);
    // The second turn is lost with the connection: both go again, in order, once it is back.
    outbox.setReady(false);
    turns[1].reject(new Error('connection lost'));
    await tick();
    expect(outbox.pending).toBe(2);
    outbox.setReady(true);
    expect(sent.slice(5)).toEqual(['4', '5']);
    turns[2].resolve();
    await tick();
    expect(counters.published).toBe(5);
    expect(outbox.pending).toBe(0);
  });

  it('abandons what never made it and says how many events that was', () => {
    const { outbox } = setup();
    outbox.setReady(true);
    outbox.push('sent, never answered');
    outbox.setReady(false);
    outbox.push('waiting');
    expect(outbox.abandon()).toBe(2);
    expect(outbox.pending).toBe(0);
  });
});
