/**
 * A broker process of the bench's own, for the restart phase: the shared brokers are never
 * stopped. Started on a free loopback port, stopped (SIGKILL: the port closes at once, as in a
 * crash) and started again on the same port. RabbitMQ runs as a node of its own (own name, data
 * dir, config and ports), and takes several seconds to boot.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { BrokerName } from './protocol.js';

const START_TIMEOUT_MS = 90_000;
const RABBITMQ_BIN = process.env.RABBITMQ_BIN_DIR ?? '/usr/lib/rabbitmq/bin';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}

export class OwnBroker {
  private child?: ChildProcess;
  private exited?: Promise<void>;

  private constructor(
    readonly broker: BrokerName,
    readonly port: number,
    private readonly command: string,
    private readonly args: string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly dir: string,
  ) {}

  static async start(broker: BrokerName): Promise<OwnBroker> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), `bench-${broker}-`));
    let own: OwnBroker;
    if (broker === 'redis') {
      own = new OwnBroker(
        broker,
        port,
        'redis-server',
        [
          '--bind',
          '127.0.0.1',
          '--port',
          String(port),
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
        ],
        process.env,
        dir,
      );
    } else if (broker === 'nats') {
      const bin = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
      own = new OwnBroker(
        broker,
        port,
        bin,
        ['-a', '127.0.0.1', '-p', String(port)],
        process.env,
        dir,
      );
    } else {
      own = new OwnBroker(
        broker,
        port,
        join(RABBITMQ_BIN, 'rabbitmq-server'),
        [],
        await rabbitEnv(dir, port),
        dir,
      );
    }
    await own.run();
    return own;
  }

  get uri(): string {
    if (this.broker === 'redis') return `redis://127.0.0.1:${this.port}`;
    if (this.broker === 'nats') return `nats://127.0.0.1:${this.port}`;
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /** Starts the process; resolves once its port accepts connections. */
  async run(): Promise<void> {
    const child = spawn(this.command, this.args, {
      env: this.env,
      detached: true,
      stdio: 'ignore',
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!(await accepts(this.port))) {
      if (child.exitCode !== null)
        throw new Error(`${this.broker}: its own broker exited at start`);
      if (Date.now() > deadline) throw new Error(`${this.broker}: its own broker did not start`);
      await delay(10);
    }
  }

  /** Kills the process group at once; resolves once the port is closed. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone already
    }
    await this.exited;
    this.child = undefined;
    while (await accepts(this.port)) await delay(10);
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The environment of a RabbitMQ node of our own (not the machine's node and its config). */
async function rabbitEnv(dir: string, port: number): Promise<NodeJS.ProcessEnv> {
  const home = join(dir, 'home');
  mkdirSync(home);
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const distPort = await freePort();
  return {
    ...process.env,
    HOME: home,
    RABBITMQ_CONF_ENV_FILE: file('rabbitmq-env.conf', ''),
    RABBITMQ_NODENAME: `bench-${process.pid}-${port}@localhost`,
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_LOGS: '-',
    RABBITMQ_PLUGINS_EXPAND_DIR: join(dir, 'plugins-expand'),
    RABBITMQ_FEATURE_FLAGS_FILE: join(dir, 'feature_flags'),
    RABBITMQ_PID_FILE: join(dir, 'rabbit.pid'),
    RABBITMQ_CONFIG_FILE: file('rabbitmq.conf', `listeners.tcp.1 = 127.0.0.1:${port}\n`),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: file('enabled_plugins', '[].\n'),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
}
