// `npm run bench -- [options]`: builds the module (dist/cjs) and the bench (dist/bench), then runs
// the bench with the given options. `--no-build` reuses the module already built.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const help = args.includes('--help');

function step(command, argv) {
  const result = spawnSync(command, argv, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`bench: ${[command, ...argv].join(' ')} failed`);
    process.exit(result.status ?? 1);
  }
}

if (!args.includes('--no-build') && !help) {
  // Under npm, npm_execpath is npm's own CLI: the same npm that started us.
  const npm = process.env.npm_execpath;
  if (npm) step(process.execPath, [npm, 'run', 'build']);
  else step(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build']);
}
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
step(process.execPath, [tsc, '-p', join(root, 'bench', 'tsconfig.json')]);

const child = spawn(
  process.execPath,
  [join(root, 'dist', 'bench', 'main.js'), ...args.filter((a) => a !== '--no-build')],
  { cwd: root, stdio: 'inherit' },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
