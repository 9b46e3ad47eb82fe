import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { waitFor } from './broker-process';
import { freePortWith } from './ports';
import { RedisServer } from './redis-server';
import { parseFields, redisCommand, redisInfo } from './resp';

const HOST = '127.0.0.1';
/** A cluster node talks to the others on its port + 10000. */
const BUS_OFFSET = 10_000;
const SLOTS = 16_384;

export interface RedisClusterOptions {
  masters?: number;
  /** Replicas per master (default 1; 0: no failover is possible). */
  replicasPerMaster?: number;
  /** `cluster-node-timeout` (default 1500 ms): how long until a silent master is failed over. */
  nodeTimeoutMs?: number;
  /**
   * TLS for clients and the cluster bus, on a second port per node (`tlsPorts`, what the cluster
   * announces); the plain port stays open for the harness's own checks.
   */
  tls?: { certFile: string; keyFile: string; caFile: string };
  /** More `redis-server` arguments for every node (e.g. ACL users). */
  args?: string[];
}

/** One node as `CLUSTER NODES` describes it. */
export interface ClusterNode {
  id: string;
  port: number;
  role: 'master' | 'replica';
  masterId?: string;
  /** `fail`, `fail?`, `handshake`… (without `myself`, `master`, `slave`). */
  flags: string[];
  slots: Array<[number, number]>;
}

export interface KilledMaster {
  id: string;
  port: number;
  slot: number;
  /** `Date.now()` just before SIGKILL. */
  killedAt: number;
}

/**
 * A Redis Cluster of `redis-server` processes on loopback (default 3 masters and 3 replicas), each
 * one a RedisServer of its own, joined with `redis-cli --cluster create`.
 */
export class RedisCluster {
  private constructor(
    readonly servers: RedisServer[],
    /** With `tls`: each node's TLS port, in the order of `servers`. */
    readonly tlsPorts: number[] = [],
  ) {}

  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const { masters = 3, replicasPerMaster = 1, nodeTimeoutMs = 1500, tls } = options;
    const total = masters * (1 + replicasPerMaster);
    const ports: number[] = [];
    const tlsPorts: number[] = [];
    for (let i = 0; i < total; i++) {
      ports.push(await freePortWith([BUS_OFFSET]));
      // With tls-cluster, the bus listens on the TLS port + 10000.
      if (tls) tlsPorts.push(await freePortWith([BUS_OFFSET]));
    }
    // prettier-ignore
    const tlsArgs = (i: number) => tls
      ? ['--tls-port', String(tlsPorts[i]), '--tls-cert-file', tls.certFile,
          '--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile,
          '--tls-auth-clients', 'no', '--tls-cluster', 'yes', '--tls-replication', 'yes']
      : [];
    // prettier-ignore
    const args = [
      '--cluster-enabled', 'yes',
      '--cluster-config-file', 'nodes.conf',
      '--cluster-node-timeout', String(nodeTimeoutMs),
      // Replicas sync at once instead of waiting 5 s for others to share the transfer.
      '--repl-diskless-sync-delay', '0',
      ...(options.args ?? []),
    ];
    const started = await Promise.allSettled(
      ports.map((port, i) => RedisServer.start({ port, args: [...args, ...tlsArgs(i)] })),
    );
    const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const cluster = new RedisCluster(servers, tlsPorts);
    try {
      const failed = started.find((s) => s.status === 'rejected');
      if (failed) throw failed.reason;
      await promisify(execFile)(
        'redis-cli',
        // prettier-ignore
        [...(tls ? ['--tls', '--cacert', tls.caFile] : []),
          '--cluster', 'create', ...(tls ? tlsPorts : ports).map((port) => `${HOST}:${port}`),
          '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'],
        { timeout: 60_000 },
      );
      await waitFor(() => cluster.healthy(masters), {
        timeoutMs: 60_000,
        what: 'the new cluster to be ok with every replica in sync',
      });
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  get ports(): number[] {
    return this.servers.map((server) => server.port);
  }

  /** Seed nodes for `new Cluster(nodes)`. */
  get nodes(): Array<{ host: string; port: number }> {
    return this.ports.map((port) => ({ host: HOST, port }));
  }

  /** `redis+cluster://` (`rediss+cluster://` with TLS) with every node as a seed. */
  uri(params = ''): string {
    const tls = this.tlsPorts.length > 0;
    const seeds = (tls ? this.tlsPorts : this.ports).map((port) => `${HOST}:${port}`).join(',');
    return `${tls ? 'rediss' : 'redis'}+cluster://${seeds}${params}`;
  }

  /** The first of the running nodes. */
  get anyNode(): RedisServer {
    const node = this.servers.find((server) => server.running);
    if (!node) throw new Error('no cluster node is running');
    return node;
  }

  async keySlot(key: string): Promise<number> {
    return Number(await redisCommand(this.anyNode.port, ['CLUSTER', 'KEYSLOT', key]));
  }

  async topology(port = this.anyNode.port): Promise<ClusterNode[]> {
    return parseClusterNodes(String(await redisCommand(port, ['CLUSTER', 'NODES'])));
  }

  /** The master that serves `key`'s slot (the slot a shard channel of that name hashes to). */
  async masterOf(key: string): Promise<ClusterNode> {
    const slot = await this.keySlot(key);
    const owner = ownerOf(await this.topology(), slot);
    if (!owner) throw new Error(`no master serves slot ${slot}`);
    return owner;
  }

  /** SIGKILLs the master that serves `key`'s slot. */
  async killMasterOf(key: string): Promise<KilledMaster> {
    const slot = await this.keySlot(key);
    const master = await this.masterOf(key);
    const killedAt = Date.now();
    await this.server(master.port).halt('SIGKILL');
    return { id: master.id, port: master.port, slot, killedAt };
  }

  /**
   * Waits until every live node names one new master for the killed master's slot and says
   * `cluster_state:ok`; returns it, with the ms from the kill until then.
   */
  async waitForFailover(
    killed: KilledMaster,
    timeoutMs = 30_000,
  ): Promise<{ master: ClusterNode; promotedAfterMs: number }> {
    return waitFor(
      async () => {
        const views = await Promise.all(
          this.servers
            .filter((server) => server.running)
            .map(async ({ port }) => ({
              owner: ownerOf(await this.topology(port), killed.slot),
              state: parseFields(String(await redisCommand(port, ['CLUSTER', 'INFO']))),
            })),
        );
        const owner = views[0]?.owner;
        const settled =
          owner !== undefined &&
          owner.id !== killed.id &&
          views.every((view) => view.owner?.id === owner.id && view.state.cluster_state === 'ok');
        return settled && { master: owner, promotedAfterMs: Date.now() - killed.killedAt };
      },
      { timeoutMs, intervalMs: 25, what: `a replica to take slot ${killed.slot}` },
    );
  }

  /** Stops every node and removes their dirs. */
  async stop(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.stop()));
  }

  private server(port: number): RedisServer {
    const server = this.servers.find((candidate) => candidate.port === port);
    if (!server) throw new Error(`no cluster node on port ${port}`);
    return server;
  }

  /** Every node ok, knows every node unflagged, `masters` masters cover all slots, replicas synced. */
  private async healthy(masters: number): Promise<boolean> {
    for (const { port } of this.servers) {
      const info = parseFields(String(await redisCommand(port, ['CLUSTER', 'INFO'])));
      if (info.cluster_state !== 'ok') return false;
      if (Number(info.cluster_known_nodes) !== this.servers.length) return false;
      const nodes = await this.topology(port);
      if (nodes.some((node) => node.flags.length > 0)) return false;
      const owners = nodes.filter((node) => node.role === 'master');
      if (owners.length !== masters) return false;
      const covered = owners.flatMap((node) => node.slots).reduce((n, [a, b]) => n + b - a + 1, 0);
      if (covered !== SLOTS) return false;
      const replication = await redisInfo(port, 'replication');
      if (replication.role === 'slave' && replication.master_link_status !== 'up') return false;
    }
    return true;
  }
}

function ownerOf(nodes: ClusterNode[], slot: number): ClusterNode | undefined {
  return nodes.find(
    (node) =>
      node.role === 'master' &&
      !node.flags.includes('fail') &&
      node.slots.some(([from, to]) => slot >= from && slot <= to),
  );
}

function parseClusterNodes(text: string): ClusterNode[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [id, address, flagText, master, , , , , ...slotFields] = line.split(' ');
      const hostPort = address.split('@')[0];
      const flags = flagText.split(',');
      return {
        id,
        port: Number(hostPort.slice(hostPort.lastIndexOf(':') + 1)),
        role: flags.includes('master') ? 'master' : 'replica',
        masterId: master === '-' ? undefined : master,
        flags: flags.filter((flag) => !['myself', 'master', 'slave', 'noflags'].includes(flag)),
        slots: slotFields
          .filter((field) => !field.startsWith('['))
          .map((field): [number, number] => {
            const [from, to] = field.split('-').map(Number);
            return [from, to ?? from];
          }),
      };
    });
}
