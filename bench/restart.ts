/** The restart phase's table: first event through after the broker's port reopened. */
import type { RestartResult, Table, TrialResult } from './report.js';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function restartTable(trials: TrialResult[]): Table | undefined {
  const groups = new Map<string, TrialResult[]>();
  for (const trial of trials) {
    if (!trial.restart && !(trial.ok === false && trial.phases.restart === undefined)) continue;
    const key = `${trial.broker}\u0000${trial.system}`;
    groups.set(key, [...(groups.get(key) ?? []), trial]);
  }
  const rows: string[][] = [];
  for (const [key, group] of groups) {
    const [broker, system] = key.split('\u0000');
    // The slowest remote instance of each run; a run where one never heard again counts as none.
    const perRun = group.map((trial) => {
      const times = trial.restart?.firstEventMs ?? [null];
      return times.some((t) => t === null) ? null : Math.max(...(times as number[]));
    });
    const back = perRun.filter((t): t is number => t !== null);
    const failed = group.filter((t) => !t.ok).length;
    const sum = (pick: (r: RestartResult) => number) =>
      group.reduce((total, t) => total + (t.restart ? pick(t.restart) : 0), 0);
    rows.push([
      broker,
      system,
      String(group[0].restart?.downMs ?? '-'),
      back.length ? String(Math.round(median(back))) : 'never',
      perRun.map((t) => (t === null ? 'never' : String(Math.round(t)))).join(', '),
      `${sum((t) => t.lost)}/${sum((t) => t.duplicates)}/${sum((t) => t.outOfOrder)}`,
      failed ? `${failed} failed` : '',
    ]);
  }
  if (!rows.length) return undefined;
  return {
    title: 'Restart: ms from the broker port reopening to the first event at the slowest receiver',
    headers: ['broker', 'system', 'down ms', 'median ms', 'runs', 'lost/dup/ooo', 'note'],
    rows,
    notes: [
      'The broker (a process of the bench, on its own port) is killed 1 s into a paced phase,',
      'its port stays closed for the down time, then it starts again on the same port.',
      'Events sent while it is down may be lost in broadcast delivery (counted, not a failure).',
    ],
  };
}
