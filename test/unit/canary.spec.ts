import { Canary, PeerCanaries } from '../../src/core/canary';
import { sleep, waitFor } from '../support/feathers-app';

/** The canary on its own, with a fake path: what it sends is handed back (or not) by the test. */
function canary(intervalMs = 20, epoch?: number) {
  const sent: number[] = [];
  let changes = 0;
  const subject = new Canary({
    intervalMs,
    instanceId: 'me',
    epoch,
    send: (n) => (sent.push(n), true),
    changed: () => changes++,
  });
  const back = (n: number, extra: Record<string, unknown> = {}) =>
    subject.arrived({ v: 1, origin: 'me', seq: 0, ts: Date.now(), canary: n, epoch, ...extra });
  return { subject, sent, back, changes: () => changes };
}

describe('Canary', () => {
  it('is not stale before one came back (a transport that never echoes never turns stale)', async () => {
    const { subject, sent } = canary();
    subject.transportReady(true);
    await waitFor(() => sent.length >= 5, 'five beats');
    expect(subject.stale).toBe(false);
    subject.stop();
  });

  it('turns stale after 3 missing in a row, and good with the next one back', async () => {
    const { subject, sent, back, changes } = canary();
    subject.transportReady(true);
    await waitFor(() => sent.length >= 1, 'a beat');
    back(sent[0]);
    expect(subject.stats()).toMatchObject({ returned: 1, lastRoundTripMs: expect.any(Number) });
    await waitFor(() => subject.stale, 'stale');
    expect(sent.length - 1).toBeGreaterThanOrEqual(3);
    expect(changes()).toBe(1);
    back(sent[sent.length - 1]);
    expect(subject.stale).toBe(false);
    expect(changes()).toBe(2);
    subject.stop();
  });

  it('ignores canaries of another instance, of an earlier start, read again, or never sent', async () => {
    const { subject, sent, back } = canary(20, 111);
    subject.transportReady(true);
    await waitFor(() => sent.length >= 3, 'three beats');
    back(2, { origin: 'someone-else' });
    back(2, { epoch: 110 });
    back(99);
    expect(subject.stats().returned).toBe(0);
    back(2);
    back(2); // read again from a durable log
    back(1); // older than the last one back
    expect(subject.stats().returned).toBe(1);
    subject.stop();
  });

  it('stops beating while the transport is down, and starts over with nothing missing', async () => {
    const { subject, sent, back } = canary();
    subject.transportReady(true);
    await waitFor(() => sent.length >= 1, 'a beat');
    back(sent[0]);
    subject.transportReady(false);
    const before = sent.length;
    await sleep(100);
    expect(sent.length).toBe(before);
    subject.transportReady(true);
    // Canaries lost with the connection do not count: not stale right away.
    await waitFor(() => sent.length >= before + 1, 'a beat after the reconnect');
    expect(subject.stale).toBe(false);
    subject.stop();
  });
});

describe('PeerCanaries', () => {
  it('counts the canaries of each sender that never arrived, starting over on a restart', () => {
    const peers = new PeerCanaries();
    expect(peers.seen('a', undefined, 4)).toBe(0); // the first one heard
    expect(peers.seen('a', undefined, 5)).toBe(0);
    expect(peers.seen('a', undefined, 9)).toBe(3);
    expect(peers.seen('a', undefined, 7)).toBe(0); // read again
    expect(peers.seen('b', 10, 2)).toBe(0);
    expect(peers.seen('b', 11, 1)).toBe(0); // restarted: numbers begin again
    expect(peers.seen('b', 10, 8)).toBe(0); // the earlier start's
    expect(peers.seen('b', 11, 3)).toBe(1);
  });
});
