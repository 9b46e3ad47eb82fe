import type { SyncDelivery } from '../../src';
import { uniqueKey } from '../support/brokers';
import { describeWithBinaries } from '../support/durable';
import { FailoverRun } from '../support/failover-run';
import { recordEvents, waitFor } from '../support/feathers-app';
import { closeAll, startInstances, type Instance } from '../support/instances';
import { sleep } from '../support/processes/broker-process';
import { RedisSentinelGroup } from '../support/processes/redis-sentinel';
import { redisCommand } from '../support/processes/resp';

/**
 * A Sentinel group of its own per test (1 master, 1 replica, 3 sentinels, down-after 1000 ms):
 * three instances connect through the sentinels, the master is killed, the replica is promoted.
 */
describeWithBinaries('redis', 'Redis Sentinel (1 master, 1 replica, 3 sentinels)', () => {
  let group: RedisSentinelGroup | undefined;
  let instances: Instance[] = [];

  afterEach(async () => {
    await closeAll(instances);
    await group?.stop();
    group = undefined;
  });

  it.each<SyncDelivery>(['broadcast', 'recoverable'])(
    '%s: the master is killed; publisher and subscriber follow the failover, status goes reconnecting → ready, events flow again',
    async (delivery) => {
      group = await RedisSentinelGroup.start();
      const key = uniqueKey(`sentinel-${delivery}`);
      instances = await startInstances(3, { logger: false, uri: group.uri(), key, delivery });
      const [origin, ...receivers] = instances;
      const run = new FailoverRun(origin, receivers).start();
      await run.resumedAfter(0, 10_000);

      const killed = await group.killMaster();
      const { port: newMaster, promotedAfterMs } = await group.waitForFailover(killed);
      const promotedAt = killed.killedAt + promotedAfterMs;
      const resumedMs = await run.resumedAfter(promotedAt);
      await sleep(500);
      const tallies = await run.stop();

      console.log(
        `sentinel ${delivery}: sentinels agreed on :${newMaster} ${promotedAfterMs} ms after the ` +
          `kill; events flowed again ${resumedMs} ms after; ${run.emitted} emitted, per ` +
          `receiver ${JSON.stringify(tallies)}; statuses ${JSON.stringify(run.statusesOf(0))}`,
      );
      // Both connections of every instance are on the new master: the readers or subscribers
      // (broadcast: PUBSUB NUMSUB counts them) and the publishers (the events reach everyone).
      const clients = String(await redisCommand(newMaster, ['CLIENT', 'LIST']))
        .split('\n')
        .filter((line) => /\bcmd=/.test(line) && !/\bcmd=client\|list\b/.test(line));
      expect(clients.length).toBeGreaterThanOrEqual(2 * instances.length);
      if (delivery === 'broadcast') {
        const [, subscribers] = (await redisCommand(newMaster, ['PUBSUB', 'NUMSUB', key])) as [
          string,
          number,
        ];
        expect(Number(subscribers)).toBe(instances.length);
      }
      for (const [index, { missing, missed, twice }] of tallies.entries()) {
        expect(missed).toBe(missing);
        expect(twice).toBe(0);
        const statuses = run.statusesOf(index);
        const dropped = statuses.indexOf('reconnecting');
        expect(dropped).toBeGreaterThan(0);
        expect(statuses.slice(dropped)).toContain('ready');
        expect(receivers[index].sync.status).toBe('ready');
      }
      expect(origin.sync.stats().publishFailed).toBe(0);
    },
  );

  it('uses the uri’s credentials for the master and the replica, and keeps them out of errors', async () => {
    // The default user (Sentinel's) may only use Sentinel's own channel: the uri's user must be used.
    // prettier-ignore
    const dataArgs = [
      '--user', 'app', 'on', '>s3cret-pw', '~*', '&*', '+@all',
      '--user', 'default', 'on', 'nopass', '~*', 'resetchannels', '&__sentinel__:*', '+@all',
    ];
    group = await RedisSentinelGroup.start({ dataArgs });
    const key = uniqueKey('sentinel-acl');
    const uri = group.uri().replace('://', '://app:s3cret-pw@');
    instances = await startInstances(2, { logger: false, uri, key });
    const heard = recordEvents(instances[1].app, 'todos', ['created']);
    await instances[0].app.service('todos').create({ text: 'through the sentinels' });
    await waitFor(() => heard.length === 1, 'the event');
    expect(heard[0].data.text).toBe('through the sentinels');
    // A malformed list fails boot with the expected form, without the password.
    await expect(
      startInstances(1, { logger: false, uri: `${uri.split('/mymaster')[0]},:1/mymaster`, key }),
    ).rejects.toThrow(/Write it as redis\+sentinel:\/\/.*masterName/);
    const error: unknown = await startInstances(1, {
      logger: false,
      uri: uri.replace('/mymaster', ''),
      key,
    }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(String(error)).toMatch(/the path must be the master name/);
    expect(String(error)).not.toContain('s3cret-pw');
  });
});
