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
});
