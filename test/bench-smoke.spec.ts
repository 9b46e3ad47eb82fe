import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithBroker } from './support/brokers';

const ROOT = join(__dirname, '..');
const SYSTEMS = ['ours', 'feathers-sync', 'raw'];

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
      version: 1,
      command: expect.stringContaining('npm run bench'),
      machine: { node: process.version },
      summary: {
        throughput: [expect.objectContaining({ broker: 'redis', instances: 2, payload: 200 })],
        latencyP99: [expect.any(Object)],
        bytes: [expect.any(Object)],
      },
    });
    expect(results.trials.map((t: any) => t.system).sort()).toEqual([...SYSTEMS].sort());
    expect(readdirSync(resultsDir).filter((f) => f.startsWith('latest'))).toEqual([]);
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
        ['feathers-sync/raw', 'ours/feathers-sync', 'ours/raw'].sort(),
      );
    }
  });
});
