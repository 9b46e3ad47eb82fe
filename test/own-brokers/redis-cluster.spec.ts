import { readFileSync } from 'node:fs';
import type { FeathersSyncOptions } from '../../src';
import { uniqueKey } from '../support/brokers';
import { describeWithBinaries } from '../support/durable';
import { FailoverRun } from '../support/failover-run';
import { closePeer, startFeathersSyncPeer } from '../support/feathers-sync-peer';
import { recordEvents, waitFor, type TestApp } from '../support/feathers-app';
import { closeAll, startInstances, type Instance } from '../support/instances';
import { sleep } from '../support/processes/broker-process';
import { RedisCluster } from '../support/processes/redis-cluster';
import { makeCertificates } from '../support/processes/tls-certs';
import { redisCommand } from '../support/processes/resp';

/** What the test reads back from a stream entry. */
interface Logged {
  data: { n: number };
}

/**
 * A Redis Cluster of 3 masters and 3 replicas (`cluster-node-timeout` 1500 ms), shared by the
 * file. Each failover test kills the master of its own key's slot on a shard nobody killed yet,
 * so that a replica is there to take over.
 */
describeWithBinaries('redis', 'Redis Cluster (3 masters, 3 replicas)', () => {
  let cluster: RedisCluster;
  let instances: Instance[] = [];
  let peer: TestApp | undefined;
  const killedShards = new Set<number>();

  beforeAll(async () => {
    cluster = await RedisCluster.start();
  }, 90_000);
  afterAll(() => cluster?.stop());
  afterEach(async () => {
    await closeAll(instances);
    if (peer) await closePeer(peer);
    peer = undefined;
  });

  /** A key whose slot lives on a shard no test killed yet (its master still has a live replica). */
  async function keyOnFreshShard(prefix: string): Promise<string> {
    for (;;) {
      const key = uniqueKey(prefix);
      const master = await cluster.masterOf(key);
      const topology = await cluster.topology();
      const replica = topology.find((n) => n.masterId === master.id && n.flags.length === 0);
      if (!replica || killedShards.has(master.port)) continue;
      killedShards.add(master.port);
      return key;
    }
  }

  async function start(count: number, options: FeathersSyncOptions): Promise<Instance[]> {
    instances = await startInstances(count, { logger: false, ...options });
    return instances;
  }

  describe.each([
    ['classic', ''],
    ['sharded', '?sharded=true'],
  ])('broadcast over %s pub/sub', (mode, params) => {
    it('events flow; after the master of the key’s slot is killed they flow again, and what was lost is counted', async () => {
      const key = await keyOnFreshShard(`cluster-${mode}`);
      const [origin, ...receivers] = await start(3, { uri: cluster.uri(params), key });
      const run = new FailoverRun(origin, receivers).start();
      await run.resumedAfter(0, 10_000);

      const killed = await cluster.killMasterOf(key);
      const { promotedAfterMs } = await cluster.waitForFailover(killed);
      const promotedAt = killed.killedAt + promotedAfterMs;
      const resumedMs = await run.resumedAfter(promotedAt);
      await sleep(500);
      const tallies = await run.stop();

      console.log(
        `cluster ${mode}: replica promoted ${promotedAfterMs} ms after the kill; events flowed ` +
          `again ${resumedMs} ms after the promotion; ${run.emitted} emitted, per receiver ` +
          JSON.stringify(tallies),
      );
      // The origin gave nothing up: what failed at the dead master went again to the new one.
      expect(origin.sync.stats().publishFailed).toBe(0);
      for (const { missing, missed, twice } of tallies) {
        // Nothing is lost silently: what never arrived is exactly what the receiver counts.
        expect(missed).toBe(missing);
        expect(twice).toBe(0);
      }
    });
  });

  it('sharded pub/sub travels on the shard that owns the key only', async () => {
    const key = uniqueKey('cluster-shard');
    const [origin, receiver] = await start(2, {
      uri: cluster.uri(),
      key,
      redis: { sharded: true },
    });
    const heard = recordEvents(receiver.app, 'todos', ['created']);
    await origin.app.service('todos').create({ text: 'sharded' });
    await waitFor(() => heard.length === 1, 'the sharded event');
    const owner = await cluster.masterOf(key);
    const subscribedOn: number[] = [];
    for (const { port } of cluster.servers.filter((server) => server.running)) {
      const reply = await redisCommand(port, ['PUBSUB', 'SHARDNUMSUB', key]).catch(() => null);
      if (Array.isArray(reply) && Number(reply[1]) > 0) subscribedOn.push(port);
    }
    // Each instance's shard subscriber sits on the owning master (or its replica), nowhere else.
    const topology = await cluster.topology();
    const shard = topology
      .filter((node) => node.id === owner.id || node.masterId === owner.id)
      .map((n) => n.port);
    expect(subscribedOn.length).toBeGreaterThan(0);
    for (const port of subscribedOn) expect(shard).toContain(port);
  });

  it('recoverable: the stream lives on the key’s shard; after its master is killed nothing is lost unaccounted', async () => {
    const key = await keyOnFreshShard('cluster-recoverable');
    const [origin, ...receivers] = await start(3, {
      uri: cluster.uri(),
      key,
      delivery: 'recoverable',
    });
    const run = new FailoverRun(origin, receivers).start();
    await run.resumedAfter(0, 10_000);

    const killed = await cluster.killMasterOf(key);
    const { promotedAfterMs } = await cluster.waitForFailover(killed);
    const promotedAt = killed.killedAt + promotedAfterMs;
    const resumedMs = await run.resumedAfter(promotedAt);
    await sleep(500);
    const tallies = await run.stop();
    // The log as the new master keeps it: the origin's events, in the order it emitted them.
    const owner = await cluster.masterOf(key);
    const entries = (await redisCommand(owner.port, ['XRANGE', `{${key}}:stream`, '-', '+'])) as [
      string,
      [string, string],
    ][];
    const logged = entries.map(([, [, payload]]) => (JSON.parse(payload) as Logged).data.n);
    const lostByReplication = run.emitted - logged.length;

    console.log(
      `cluster recoverable: promoted ${promotedAfterMs} ms after the kill; flowed again ` +
        `${resumedMs} ms after; ${run.emitted} emitted, ${lostByReplication} acknowledged but ` +
        `not on the new master; per receiver ${JSON.stringify(tallies)}`,
    );
    // What the README states: an acknowledged XADD is lost only if the master died before its
    // replica had it (asynchronous replication, no WAIT); a receiver that had not read it yet
    // counts it in `missed`. Nothing else is lost, nothing arrives twice, nothing is given up,
    // and the log keeps the origin's order through the failover.
    expect(origin.sync.stats().publishFailed).toBe(0);
    expect(logged).toEqual([...logged].sort((a, b) => a - b));
    for (const [index, { missing, missed, twice }] of tallies.entries()) {
      const heard = run.heardBy(index);
      expect(logged.filter((n) => !heard.has(n))).toEqual([]);
      expect(missed).toBe(missing);
      expect(missing).toBeLessThanOrEqual(lostByReplication);
      expect(twice).toBe(0);
    }
  });

  it('interop with feathers-sync 3.1.1 on the cluster (classic pub/sub, the peer on one node)', async () => {
    const key = uniqueKey('cluster-interop');
    // feathers-sync 3.1.1 builds its client with node-redis createClient({ url }): one server.
    // Classic PUBLISH is relayed to every node of a cluster, so a peer on any node hears the fleet.
    const node = cluster.anyNode.port;
    peer = await startFeathersSyncPeer('redis', key, { uri: `redis://127.0.0.1:${node}` });
    const [ours] = await start(1, { uri: cluster.uri(), key });
    const theirs = recordEvents(peer, 'todos', ['created']);
    const mine = recordEvents(ours.app, 'todos', ['created']);

    await ours.app.service('todos').create({ text: 'from nest' });
    await peer.service('todos').create({ text: 'from feathers-sync' });
    await waitFor(
      () => theirs.length >= 2 && mine.length >= 2,
      'each side to hear both events',
      15_000,
    );
    await sleep(300);
    expect(theirs.map((r) => r.data.text).sort()).toEqual(['from feathers-sync', 'from nest']);
    expect(mine.map((r) => r.data.text).sort()).toEqual(['from feathers-sync', 'from nest']);
    expect(mine.find((r) => r.data.text === 'from feathers-sync')?.context.path).toBe('todos');
  });
});

describeWithBinaries('redis', 'Redis Cluster over TLS (rediss+cluster://)', () => {
  it('connects to every node with TLS and the credentials of the uri; events flow', async () => {
    const certs = await makeCertificates();
    // The default user may not publish, subscribe or run scripts: the uri's user must be used.
    // prettier-ignore
    const args = [
      '--user', 'app', 'on', '>s3cret-pw', '~*', '&*', '+@all',
      '--user', 'default', 'on', 'nopass', '~*', '&*', '+@all', '-@pubsub', '-@scripting',
    ];
    const cluster = await RedisCluster.start({ replicasPerMaster: 0, tls: certs, args });
    let instances: Instance[] = [];
    try {
      const ca = readFileSync(certs.caFile);
      const key = uniqueKey('cluster-tls');
      instances = await startInstances(2, {
        logger: false,
        uri: cluster.uri().replace('://', '://app:s3cret-pw@'),
        key,
        // The test CA: the uri turns TLS on, the options say whom to trust.
        redis: { options: { redisOptions: { tls: { ca } } } },
      });
      const heard = recordEvents(instances[1].app, 'todos', ['created']);
      await instances[0].app.service('todos').create({ text: 'over tls' });
      await waitFor(() => heard.length === 1, 'the event over TLS');
      expect(cluster.uri()).toMatch(/^rediss\+cluster:\/\//);
      expect(heard[0].data.text).toBe('over tls');
    } finally {
      await closeAll(instances);
      await cluster.stop();
      await certs.remove();
    }
  }, 60_000);
});
