import { Redis } from 'ioredis';
import { BROKERS } from '../brokers';
import type { FaultBroker } from './types';

/** Redis: `CLIENT KILL` on the connections named for this test (the shared server stays up). */
export async function openFaultBroker(): Promise<FaultBroker> {
  const name = `fault-${process.pid}-${Date.now().toString(36)}`;
  const admin = new Redis(BROKERS.redis);
  return {
    uri: BROKERS.redis,
    options: { redis: { options: { connectionName: name } } },
    async drop() {
      const list = String(await admin.client('LIST'));
      const ids = list
        .split('\n')
        .filter((line) => line.includes(` name=${name} `))
        .map((line) => /\bid=(\d+)/.exec(line)?.[1])
        .filter((id): id is string => id !== undefined);
      if (ids.length === 0) throw new Error(`no Redis connection named ${name} to kill`);
      for (const id of ids) await admin.client('KILL', 'ID', id);
    },
    async subscriberCount(key) {
      const [, count] = (await admin.pubsub('NUMSUB', key)) as [string, number];
      return Number(count);
    },
    async close() {
      await admin.quit();
    },
  };
}
