import { execFileSync } from 'node:child_process';
import type { DurableBroker, DurableBrokerOptions } from './types';

export type { DurableBroker, DurableBrokerOptions } from './types';

export const DURABLE_BROKERS = ['redis', 'nats', 'amqp'] as const;
export type DurableBrokerName = (typeof DURABLE_BROKERS)[number];

/** The server binaries a durable broker of each kind is started from. */
const BINARIES: Record<DurableBrokerName, string> = {
  redis: 'redis-server',
  nats: 'nats-server',
  amqp: 'rabbitmq-server',
};

export async function openDurableBroker(
  name: DurableBrokerName,
  options: DurableBrokerOptions = {},
): Promise<DurableBroker> {
  switch (name) {
    case 'redis':
      return (await import('./redis')).openDurableRedis(options);
    case 'nats':
      return (await import('./nats')).openDurableNats(options);
    case 'amqp':
      return (await import('./amqp')).openDurableRabbit(options);
  }
}

function installed(binary: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${binary} || test -x /usr/sbin/${binary}`], {
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

/**
 * `describe` for suites that start their own broker process. A missing binary fails the suite
 * under CI=true; elsewhere the suite is skipped with a loud message (never counted as passing).
 */
export function describeWithBinaries(
  name: DurableBrokerName,
  title: string,
  body: () => void,
): void {
  const binary = BINARIES[name];
  if (installed(binary)) {
    describe(title, body);
    return;
  }
  const message = `${binary} is not installed; these tests start their own ${name} broker`;
  if (process.env.CI === 'true') {
    describe(title, () => {
      it(`finds ${binary}`, () => {
        throw new Error(`${message}. Install it (see README) to run them.`);
      });
    });
    return;
  }
  console.warn(`\n!!! SKIPPING "${title}": ${message}. !!!\n`);
  describe.skip(title, body);
}
