import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep } from './broker-process';
import { NatsServer } from './nats-server';

const START_TIMEOUT = 30_000;

/** One server of the cluster: its name (`--server_name`) and its process. */
export interface ClusterMember {
  name: string;
  server: NatsServer;
}

/**
 * A full-mesh cluster of nats-server processes of the test's own (default 3, with JetStream: the
 * least that keeps a meta quorum and R3 streams through the loss of one), on free loopback ports,
 * each with its own store in a temp dir that `dispose()` removes. A member can be killed and
 * started again on the same ports and store.
 */
export class NatsCluster {
  private constructor(
    readonly members: ClusterMember[],
    private readonly root: string,
    private readonly jetstream: boolean,
  ) {}

  static async start({ size = 3, jetstream = true } = {}): Promise<NatsCluster> {
    const root = await mkdtemp(join(tmpdir(), 'nats-cluster-'));
    const specs = [];
    for (let i = 1; i <= size; i++) {
      specs.push({ name: `n${i}`, port: await freePort(), routePort: await freePort() });
    }
    const members: ClusterMember[] = [];
    const cluster = new NatsCluster(members, root, jetstream);
    try {
      for (const spec of specs) {
        const routes = specs
          .filter((other) => other !== spec)
          .map((other) => `nats://127.0.0.1:${other.routePort}`)
          .join(',');
        // Not started yet: a server with JetStream waits for its peers before it says healthy.
        const server = await NatsServer.start({
          port: spec.port,
          jetstream,
          storeDir: jetstream ? join(root, spec.name) : undefined,
          start: false,
          // prettier-ignore
          args: [
            '--server_name', spec.name,
            '--cluster_name', 'test-cluster',
            '--cluster', `nats://127.0.0.1:${spec.routePort}`,
            '--routes', routes,
          ],
        });
        members.push({ name: spec.name, server });
      }
      await Promise.all(members.map((member) => member.server.run()));
      await cluster.settled();
    } catch (error) {
      await cluster.dispose();
      throw error;
    }
    return cluster;
  }

  /** The servers list uri: `nats://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`. */
  get uri(): string {
    return `nats://${this.members.map(({ server }) => `127.0.0.1:${server.port}`).join(',')}`;
  }

  /** The member a client named `name` (connection option `name`) is connected to now. */
  async memberOf(name: string): Promise<ClusterMember | undefined> {
    for (const member of this.members) {
      if (!member.server.running) continue;
      const connections = await member.server.connections().catch(() => []);
      if (connections.some((connection) => connection.name === name)) return member;
    }
    return undefined;
  }

  /** SIGKILL: every client of that server loses its connection at once, as in a crash. */
  async kill(member: ClusterMember): Promise<void> {
    await member.server.stop('SIGKILL');
  }

  /** Starts a killed member again (same ports and store) and waits for the cluster to settle. */
  async restart(member: ClusterMember): Promise<void> {
    await member.server.run();
    await this.settled();
  }

  /**
   * Every running member routes to every other one and, with JetStream, says healthy and names
   * the same running member as the meta leader.
   */
  async settled(timeoutMs = START_TIMEOUT): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await this.isSettled().catch(() => false))) {
      if (Date.now() > deadline)
        throw new Error(`the NATS cluster did not settle in ${timeoutMs} ms`);
      await sleep(100);
    }
  }

  async dispose(): Promise<void> {
    await Promise.all(this.members.map((member) => member.server.stop('SIGTERM')));
    await rm(this.root, { recursive: true, force: true });
  }

  private async isSettled(): Promise<boolean> {
    const live = this.members.filter((member) => member.server.running);
    const leaders = new Set<string | undefined>();
    for (const { server } of live) {
      const routez = (await server.monitor('/routez')) as {
        routes?: Array<{ remote_id?: string }>;
      };
      if (new Set((routez.routes ?? []).map((r) => r.remote_id)).size < live.length - 1)
        return false;
      if (!this.jetstream) continue;
      const health = (await server.monitor('/healthz')) as { status?: string };
      if (health.status !== 'ok') return false;
      const jsz = (await server.monitor('/jsz')) as { meta_cluster?: { leader?: string } };
      leaders.add(jsz.meta_cluster?.leader);
    }
    if (!this.jetstream) return true;
    const [leader] = leaders;
    // A dead leader is still named until the others notice it is gone.
    return leaders.size === 1 && live.some((member) => member.name === leader);
  }
}
