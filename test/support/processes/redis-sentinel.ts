import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerProcess, waitFor } from './broker-process';
import { freePortWith } from './ports';
import { answersPing, RedisServer } from './redis-server';
import { pairsToObject, redisCommand, redisInfo } from './resp';

const HOST = '127.0.0.1';

export interface RedisSentinelOptions {
  masterName?: string;
  /** `down-after-milliseconds` (default 1000): silence before a sentinel flags the master. */
  downAfterMs?: number;
  /** More `redis-server` arguments for the master and the replica (e.g. ACL users). */
  dataArgs?: string[];
}

/**
 * A Sentinel group on loopback: one master and one replica (RedisServers) and three sentinels
 * (`redis-server <conf> --sentinel`, each with a writable config: Sentinel rewrites it), quorum 2.
 */
export class RedisSentinelGroup {
  private constructor(
    readonly masterName: string,
    readonly data: RedisServer[],
    private readonly sentinels: BrokerProcess[],
    readonly sentinelPorts: number[],
    private readonly dir: string,
  ) {}

  static async start(options: RedisSentinelOptions = {}): Promise<RedisSentinelGroup> {
    const { masterName = 'mymaster', downAfterMs = 1000, dataArgs = [] } = options;
    const dir = await mkdtemp(join(tmpdir(), 'redis-sentinel-'));
    const data: RedisServer[] = [];
    const sentinels: BrokerProcess[] = [];
    const sentinelPorts: number[] = [];
    const group = new RedisSentinelGroup(masterName, data, sentinels, sentinelPorts, dir);
    try {
      const master = await RedisServer.start({ port: await freePortWith([]), args: dataArgs });
      data.push(master);
      const replicaOf = [...dataArgs, '--replicaof', HOST, String(master.port)];
      data.push(await RedisServer.start({ port: await freePortWith([]), args: replicaOf }));
      await waitFor(
        async () => (await redisInfo(data[1].port, 'replication')).master_link_status === 'up',
        { what: 'the replica to sync' },
      );
      for (let i = 0; i < 3; i++) {
        const port = await freePortWith([]);
        const conf = join(dir, `sentinel-${port}.conf`);
        // prettier-ignore
        const lines = [
          `port ${port}`, `bind ${HOST}`, `dir ${dir}`,
          `sentinel monitor ${masterName} ${HOST} ${master.port} 2`,
          `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
          `sentinel failover-timeout ${masterName} 10000`,
        ];
        await writeFile(conf, `${lines.join('\n')}\n`);
        const sentinel = new BrokerProcess(`sentinel :${port}`, 'redis-server', [
          conf,
          '--sentinel',
        ]);
        sentinels.push(sentinel);
        sentinelPorts.push(port);
        await sentinel.waitUntil(() => answersPing(port), 20_000);
      }
      await waitFor(() => group.healthy(), {
        intervalMs: 100,
        what: 'the sentinels to know the master, its replica and each other',
      });
    } catch (error) {
      await group.stop();
      throw error;
    }
    return group;
  }

  /** `redis+sentinel://s1,s2,s3/<masterName>` */
  uri(params = ''): string {
    const list = this.sentinelPorts.map((port) => `${HOST}:${port}`).join(',');
    return `redis+sentinel://${list}/${this.masterName}${params}`;
  }

  /** The master's port, as a sentinel names it. */
  async masterPort(): Promise<number> {
    const reply = await redisCommand(this.sentinelPorts[0], [
      'SENTINEL',
      'GET-MASTER-ADDR-BY-NAME',
      this.masterName,
    ]);
    return Number((reply as string[])[1]);
  }

  /** SIGKILLs the master; returns its port and when. */
  async killMaster(): Promise<{ port: number; killedAt: number }> {
    const port = await this.masterPort();
    const killedAt = Date.now();
    await this.data.find((server) => server.port === port)?.halt('SIGKILL');
    return { port, killedAt };
  }

  /** Waits until every sentinel names another master and that server says `role:master`. */
  async waitForFailover(killed: { port: number; killedAt: number }, timeoutMs = 30_000) {
    return waitFor(
      async () => {
        const named = await Promise.all(
          this.sentinelPorts.map((port) =>
            redisCommand(port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName]),
          ),
        );
        const ports = named.map((reply) => Number((reply as string[])[1]));
        if (ports.some((port) => port === killed.port || port !== ports[0])) return false;
        if ((await redisInfo(ports[0], 'replication')).role !== 'master') return false;
        return { port: ports[0], promotedAfterMs: Date.now() - killed.killedAt };
      },
      { timeoutMs, intervalMs: 25, what: `a failover away from :${killed.port}` },
    );
  }

  async stop(): Promise<void> {
    await Promise.all([
      ...this.sentinels.map((sentinel) => sentinel.stop()),
      ...this.data.map((server) => server.stop()),
    ]);
    await rm(this.dir, { recursive: true, force: true });
  }

  private async healthy(): Promise<boolean> {
    for (const port of this.sentinelPorts) {
      const master = pairsToObject(
        await redisCommand(port, ['SENTINEL', 'MASTER', this.masterName]),
      );
      if (master.flags !== 'master' || Number(master['num-other-sentinels']) < 2) return false;
      const rows = await redisCommand(port, ['SENTINEL', 'REPLICAS', this.masterName]);
      const synced = (Array.isArray(rows) ? rows : [])
        .map(pairsToObject)
        .filter((row) => row.flags === 'slave' && row['master-link-status'] === 'ok');
      if (synced.length < 1) return false;
    }
    return true;
  }
}
