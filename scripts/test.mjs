// The test run `npm test` ends with: the suites in two lanes, each one file at a time.
// - shared: the suites that use the machine's brokers (Redis, RabbitMQ, NATS on their usual ports)
//   and the browser; they share those brokers, so they take turns.
// - own: the suites under test/own-brokers/, which start broker processes of their own on other
//   loopback ports (faults, restarts, TLS, clusters); they share nothing with the first lane.
// Each lane's output is prefixed with its name; the durations are printed at the end. Extra
// arguments are passed to both jest runs (e.g. `npm test -- -t redis`).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const jest = createRequire(import.meta.url).resolve('jest/bin/jest');
const extra = process.argv.slice(2);

const lanes = [
  { name: 'shared', args: ['--testPathIgnorePatterns', '/node_modules/', '/test/own-brokers/'] },
  { name: 'own', args: ['test/own-brokers'] },
];

function run({ name, args }) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [jest, ...args, ...extra], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    const prefix = `[${name}] `;
    for (const stream of [child.stdout, child.stderr]) {
      let rest = '';
      stream.on('data', (chunk) => {
        const lines = (rest + chunk.toString()).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) process.stdout.write(prefix + line + '\n');
      });
      stream.on('end', () => rest && process.stdout.write(prefix + rest + '\n'));
    }
    child.on('exit', (code, signal) =>
      resolve({ name, code: code ?? 1, signal, seconds: (Date.now() - started) / 1000 }),
    );
  });
}

const started = Date.now();
// On a machine with few cores the two lanes slow each other down (the own-brokers lane runs
// clusters of broker processes) until timing-sensitive suites suffer: one after the other by
// default, side by side with TEST_LANES=parallel.
const results =
  process.env.TEST_LANES === 'parallel'
    ? await Promise.all(lanes.map(run))
    : await lanes.reduce(
        async (done, lane) => [...(await done), await run(lane)],
        Promise.resolve([]),
      );
for (const { name, code, signal, seconds } of results) {
  const outcome = code === 0 ? 'passed' : `failed (${signal ?? `exit ${code}`})`;
  console.log(`test lane ${name}: ${outcome} in ${seconds.toFixed(0)} s`);
}
console.log(`tests took ${((Date.now() - started) / 1000).toFixed(0)} s in all`);
process.exitCode = results.every((result) => result.code === 0) ? 0 : 1;
