import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Starting the sample as processes, the way `npm start` does, for the sample-*.spec.ts files. */

export const ROOT = join(__dirname, '..', '..');
export const SAMPLE_MAIN = join(ROOT, 'dist', 'sample', 'sample-app', 'src', 'main.js');
/** The package sources as the sample build compiles them (CommonJS). */
export const COMPILED_SRC = join(ROOT, 'dist', 'sample', 'src');

const BUILD_INFO = join(ROOT, 'dist', 'sample', '.tsbuildinfo');
const SOURCES = [
  join(ROOT, 'src'),
  join(ROOT, 'sample-app', 'src'),
  join(ROOT, 'sample-app', 'tsconfig.json'),
  join(ROOT, 'tsconfig.json'),
];

/**
 * Compiles the sample (and the package sources it imports) unless the last build is newer than
 * every source: each spec file calls this, and even a no-op tsc run takes seconds.
 */
export function buildSample(): void {
  if (existsSync(BUILD_INFO) && existsSync(SAMPLE_MAIN)) {
    const builtAt = statSync(BUILD_INFO).mtimeMs;
    if (SOURCES.every((path) => newestChange(path) < builtAt)) return;
  }
  const tsc = require.resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'sample-app', 'tsconfig.json')], {
      cwd: ROOT,
      stdio: 'pipe',
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`building the sample failed:\n${String(stdout)}${String(stderr)}`);
  }
}

function newestChange(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestChange(join(path, entry)));
  return newest;
}

/** Ports nothing listens on right now (all held at once, so they differ). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

export interface SampleRun {
  ports: number[];
  /** `http://127.0.0.1:PORT` per instance (loopback only; the sample prints localhost). */
  urls: string[];
  output(): string;
  /** SIGTERM to the primary, as a process manager would; resolves once every process is gone. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

const running = new Set<ChildProcess>();

/**
 * Starts `node dist/sample/…/main.js` (the primary and one worker per port) with `env` on top of
 * test defaults: loopback only, a private SQLite file, quiet Nest logs. Resolves once the primary
 * printed every instance's address.
 */
export async function startSample(
  env: Record<string, string>,
  options: { instances?: number; timeoutMs?: number } = {},
): Promise<SampleRun> {
  buildSample();
  const ports = await freePorts(options.instances ?? 2);
  const dataDir = mkdtempSync(join(tmpdir(), 'sample-data-'));
  const child = spawn(process.execPath, [SAMPLE_MAIN], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORTS: ports.join(','),
      HOST: '127.0.0.1',
      DATABASE_URL: `sqlite:${join(dataDir, 'messages.sqlite')}`,
      LOG_LEVEL: 'warn',
      FORCE_COLOR: '0',
      NO_COLOR: '1',
      ...env,
    },
    // Its own process group: if the primary ever fails to stop its workers, the group is killed.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const cleanup = () => rmSync(dataDir, { recursive: true, force: true });

  const run: SampleRun = {
    ports,
    urls: ports.map((port) => `http://127.0.0.1:${port}`),
    output: () => output,
    async stop() {
      const started = Date.now();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const result = await within(exited, 15_000);
      if (!result) {
        killGroup(child);
        await exited;
        cleanup();
        throw new Error(`the sample did not stop within 15 s:\n${output}`);
      }
      cleanup();
      return { ...result, ms: Date.now() - started };
    },
  };

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const printed = () => ports.every((port) => output.includes(`http://localhost:${port}`));
  while (!printed()) {
    if (child.exitCode !== null || child.signalCode !== null) {
      cleanup();
      throw new Error(`the sample exited while starting:\n${output}`);
    }
    if (Date.now() > deadline) {
      await run.stop().catch(() => undefined);
      throw new Error(`the sample did not print its addresses in time:\n${output}`);
    }
    await sleep(50);
  }
  return run;
}

/** Last resort for a test that failed half-way: kills what startSample started and is still up. */
export function killAllSamples(): void {
  for (const child of running) killGroup(child);
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** A terminus answer: `instance` (name, store) and `sync` (FeathersSyncHealthIndicator). */
export interface Health {
  status: number;
  body: {
    status: 'ok' | 'error';
    details: {
      instance: { status: string; name: string; store: string };
      sync: {
        status: string;
        transport: string;
        syncStatus: string;
        disconnects: number;
        canaryRoundTripMs: number | null;
      };
    };
  };
}

export async function getHealth(url: string): Promise<Health> {
  const response = await fetch(`${url}/health`);
  return { status: response.status, body: (await response.json()) as Health['body'] };
}

/** Polls /health until it answers `status` (200 or 503); fails with the last answer. */
export async function waitForHealth(url: string, status: number, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  let last: Health | string = 'no answer';
  for (;;) {
    try {
      last = await getHealth(url);
      if (last.status === status) return last;
    } catch (error) {
      last = String(error);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${url}/health did not answer ${status} within ${timeoutMs} ms; last: ${
          typeof last === 'string' ? last : JSON.stringify(last)
        }`,
      );
    }
    await sleep(100);
  }
}

/**
 * A skip notice nobody can miss: straight to stderr, because jest drops the console output of a
 * test file whose tests were all skipped when it runs several files.
 */
export function warnSkipping(what: string, reason: string): void {
  process.stderr.write(`\n!!! SKIPPING ${what}: ${reason} !!!\n\n`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `promise`'s value, or undefined once `ms` passed; leaves no timer behind either way. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
