import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freePorts,
  killAllSamples,
  type SampleRun,
  sleep,
  startSample,
  waitForHealth,
  warnSkipping,
} from './sample-support';

/**
 * /health follows the broker: this test runs a Redis of its own on a free port (never the shared
 * one), takes it away and brings it back.
 */

function hasRedisServer(): boolean {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const redisServerInstalled = hasRedisServer();
const describeWithRedisServer = redisServerInstalled ? describe : describe.skip;
if (!redisServerInstalled) {
  if (process.env.CI === 'true') {
    describe('sample app /health', () => {
      it('has redis-server to run its own broker', () => {
        throw new Error('redis-server is not installed; the /health test must run in CI.');
      });
    });
  } else {
    warnSkipping('the sample /health test', 'redis-server is not installed.');
  }
}

class OwnRedis {
  private process?: ChildProcess;
  private readonly dir = mkdtempSync(join(tmpdir(), 'sample-health-redis-'));

  constructor(readonly port: number) {}

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir,
      ],
      { stdio: 'ignore' },
    );
    this.process = child;
    const deadline = Date.now() + 10_000;
    while (!(await answers(this.port))) {
      if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode})`);
      if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${this.port}`);
      await sleep(50);
    }
  }

  /** Like a crash: no goodbye to the clients. */
  async kill(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describeWithRedisServer('sample app /health follows the broker', () => {
  let redis: OwnRedis;
  let sample: SampleRun | undefined;

  beforeAll(async () => {
    const [port] = await freePorts(1);
    redis = new OwnRedis(port);
    await redis.start();
  });

  afterAll(async () => {
    await sample?.stop().catch(() => undefined);
    killAllSamples();
    await redis?.dispose();
  });

  it('is healthy on a live broker, 503 while it is gone, healthy again once it is back', async () => {
    sample = await startSample(
      {
        FEATHERS_SYNC_URI: `redis://127.0.0.1:${redis.port}`,
        FEATHERS_SYNC_KEY: `sample-health-${process.pid}`,
      },
      { instances: 1 },
    );
    const url = sample.urls[0];

    const up = await waitForHealth(url, 200);
    expect(up.body).toMatchObject({
      status: 'ok',
      details: { sync: { status: 'up', transport: 'redis', syncStatus: 'ready' } },
    });

    await redis.kill();
    const down = await waitForHealth(url, 503, 10_000);
    expect(down.body).toMatchObject({
      status: 'error',
      details: { sync: { status: 'down', transport: 'redis', syncStatus: 'reconnecting' } },
    });
    // The rest of the app keeps serving while the broker is away.
    expect((await fetch(`${url}/messages`)).status).toBe(200);

    await redis.start();
    const back = await waitForHealth(url, 200, 15_000);
    expect(back.body).toMatchObject({
      status: 'ok',
      details: { sync: { syncStatus: 'ready', disconnects: 1 } },
    });

    const stopped = await sample.stop();
    sample = undefined;
    expect(stopped).toMatchObject({ code: 0 });
  }, 120_000);

  it('pushes every sync status change to the page live, stale included', async () => {
    sample = await startSample(
      {
        FEATHERS_SYNC_URI: `redis://127.0.0.1:${redis.port}`,
        FEATHERS_SYNC_KEY: `sample-stale-${process.pid}`,
        FEATHERS_SYNC_HEARTBEAT_MS: '300',
      },
      { instances: 1 },
    );
    const url = sample.urls[0];
    // The canary arms itself with the first one that comes back.
    for (;;) {
      const health = await waitForHealth(url, 200);
      if (health.body.details.sync.canaryRoundTripMs !== null) break;
      await sleep(100);
    }
    // What the page's badge listens to (public/app.js), with the socket.io client it uses.
    const { io } = await import('socket.io-client');
    const socket = io(url, { transports: ['websocket'], reconnection: false });
    const pushed: string[] = [];
    socket.on('sync status', (message: { type: string; status: string }) =>
      pushed.push(`${message.type} ${message.status}`),
    );
    try {
      await until(() => socket.connected, 'the socket to connect');
      // Redis holds every write (PUBLISH included) while paused for writes: the connections stay
      // up, nothing reconnects, and the canary does not come back.
      redisCli(redis.port, 'CLIENT', 'PAUSE', '30000', 'WRITE');
      try {
        await until(
          () => pushed.includes('redis stale'),
          () => `a stale push (pushed: ${pushed.join(', ')}; ${sample?.output().slice(-2000)})`,
          15_000,
        );
        const down = await waitForHealth(url, 503, 10_000);
        expect(down.body).toMatchObject({
          status: 'error',
          details: { sync: { syncStatus: 'stale', disconnects: 0 } },
        });
      } finally {
        redisCli(redis.port, 'CLIENT', 'UNPAUSE');
      }
      await until(() => pushed.at(-1) === 'redis ready', 'a ready push', 15_000);
      expect(pushed).toEqual(['redis stale', 'redis ready']);
      await waitForHealth(url, 200);
    } finally {
      socket.close();
    }
    const stopped = await sample.stop();
    sample = undefined;
    expect(stopped).toMatchObject({ code: 0 });
  }, 120_000);
});

function redisCli(port: number, ...args: string[]): void {
  execFileSync('redis-cli', ['-p', String(port), ...args], { stdio: 'ignore' });
}

async function until(
  check: () => boolean,
  what: string | (() => string),
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await sleep(50);
  }
}
