import { join } from 'node:path';
import { parseOptions as parse, UsageError, type BenchOptions } from '../bench/options';
import type { TrialResult } from '../bench/report';
import { restartTable } from '../bench/restart';

const ROOT = join(__dirname, '..');
const parseOptions = (argv: string[]): BenchOptions => {
  const options = parse(argv, ROOT);
  if (options === 'help') throw new Error('no options');
  return options;
};

/** The bench's restart phase: its options, and its table (figures are never asserted). */
describe('bench --mode restart', () => {
  it('runs on its own, 2 instances and 200 B unless told, never as the latest results', () => {
    const options = parseOptions(['--mode', 'restart']);
    expect(options.modes).toEqual(['restart']);
    expect(options.instances).toEqual([2]);
    expect(options.payloads).toEqual([200]);
    expect(options.restartDownSeconds).toBe(3);
    expect(options.writeLatest).toBe(false);
    expect(parseOptions(['--mode', 'restart', '--restart-down', '10']).restartDownSeconds).toBe(10);
    expect(() => parseOptions(['--mode', 'restart,throughput'])).toThrow(UsageError);
  });

  it('tables the slowest receiver per run, its median, and runs where nothing came back', () => {
    const trial = (run: number, system: string, firstEventMs: Array<number | null>) =>
      ({
        run,
        broker: 'redis',
        instances: 3,
        payload: 200,
        system,
        ok: true,
        bootMs: [],
        load: [0, 0],
        phases: {},
        restart: { downMs: 3000, firstEventMs, lost: 2, duplicates: 0, outOfOrder: 0 },
      }) as unknown as TrialResult;
    const table = restartTable([
      trial(1, 'ours', [300, 500]),
      trial(2, 'ours', [400, 200]),
      trial(3, 'ours', [900, 100]),
      trial(1, 'raw', [null, 100]),
    ]);
    expect(table?.rows).toEqual([
      ['redis', 'ours', '3000', '500', '500, 400, 900', '6/0/0', ''],
      ['redis', 'raw', '3000', 'never', 'never', '2/0/0', ''],
    ]);
  });
});
