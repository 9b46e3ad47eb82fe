import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerProcess, freePort } from './broker-process';

/** RabbitMQ's own scripts (not the /usr/sbin wrappers, which `su rabbitmq` and log to /var/log). */
const RABBITMQ_BIN = process.env.RABBITMQ_BIN_DIR ?? '/usr/lib/rabbitmq/bin';
/** A fresh node needs ~5 s on two cores; allow for a loaded machine. */
const START_TIMEOUT = 60_000;
const CTL_TIMEOUT = 20_000;

let nodes = 0;

export interface RabbitNodeOptions {
  /** AMQPS instead of plain AMQP on the node's port (`listeners.tcp = none`): files in PEM. */
  tls?: { caFile: string; certFile: string; keyFile: string; mutual?: boolean };
  /** The default user (else guest/guest, which RabbitMQ allows from loopback only). No `#` or spaces. */
  auth?: { user: string; password: string };
  /** The Erlang cookie; nodes meant to form a cluster need the same one. Default: erl makes one. */
  cookie?: string;
  /**
   * The feature flags a fresh node enables (`RABBITMQ_FEATURE_FLAGS`), e.g. to run without
   * `stream_queue`. Default: all of them.
   */
  featureFlags?: string[];
}

/**
 * A RabbitMQ node of the test's own (the shared node on 5672 is never touched): its own node name,
 * cookie (HOME), mnesia and log dirs, config, an empty plugin list (no management listener), one
 * AMQP (or AMQPS) listener on a free loopback port and Erlang distribution on another. It shares
 * the machine's epmd (registering a name there is harmless). `stop()` and `start()` keep the port
 * and the data dir, so a restarted node has its durable queues and streams back; `remove()` stops
 * it and deletes everything it wrote.
 */
export class RabbitNode {
  readonly node = `rabbit-t${process.pid}-${++nodes}-${Date.now().toString(36)}@localhost`;
  private server?: BrokerProcess;
  private readonly env: NodeJS.ProcessEnv;

  private constructor(
    readonly dir: string,
    readonly port: number,
    distPort: number,
    ctlPort: number,
    private readonly options: RabbitNodeOptions,
  ) {
    const home = join(dir, 'home');
    mkdirSync(home);
    if (options.cookie)
      writeFileSync(join(home, '.erlang.cookie'), options.cookie, { mode: 0o400 });
    const file = (name: string, text: string) => {
      writeFileSync(join(dir, name), text);
      return join(dir, name);
    };
    const { tls, auth } = options;
    const listeners = tls
      ? [
          'listeners.tcp = none',
          `listeners.ssl.1 = 127.0.0.1:${port}`,
          `ssl_options.cacertfile = ${tls.caFile}`,
          `ssl_options.certfile = ${tls.certFile}`,
          `ssl_options.keyfile = ${tls.keyFile}`,
          'ssl_options.verify = verify_peer',
          `ssl_options.fail_if_no_peer_cert = ${tls.mutual ? 'true' : 'false'}`,
        ]
      : [`listeners.tcp.1 = 127.0.0.1:${port}`];
    this.env = {
      ...process.env,
      // The node and the CLI find the same cookie here (erl creates it on first start).
      HOME: home,
      // Not /etc/rabbitmq/rabbitmq-env.conf: that names the shared node.
      RABBITMQ_CONF_ENV_FILE: file('rabbitmq-env.conf', ''),
      RABBITMQ_NODENAME: this.node,
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_CTL_DIST_PORT_MIN: String(ctlPort),
      RABBITMQ_CTL_DIST_PORT_MAX: String(Math.min(ctlPort + 10, 65535)),
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(dir, 'log'),
      RABBITMQ_LOGS: '-',
      RABBITMQ_PLUGINS_EXPAND_DIR: join(dir, 'plugins-expand'),
      RABBITMQ_FEATURE_FLAGS_FILE: join(dir, 'feature_flags'),
      RABBITMQ_PID_FILE: join(dir, 'rabbit.pid'),
      // Not /etc/rabbitmq/rabbitmq.conf: that binds 5672.
      RABBITMQ_CONFIG_FILE: file(
        'rabbitmq.conf',
        [
          ...listeners,
          ...(auth ? [`default_user = ${auth.user}`, `default_pass = ${auth.password}`] : []),
          '',
        ].join('\n'),
      ),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: file('enabled_plugins', '[].\n'),
      ...(options.featureFlags ? { RABBITMQ_FEATURE_FLAGS: options.featureFlags.join(',') } : {}),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    };
  }

  /** Starts a fresh node in a temp dir; resolves once it accepts connections. */
  static async start(options: RabbitNodeOptions = {}): Promise<RabbitNode> {
    const dir = mkdtempSync(join(tmpdir(), 'nfs-rabbit-'));
    const [port, distPort, ctlPort] = [await freePort(), await freePort(), await freePort()];
    const node = new RabbitNode(dir, port, distPort, ctlPort, options);
    try {
      await node.start();
    } catch (error) {
      await node.remove();
      throw error;
    }
    return node;
  }

  /** `amqp://` (or `amqps://`) with the node's user, on 127.0.0.1 and its port. */
  get uri(): string {
    const user = this.options.auth?.user ?? 'guest';
    const password = this.options.auth?.password ?? 'guest';
    const scheme = this.options.tls ? 'amqps' : 'amqp';
    return `${scheme}://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.server?.running === true;
  }

  /** The server's output since its last start (it logs to stdout). */
  get output(): string {
    return this.server?.output ?? '';
  }

  /** Runs `rabbitmqctl -n <node> <args>` with the node's cookie; resolves with its stdout. */
  ctl(...args: string[]): Promise<string> {
    return new Promise<string>((resolve, reject) =>
      execFile(
        join(RABBITMQ_BIN, 'rabbitmqctl'),
        ['-n', this.node, ...args],
        { env: this.env, timeout: CTL_TIMEOUT },
        (error, stdout, stderr) =>
          error
            ? reject(new Error(`rabbitmqctl ${args[0]}: ${stderr || error.message}`))
            : resolve(stdout),
      ),
    );
  }

  /** Starts the node on its port and data dir (again); resolves once it accepts connections. */
  async start(): Promise<void> {
    if (this.running) return;
    const server = new BrokerProcess(
      'rabbitmq-server',
      join(RABBITMQ_BIN, 'rabbitmq-server'),
      [],
      this.env,
    );
    this.server = server;
    try {
      await server.waitUntil(
        () => server.output.includes('Server startup complete'),
        START_TIMEOUT,
      );
    } catch (error) {
      await server.stop(1_000);
      throw error;
    }
  }

  /** A clean stop (`rabbitmqctl stop`, SIGKILL past 20 s); the data dir stays. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server?.running) return;
    const killer = setTimeout(() => server.kill('SIGKILL'), CTL_TIMEOUT);
    await this.ctl('stop').catch(() => server.kill('SIGKILL'));
    await server.exited;
    clearTimeout(killer);
    // Stray members of the group (epmd is not one: it was started by the shared node).
    server.kill('SIGKILL');
  }

  /** Stops the node, keeps its port closed for `downMs`, starts it again with the same data. */
  async restart(downMs: number): Promise<void> {
    await this.stop();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.start();
  }

  /** Stops the node and deletes everything it wrote. */
  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
