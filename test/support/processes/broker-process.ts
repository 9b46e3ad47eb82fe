import { connect } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';

export { freePort } from '../brokers';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A broker child process in its own process group (so `kill()` also reaches whatever it forked),
 * killed when the test process exits. Keeps the last 20 kB of stdout and stderr.
 */
export class BrokerProcess {
  readonly exited: Promise<void>;
  private child?: ChildProcess;
  private readonly pid?: number;
  private log = '';
  private readonly killOnExit = () => this.kill('SIGKILL');

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const child = spawn(command, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.pid = child.pid;
    process.once('exit', this.killOnExit);
    const append = (chunk: Buffer) => (this.log = (this.log + chunk.toString()).slice(-20_000));
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.exited = new Promise<void>((resolve) => {
      const done = () => {
        this.child = undefined;
        process.removeListener('exit', this.killOnExit);
        resolve();
      };
      child.once('exit', done);
      child.once('error', (error) => {
        this.log += `\n${String(error)}`;
        done();
      });
    });
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get output(): string {
    return this.log;
  }

  /** Signals the whole process group (still there after the leader exited, if anything is left). */
  kill(signal: NodeJS.Signals): void {
    if (this.pid === undefined) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // The group is gone.
    }
  }

  /** Waits until `ready()` holds; throws (with the output) if the process exits or time runs out. */
  async waitUntil(ready: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await ready())) {
      if (!this.running) throw new Error(`${this.name} exited during start:\n${this.log}`);
      if (Date.now() > deadline) {
        throw new Error(`${this.name} did not start in ${timeoutMs} ms:\n${this.log}`);
      }
      await sleep(20);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
    // Stray members of the group (none expected) go too.
    this.kill('SIGKILL');
  }
}

/**
 * Polls `probe` until it returns something other than `undefined`/`false`, and returns that; a
 * probe that throws counts as "not yet". Throws after `timeoutMs`, naming `what` and the last error.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 30_000, intervalMs = 50, what = 'a condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await sleep(intervalMs);
  }
}

/** Whether something accepts TCP connections on loopback `port` right now. */
export function acceptsTcp(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
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
