import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acceptsTcp, BrokerProcess, freePort, sleep } from './broker-process';

/** The nats-server binary: NATS_SERVER_BIN, else the distribution's, else whatever PATH finds. */
const NATS_SERVER =
  process.env.NATS_SERVER_BIN ??
  (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server');
const START_TIMEOUT = 10_000;

export interface NatsServerOptions {
  /** Default: a free loopback port. */
  port?: number;
  /** JetStream on (`-js`), its file store in `storeDir` (default: a temp dir `stop()` removes). */
  jetstream?: boolean;
  storeDir?: string;
  /**
   * TLS: the server listens with these files (clients must use TLS); nats.js then wants
   * `tls: { ca }` in the connection options. `mutual`: clients must show a certificate signed by
   * `caFile` (`--tlsverify`).
   */
  tls?: { certFile: string; keyFile: string; caFile?: string; mutual?: boolean };
  /** More `nats-server` arguments (e.g. `['--user', 'u', '--pass', 'p']`, cluster routes). */
  args?: string[];
  /** `false`: only reserve the ports (a broker that is down at boot); `run()` starts it. */
  start?: boolean;
}

type Connection = { name?: string; version?: string; subscriptions_list?: string[] };

/**
 * A nats-server child process of the test's own on 127.0.0.1 (the shared server on 4222 is never
 * touched), restartable on the same ports and store, with its HTTP monitoring port to look at
 * connections and subscriptions.
 */
export class NatsServer {
  private process?: BrokerProcess;

  private constructor(
    readonly port: number,
    readonly monitorPort: number,
    readonly storeDir: string | undefined,
    private readonly ownsStore: boolean,
    private readonly options: NatsServerOptions,
  ) {}

  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    const port = options.port ?? (await freePort());
    const monitorPort = await freePort();
    const storeDir = options.jetstream
      ? (options.storeDir ?? (await mkdtemp(join(tmpdir(), 'nats-server-'))))
      : undefined;
    const owns = options.jetstream === true && options.storeDir === undefined;
    const server = new NatsServer(port, monitorPort, storeDir, owns, options);
    if (options.start !== false) await server.run();
    return server;
  }

  /** nats:// even with TLS: nats.js negotiates TLS from the server's INFO and its own options. */
  get uri(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.process?.running ?? false;
  }

  /** Starts the process and waits until it accepts clients and answers on its monitoring port. */
  async run(): Promise<void> {
    if (this.running) return;
    const { jetstream, tls, args = [] } = this.options;
    const listen = ['-a', '127.0.0.1', '-p', String(this.port), '-m', String(this.monitorPort)];
    const store = jetstream ? ['-js', '-sd', this.storeDir as string] : [];
    const secure = tls
      ? ['--tls', '--tlscert', tls.certFile, '--tlskey', tls.keyFile].concat(
          tls.caFile ? ['--tlscacert', tls.caFile] : [],
          tls.mutual ? ['--tlsverify'] : [],
        )
      : [];
    const child = new BrokerProcess('nats-server', NATS_SERVER, [
      ...listen,
      ...store,
      ...secure,
      ...args,
    ]);
    this.process = child;
    try {
      await child.waitUntil(() => this.answers(), START_TIMEOUT);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /**
   * Stops the process and waits for it to exit: `SIGKILL` (default) drops every client connection
   * at once, as a crash would; `SIGTERM` is a clean shutdown that flushes the JetStream store.
   */
  async stop(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const running = this.process;
    this.process = undefined;
    if (!running) return;
    if (signal === 'SIGTERM') {
      await running.stop();
    } else {
      running.kill('SIGKILL');
      await running.exited;
    }
  }

  /** Stop, `downMs` with the port closed, start again on the same ports (and store, unless `wipe`). */
  async restart(
    downMs = 0,
    { signal = 'SIGKILL', wipe = false }: { signal?: 'SIGKILL' | 'SIGTERM'; wipe?: boolean } = {},
  ): Promise<void> {
    await this.stop(signal);
    if (wipe && this.storeDir) await rm(this.storeDir, { recursive: true, force: true });
    await sleep(downMs);
    await this.run();
  }

  /** `nats-server --signal reload`: the server reads its config file again (clients stay connected). */
  reload(): void {
    this.process?.kill('SIGHUP');
  }

  /** Stops the process and removes the store it made. */
  async dispose(): Promise<void> {
    await this.stop('SIGTERM');
    if (this.ownsStore && this.storeDir) await rm(this.storeDir, { recursive: true, force: true });
  }

  /** Live subscriptions on exactly `subject`, over every client connection. */
  async subscriberCount(subject: string): Promise<number> {
    const connections = await this.connections();
    return connections.reduce(
      (count, connection) =>
        count + (connection.subscriptions_list ?? []).filter((s) => s === subject).length,
      0,
    );
  }

  /** The server's client connections, as its monitoring endpoint lists them. */
  async connections(): Promise<Connection[]> {
    const connz = (await this.monitor('/connz?subs=1&limit=100000')) as {
      connections?: Connection[];
    };
    return connz.connections ?? [];
  }

  /** GETs a monitoring endpoint (`/varz`, `/routez`, `/healthz`, `/jsz`…) as JSON. */
  monitor(path: string): Promise<unknown> {
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
