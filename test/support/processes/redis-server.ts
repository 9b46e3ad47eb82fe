import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerProcess, freePort, sleep } from './broker-process';

export interface RedisServerOptions {
  /** Default: a free loopback port. */
  port?: number;
  /** Where the server writes (AOF, RDB). Default: a new temp dir, removed by `stop()`. */
  dir?: string;
  /** AOF with `appendfsync always` (every acknowledged write is on disk); else nothing is kept. */
  persistent?: boolean;
  /**
   * TLS: the server listens with these files on `port` (plain TCP is then off); the uri becomes
   * `rediss://`. `mutual`: clients must show a certificate signed by `caFile`.
   */
  tls?: { certFile: string; keyFile: string; caFile: string; mutual?: boolean };
  /** More `redis-server` arguments (e.g. `['--rename-command', 'XINFO', '""']`, cluster settings). */
  args?: string[];
}

/** A `redis-server` of the test's own on loopback, restartable on the same port and dir. */
export class RedisServer {
  private process?: BrokerProcess;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly options: RedisServerOptions,
  ) {}

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const port = options.port ?? (await freePort());
    const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'redis-server-')));
    const server = new RedisServer(port, dir, options.dir === undefined, options);
    await server.launch();
    return server;
  }

  get uri(): string {
    return `${this.options.tls ? 'rediss' : 'redis'}://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.process?.running ?? false;
  }

  /** Stops the server (`SIGTERM`: Redis fsyncs and exits; `SIGKILL`: a crash), waits, starts again. */
  async restart(downMs: number, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    await this.halt(signal);
    await sleep(downMs);
    await this.launch();
  }

  async halt(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const running = this.process;
    this.process = undefined;
    if (!running) return;
    if (signal === 'SIGKILL') {
      running.kill('SIGKILL');
      await running.exited;
    } else {
      await running.stop();
    }
  }

  /** Stops the server and removes its dir (if it made it). */
  async stop(): Promise<void> {
    await this.halt('SIGTERM');
    if (this.ownsDir) await rm(this.dir, { recursive: true, force: true });
  }

  async launch(): Promise<void> {
    const { persistent = false, tls, args = [] } = this.options;
    const listen = tls
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', tls.certFile]
          .concat(['--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile])
          .concat(['--tls-auth-clients', tls.mutual ? 'yes' : 'no'])
      : ['--port', String(this.port)];
    const storage = persistent
      ? ['--appendonly', 'yes', '--appendfsync', 'always', '--save', '']
      : ['--appendonly', 'no', '--save', ''];
    const process = new BrokerProcess('redis-server', 'redis-server', [
      ...listen,
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      ...storage,
      '--daemonize',
      'no',
      '--logfile',
      '',
      ...args,
    ]);
    this.process = process;
    await process.waitUntil(() => (tls ? listening(this.port) : answersPing(this.port)), 20_000);
  }

  get output(): string {
    return this.process?.output ?? '';
  }
}

/** `+PONG` to a PING (not `-LOADING` while an AOF is replayed). */
export function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}
