import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BROKERS, describeWithBroker } from './support/brokers';

/**
 * The package as users get it (npm pack), installed into two real apps: CommonJS on Nest 11 and
 * ES modules on Nest 12 (ESM-only). Each boots two instances and syncs an event over Redis.
 */
const root = join(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describeWithBroker('redis', 'the packed package in real apps', () => {
  let work: string;
  let tarball: string;

  beforeAll(() => {
    if (
      !existsSync(join(root, 'dist', 'cjs', 'index.js')) ||
      !existsSync(join(root, 'dist', 'esm', 'index.js'))
    ) {
      throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
    }
    work = mkdtempSync(join(tmpdir(), 'nfs-compat-'));
    execFileSync(npm, ['pack', '--ignore-scripts', '--pack-destination', work], {
      cwd: root,
      stdio: 'ignore',
    });
    tarball = join(
      work,
      readdirSync(work).find((file) => file.endsWith('.tgz'))!,
    );
  }, 120_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function install(fixture: string): string {
    const dir = join(work, fixture);
    cpSync(join(__dirname, 'compat', fixture), dir, { recursive: true });
    execFileSync(npm, ['install', '--no-audit', '--no-fund', '--no-package-lock', tarball], {
      cwd: dir,
      stdio: 'pipe',
    });
    return dir;
  }

  function run(dir: string, script: string): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [script, BROKERS.redis], {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
    });
  }

  it.each([
    [
      'a CommonJS app on Nest 11 (require → dist/cjs)',
      'nest11-cjs',
      'main.cjs',
      /^11\./,
      'dist/cjs/index.js',
    ],
    [
      'an ES-module app on Nest 12 (import → dist/esm)',
      'nest12-esm',
      'main.mjs',
      /^12\./,
      'dist/esm/index.js',
    ],
  ])(
    'works in %s',
    async (_title, fixture, script, nest, entry) => {
      const { code, output } = await run(install(fixture), script);
      expect(code).toBe(0);
      expect(JSON.parse(output.trim())).toEqual({
        nest: expect.stringMatching(nest),
        entry,
        type: 'redis',
      });
    },
    240_000,
  );
});
