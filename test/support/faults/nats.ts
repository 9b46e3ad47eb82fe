import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { freePort } from '../brokers';
import type { FaultBroker } from './types';

/** The nats-server binary: NATS_SERVER_BIN, else the distribution's, else whatever PATH finds. */
const NATS_SERVER =
  process.env.NATS_SERVER_BIN ??
  (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server');
const START_TIMEOUT = 10_000;

/**
 * NATS: a nats-server of our own on free loopback ports (the shared server on 4222 is never
 * touched). `drop()` restarts it on the same port, which cuts every connection.
 */
export async function openFaultBroker(): Promise<FaultBroker> {
  const server = await NatsServer.start();
  return {
    uri: server.uri,
    options: {
      // Fast reconnects keep the test short; resumeDelay stays above reconnectTimeWait plus jitter
      // with margin, so every instance is subscribed again before any sends what it kept.
      nats: {
        connectionOptions: { reconnectTimeWait: 100, reconnectJitter: 100 },
        resumeDelay: 500,
      },
    },
    drop: () => server.restart(),
    subscriberCount: (key) => server.subscriberCount(key),
    close: () => server.stop(),
  };
}

/** A nats-server child process on 127.0.0.1, with its HTTP monitoring port to count subscriptions. */
export class NatsServer {
  private process?: ChildProcess;
  private exited?: Promise<void>;
  private output = '';
  private readonly killOnExit = () => this.process?.kill('SIGKILL');

  private constructor(
    readonly port: number,
    readonly monitorPort: number,
    private readonly extraArgs: string[],
  ) {}

  /** Picks free ports; `start: false` only reserves them (a broker that is down at boot). */
  static async start(options: { args?: string[]; start?: boolean } = {}): Promise<NatsServer> {
    const server = new NatsServer(await freePort(), await freePort(), options.args ?? []);
    if (options.start !== false) await server.run();
    return server;
  }

  get uri(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.process !== undefined;
  }

  /** Starts the process and waits until it accepts clients and answers on its monitoring port. */
  async run(): Promise<void> {
    if (this.process) return;
    this.output = '';
    const child = spawn(
      NATS_SERVER,
      [
        '-a',
        '127.0.0.1',
        '-p',
        String(this.port),
        '-m',
        String(this.monitorPort),
        ...this.extraArgs,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.process = child;
    process.once('exit', this.killOnExit);
    child.stderr?.on('data', (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    });
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        if (this.process === child) this.process = undefined;
        process.removeListener('exit', this.killOnExit);
        resolve();
      });
      child.once('error', () => {
        if (this.process === child) this.process = undefined;
        process.removeListener('exit', this.killOnExit);
        resolve();
      });
    });
    const deadline = Date.now() + START_TIMEOUT;
    while (!(await this.answers())) {
      if (!this.process || Date.now() > deadline) {
        await this.stop();
        throw new Error(`nats-server did not start on port ${this.port}:\n${this.output}`);
      }
      await sleep(10);
    }
  }

  /** Kills the process (every client connection drops at once) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  /** Kill, wait for the exit, start again on the same ports, wait until it answers. */
  async restart(): Promise<void> {
    await this.stop();
    await this.run();
  }

  /** Live subscriptions on exactly `subject`, over every client connection. */
  async subscriberCount(subject: string): Promise<number> {
    const connz = (await this.monitor('/connz?subs=1&limit=100000')) as {
      connections?: Array<{ subscriptions_list?: string[] }>;
    };
    return (connz.connections ?? []).reduce(
      (count, connection) =>
        count + (connection.subscriptions_list ?? []).filter((s) => s === subject).length,
      0,
    );
  }

  /** The server's client connections, as its monitoring endpoint lists them. */
  async connections(): Promise<Array<{ name?: string; subscriptions_list?: string[] }>> {
    const connz = (await this.monitor('/connz?subs=1&limit=100000')) as {
      connections?: Array<{ name?: string; subscriptions_list?: string[] }>;
    };
    return connz.connections ?? [];
  }

  private monitor(path: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const request = get({ host: '127.0.0.1', port: this.monitorPort, path }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => {
          try {
            resolve(JSON.parse(body));
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
      });
      request.on('error', reject);
      request.setTimeout(2000, () => request.destroy(new Error(`monitoring ${path} timed out`)));
    });
  }

  private async answers(): Promise<boolean> {
    if (!(await acceptsTcp(this.port))) return false;
    try {
      await this.monitor('/varz');
      return true;
    } catch {
      return false;
    }
  }
}

function acceptsTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
