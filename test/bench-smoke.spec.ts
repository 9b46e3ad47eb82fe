import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderChart } from '../bench/chart';
import {
  DEFAULT_VARIANTS,
  parseOptions,
  parseVariants,
  runSystems,
  UsageError,
} from '../bench/options';
import type { SystemId } from '../bench/protocol';
import { aggregate, fanoutTable, tables, type TrialResult } from '../bench/report';
import { describeWithBroker } from './support/brokers';

const ROOT = join(__dirname, '..');
const SYSTEMS = ['ours', 'feathers-sync', 'raw', 'ours:lean'];

/** Runs `npm run bench` (through its launcher) and resolves with its exit code and output. */
function runBench(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [join(ROOT, 'bench', 'bench.mjs'), ...args],
      { cwd: ROOT, timeout: 170_000, maxBuffer: 16 * 1024 * 1024, killSignal: 'SIGKILL' },
      (_error, stdout, stderr) => resolve({ code: child.exitCode, output: `${stdout}${stderr}` }),
    );
  });
}

// Shape and integrity only: the machine is shared, so no figure here is asserted.
describeWithBroker('redis', 'npm run bench (smallest setting, end to end)', () => {
  let resultsDir = '';
  let code: number | null = null;
  let output = '';
  let results: any;

  beforeAll(async () => {
    resultsDir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
    // `npm test` builds before jest; build here only when the module was never built.
    const built = existsSync(join(ROOT, 'dist', 'cjs', 'index.js'));
    ({ code, output } = await runBench([
      ...(built ? ['--no-build'] : []),
      '--broker',
      'redis',
      '--instances',
      '2',
      '--payload',
      '200',
      '--runs',
      '1',
      '--events',
      '300',
      '--warmup',
      '100',
      '--duration',
      '0.5',
      '--results-dir',
      resultsDir,
      '--variants',
      'lean',
    ]));
    const files = readdirSync(resultsDir).filter((f) => f.endsWith('.json'));
    if (files.length === 1) results = JSON.parse(readFileSync(join(resultsDir, files[0]), 'utf8'));
  }, 180_000);

  afterAll(() => {
    if (resultsDir) rmSync(resultsDir, { recursive: true, force: true });
  });

  it('exits 0 and prints the side-by-side tables', () => {
    expect({ code, tail: output.slice(-3000) }).toEqual({ code: 0, tail: expect.any(String) });
    expect(output).toContain('Throughput: delivered events/s at the slowest instance');
    expect(output).toContain('Latency at a fixed rate');
    expect(output).toContain('Bytes on the wire per event');
  });

  it('writes one results JSON with a trial per system, and never touches latest.json', () => {
    expect(results).toBeDefined();
    expect(results).toMatchObject({
      version: 2,
      command: expect.stringContaining('npm run bench'),
      machine: { node: process.version },
      summary: {
        throughput: [expect.objectContaining({ broker: 'redis', instances: 2, payload: 200 })],
        latencyP99: [expect.any(Object)],
        bytes: [expect.any(Object)],
      },
    });
    expect(results.trials.map((t: any) => t.system).sort()).toEqual([...SYSTEMS].sort());
    expect(results.options.variants).toEqual([{ name: 'lean', options: { envelope: 'lean' } }]);
    expect(readdirSync(resultsDir).filter((f) => f.startsWith('latest'))).toEqual([]);
  });

  it('writes the chart next to the results JSON', () => {
    const charts = readdirSync(resultsDir).filter((f) => f.endsWith('.svg'));
    expect(charts).toHaveLength(1);
    const svg = readFileSync(join(resultsDir, charts[0]), 'utf8');
    expect(svg).toContain('Throughput vs the raw client');
    expect(svg).toContain('ours:lean');
  });

  it('measured every phase of every system with no event lost or duplicated', () => {
    for (const trial of results.trials) {
      expect({ system: trial.system, ok: trial.ok, error: trial.error }).toEqual({
        system: trial.system,
        ok: true,
        error: undefined,
      });
      for (const phase of ['bytes', 'throughput', 'latency']) {
        const measured = trial.phases[phase];
        expect(measured.instances).toHaveLength(2);
        expect(measured.summary).toMatchObject({ lost: 0, duplicates: 0 });
        for (const instance of measured.instances) {
          expect(instance).toMatchObject({
            expected: measured.spec.count,
            unique: measured.spec.count,
            lost: 0,
          });
        }
      }
      expect(trial.phases.throughput.summary.eventsPerSec).toBeGreaterThan(0);
      expect(trial.phases.bytes.summary.bytesPerEvent).toBeGreaterThan(0);
    }
    for (const row of [results.summary.throughput[0], results.summary.latencyP99[0]]) {
      for (const system of SYSTEMS) expect(row.integrity[system]).toMatchObject({ lost: 0 });
      expect(Object.keys(row.ratios).sort()).toEqual(
        [
          'feathers-sync/raw',
          'ours/feathers-sync',
          'ours/raw',
          'ours:lean/ours',
          'ours:lean/raw',
          'ours:lean/feathers-sync',
        ].sort(),
      );
    }
  });
});

// ---------------------------------------------------------------- unit level, no broker

describe('bench --variants parsing', () => {
  it('reads known names and name={json} entries, separated by ";" or ","', () => {
    expect(parseVariants('lean;pending={"maxPending":1000}')).toEqual([
      { name: 'lean', options: { envelope: 'lean' } },
      { name: 'pending', options: { maxPending: 1000 } },
    ]);
    expect(parseVariants(' a = {"s":"x,y;}{\\""} , b={"n":[1,{"c":2}]}')).toEqual([
      { name: 'a', options: { s: 'x,y;}{"' } },
      { name: 'b', options: { n: [1, { c: 2 }] } },
    ]);
    expect(parseVariants('none')).toEqual([]);
    expect(parseVariants('')).toEqual([]);
  });

  it('reads a JSON file: an object of name → options, or the results file form', () => {
    const files: Record<string, string> = {
      'object.json': '{"lean":{"envelope":"lean"},"small":{"maxPending":10}}',
      'list.json': '[{"name":"lean","options":{"envelope":"lean"}}]',
    };
    const read = (path: string) => files[path];
    expect(parseVariants('object.json', read).map((v) => v.name)).toEqual(['lean', 'small']);
    expect(parseVariants('list.json', read)).toEqual([
      { name: 'lean', options: { envelope: 'lean' } },
    ]);
    expect(() => parseVariants('missing.json', () => 'not json')).toThrow(UsageError);
  });

  it.each([
    ['an unknown name', 'nope', /not a known variant/],
    ['a reserved name', 'raw={}', /reserved/],
    ['a name given twice', 'a={},a={}', /twice/],
    ['options that are not an object', 'a=[1]', /JSON object/],
    ['options that are not JSON', 'a={x}', /not JSON/],
    ['an option the bench sets', 'a={"uri":"redis://elsewhere"}', /uri/],
    ['a missing separator', 'a={}b={}', /expected "," or ";"/],
    ['a space instead of a separator', 'a={} b={}', /expected "," or ";"/],
  ])('refuses %s', (_case, spec, message) => {
    expect(() => parseVariants(spec)).toThrow(message);
  });

  it('runs the default variants on a full run only, after the other systems', () => {
    const variantsOf = (argv: string[]) => {
      const options = parseOptions(argv, ROOT);
      if (options === 'help') throw new Error('help');
      return { names: options.variants.map((v) => v.name), systems: runSystems(options) };
    };
    expect(variantsOf([]).names).toEqual([...DEFAULT_VARIANTS]);
    expect(variantsOf(['--broker', 'redis']).systems).toEqual([
      'ours',
      'feathers-sync',
      'raw',
      ...DEFAULT_VARIANTS.map((name) => `ours:${name}`),
    ]);
    for (const argv of [
      ['--quick'],
      ['--systems', 'ours,raw'],
      ['--ours-options', '{}'],
      ['--mode', 'soak'],
      ['--variants', 'none'],
    ])
      expect(variantsOf(argv).names).toEqual([]);
    expect(
      variantsOf(['--systems', 'ours,raw', '--variants', 'x={"maxPending":1000}']).systems,
    ).toEqual(['ours', 'raw', 'ours:x']);
    // Results files from before variants have none.
    expect(runSystems({ systems: ['ours', 'raw'] })).toEqual(['ours', 'raw']);
  });
});

/** A trial with the figures the tables and the chart read, and nothing else. */
function fakeTrial(system: SystemId, run: number, eventsPerSec: number, p99: number): TrialResult {
  const summary = (extra: object) =>
    ({
      eventsPerSec,
      lost: 0,
      duplicates: 0,
      outOfOrder: 0,
      latencyRemote: { count: 1, mean: p99, p50: p99 / 4, p90: p99, p99, max: p99 },
      cpuMsPer1kSender: 10,
      cpuMsPer1kReceiver: 5,
      cpuMsPer1kTotal: 15,
      rssPeakMbSender: 100,
      ...extra,
    }) as any;
  return {
    run,
    broker: 'redis',
    instances: 2,
    payload: 200,
    system,
    ok: true,
    bootMs: [],
    load: [0, 0],
    phases: {
      throughput: { summary: summary({}) } as any,
      latency: { summary: summary({}) } as any,
      bytes: { summary: summary({ bytesPerEvent: 250, dataBytesPerEvent: 200 }) } as any,
    },
  };
}

describe('bench variants in the summary and the tables', () => {
  const systems: SystemId[] = ['ours', 'raw', 'ours:lean'];
  const trials = [1, 2].flatMap((run) => [
    fakeTrial('ours', run, 1000, 2),
    fakeTrial('raw', run, 2000, 1),
    fakeTrial('ours:lean', run, 3000, 4),
  ]);
  const summary = aggregate(trials, systems);

  it('computes each variant against ours and raw within each run', () => {
    const row = summary.throughput[0];
    expect(row.ratios['ours:lean/ours']).toEqual({ median: 3, runs: [3, 3] });
    expect(row.ratios['ours:lean/raw']).toEqual({ median: 1.5, runs: [1.5, 1.5] });
    expect(row.ratios['ours/raw'].median).toBe(0.5);
    expect(summary.latencyP99[0].ratios['ours:lean/ours'].median).toBe(2);
  });

  it('gives each variant its own columns', () => {
    const [throughput, latency, bytes] = tables(summary, systems);
    expect(throughput.headers).toEqual(
      expect.arrayContaining(['ours:lean ev/s', 'ours:lean/ours', 'ours:lean/raw']),
    );
    const at = (header: string) => throughput.rows[0][throughput.headers.indexOf(header)];
    expect([at('ours:lean ev/s'), at('ours:lean/ours'), at('ours:lean/raw')]).toEqual([
      '3,000',
      '3.00x',
      '1.50x',
    ]);
    expect(latency.headers).toContain('p99 ours:lean/ours');
    expect(bytes.headers).toEqual(expect.arrayContaining(['ours:lean/ours', 'ours:lean/data']));
  });

  it('still reads a results file from before variants (bench/results/latest.json)', () => {
    const saved = JSON.parse(readFileSync(join(ROOT, 'bench', 'results', 'latest.json'), 'utf8'));
    const old = runSystems(saved.options);
    expect(old).toEqual(['ours', 'feathers-sync', 'raw']);
    const rendered = tables(aggregate(saved.trials, old), old);
    expect(rendered[0].rows.length).toBeGreaterThan(0);
    expect(renderChart({ summary: aggregate(saved.trials, old), systems: old })).toContain('<svg');
  });
});

describe('bench chart', () => {
  const systems: SystemId[] = ['ours', 'feathers-sync', 'raw', 'ours:a<b'];
  const trials = [
    fakeTrial('ours', 1, 1000, 2),
    fakeTrial('feathers-sync', 1, 500, 3),
    fakeTrial('raw', 1, 2000, 1),
    { ...fakeTrial('ours:a<b', 1, 0, 0), ok: false, error: 'boom' },
  ];
  const svg = renderChart({
    summary: aggregate(trials, systems),
    systems,
    variants: [{ name: 'a<b', options: { note: '"&"' } }],
    runs: 1,
    rate: 1000,
    subtitle: ['npm run bench -- --variants \'a<b={"note":"\\"&\\""}\''],
  }) as string;

  it('draws labelled panels, a line at 1x, a legend and the bars', () => {
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    for (const label of [
      'Throughput vs the raw client',
      'Throughput vs feathers-sync',
      'Throughput vs ours (defaults)',
      'p99 latency vs the raw client',
      'higher is better',
      'lower is better · at 1,000 ev/s',
      'ours: our module, default options',
      '0.50x',
      '2.00x',
      'failed',
    ])
      expect(svg).toContain(label);
    // ours/raw and ours/feathers-sync, throughput and latency: four bars; the variant failed.
    expect(svg.match(/<rect [^>]*><title>/g)).toHaveLength(4);
    expect(svg.match(/stroke="#000"/g)).toHaveLength(6);
  });

  it('escapes what it prints and stays well-formed', () => {
    expect(svg).toContain('ours:a&lt;b: {&quot;note&quot;:&quot;\\&quot;&amp;\\&quot;&quot;}');
    expect(svg).not.toMatch(/<(?![/a-z])/);
    const stack: string[] = [];
    for (const [, closing, name, selfClosing] of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
      if (selfClosing) continue;
      if (closing) expect(stack.pop()).toBe(name);
      else stack.push(name);
    }
    expect(stack).toEqual([]);
  });

  it('draws nothing when no ratio of our module was measured', () => {
    expect(renderChart({ summary: aggregate(trials, ['raw']), systems: ['raw'] })).toBeUndefined();
  });
});

describe('bench --fanout', () => {
  it('runs ours beside raw on 2, 4, 8 and 16 instances, throughput only, and keeps latest.json', () => {
    const options = parseOptions(['--fanout', '--broker', 'nats'], ROOT);
    if (options === 'help') throw new Error('help');
    expect(options).toMatchObject({
      fanout: true,
      instances: [2, 4, 8, 16],
      systems: ['ours', 'raw'],
      modes: ['throughput'],
      payloads: [200],
      variants: [],
      writeLatest: false,
    });
    const narrowed = parseOptions(['--fanout', '--instances', '2,16', '--systems', 'ours'], ROOT);
    if (narrowed === 'help') throw new Error('help');
    expect(narrowed).toMatchObject({ instances: [2, 16], systems: ['ours'] });
    expect(() => parseOptions(['--fanout', '--quick'], ROOT)).toThrow(UsageError);
  });

  it('prints one line per instance count, in order, with each system’s receiver and sender CPU and RSS', () => {
    const at = (system: SystemId, instances: number, rcv: number): TrialResult => {
      const trial = fakeTrial(system, 1, 1000 * instances, 1);
      const throughput = trial.phases.throughput as any;
      throughput.summary = {
        ...throughput.summary,
        cpuMsPer1kReceiver: rcv,
        rssPeakMbReceiver: 70,
      };
      return { ...trial, broker: 'nats', instances };
    };
    const trials = [16, 2, 8, 4].flatMap((n) => [at('ours', n, n), at('raw', n, 1)]);
    const systems: SystemId[] = ['ours', 'raw'];
    const table = fanoutTable(aggregate(trials, systems), systems);
    expect(table?.rows.map((row) => row[1])).toEqual(['2', '4', '8', '16']);
    expect(table?.headers).toEqual(expect.arrayContaining(['ours cpu rcv|snd', 'raw RSS rcv|snd']));
    const sixteen = table?.rows[3] ?? [];
    expect(sixteen.slice(3, 6)).toEqual(['16,000', '16,000', '1.00x']);
    expect(sixteen).toEqual(expect.arrayContaining(['16 | 10', '1 | 10', '70 | 100']));
  });
});
