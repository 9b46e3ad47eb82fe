import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { redactUri } from '../../src/shared/redact';

/** Broker addresses come from the environment; the defaults are the brokers on this machine. */
export const BROKERS = {
  memory: 'memory://local',
  redis: process.env.REDIS_URI ?? 'redis://127.0.0.1:6379',
  amqp: process.env.AMQP_URI ?? 'amqp://guest:guest@127.0.0.1:5672',
  nats: process.env.NATS_URI ?? 'nats://127.0.0.1:4222',
} as const;

export type BrokerName = keyof typeof BROKERS;

const reachability = new Map<BrokerName, boolean>();

/** Opens a TCP connection to the broker's port, synchronously (runs while jest collects tests). */
export function brokerReachable(name: BrokerName): boolean {
  if (name === 'memory') return true;
  const cached = reachability.get(name);
  if (cached !== undefined) return cached;
  const url = new URL(BROKERS[name]);
  const port = url.port || { redis: '6379', amqp: '5672', nats: '4222' }[name];
  const script =
    "const s=require('net').connect(+process.argv[2],process.argv[1]);" +
    "s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),2000)";
  let ok = true;
  try {
    execFileSync(process.execPath, ['-e', script, url.hostname, port], { stdio: 'ignore' });
  } catch {
    ok = false;
  }
  reachability.set(name, ok);
  return ok;
}

/**
 * `describe` for tests that need a broker. Unreachable broker: under CI=true the suite fails;
 * elsewhere it is skipped with a loud message (never counted as passing).
 */
export function describeWithBroker(name: BrokerName, title: string, body: () => void): void {
  if (brokerReachable(name)) {
    describe(title, body);
    return;
  }
  const message = `${name} broker at ${redactUri(BROKERS[name])} is unreachable`;
  if (process.env.CI === 'true') {
    describe(title, () => {
      it(`reaches the ${name} broker`, () => {
        throw new Error(
          `${message}; broker tests must run in CI. Start the broker or set the ${name.toUpperCase()}_URI variable.`,
        );
      });
    });
    return;
  }
  console.warn(
    `\n!!! SKIPPING "${title}": ${message}. Start it (see README) to run these tests. !!!\n`,
  );
  describe.skip(title, body);
}

/** A key no other test uses, so parallel or leftover traffic never crosses over. */
export function uniqueKey(prefix = 'test'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A loopback port nothing listens on (it was free a moment ago): a broker that is "down". */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
