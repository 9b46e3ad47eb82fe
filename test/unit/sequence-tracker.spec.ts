import { SequenceTracker } from '../../src/core/sequence-tracker';

describe('SequenceTracker', () => {
  it('passes each (origin, seq) once and reports the gaps it sees', () => {
    const missed: Array<[string, number]> = [];
    const tracker = new SequenceTracker((origin, missing) => missed.push([origin, missing]));
    expect(tracker.accept('a', 1)).toBe('new');
    expect(tracker.accept('a', 2)).toBe('new');
    expect(tracker.accept('a', 2)).toBe('duplicate');
    expect(tracker.accept('a', 1)).toBe('duplicate');
    expect(tracker.accept('b', 7)).toBe('new'); // first message of an origin: no gap to see
    expect(tracker.accept('a', 5)).toBe('new');
    expect(tracker.accept('a', 4)).toBe('duplicate'); // arrived after a later one: already counted
    expect(missed).toEqual([['a', 2]]);
  });

  it('remembers a bounded number of origins, forgetting the oldest first', () => {
    const tracker = new SequenceTracker(() => undefined, 3);
    for (const origin of ['a', 'b', 'c', 'd']) tracker.accept(origin, 1);
    expect(tracker.size).toBe(3);
    expect(tracker.accept('a', 1)).toBe('new'); // forgotten
    expect(tracker.accept('d', 1)).toBe('duplicate');
  });

  it('starts a new sequence at a later epoch (a restart) and refuses an earlier one (a replay)', () => {
    const missed: Array<[string, number]> = [];
    const tracker = new SequenceTracker((origin, missing) => missed.push([origin, missing]));
    expect(tracker.accept('fixed', 1, 100)).toBe('new');
    expect(tracker.accept('fixed', 2, 100)).toBe('new');
    // Restarted: seq 1 again, later epoch.
    expect(tracker.accept('fixed', 1, 200)).toBe('new');
    expect(tracker.accept('fixed', 2, 200)).toBe('new');
    expect(tracker.accept('fixed', 2, 200)).toBe('duplicate');
    // The first start's messages, replayed.
    expect(tracker.accept('fixed', 2, 100)).toBe('stale');
    expect(tracker.accept('fixed', 3, 100)).toBe('stale');
    expect(tracker.accept('fixed', 3, 200)).toBe('new');
    expect(missed).toEqual([]);
    // A restart whose first messages never arrived.
    expect(tracker.accept('fixed', 4, 300)).toBe('new');
    expect(missed).toEqual([['fixed', 3]]);
  });
});
