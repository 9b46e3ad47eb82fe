import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { SyncDelivery } from '../../src';
import type { NatsClientName } from '../../src/options/transport-options';
import { streamNameOf } from '../../src/transports/nats/jetstream-stream';
import { uniqueKey } from '../support/brokers';
import { describeWithBinaries } from '../support/durable';
import { delivery, Fleet, type InstanceReport } from '../support/fleet';
import { sleep } from '../support/processes/broker-process';
import { NATS_CLIENTS } from '../support/nats-clients';
import { NatsCluster } from '../support/processes/nats-cluster';

/**
 * A 3-server NATS cluster with JetStream; three instances (separate processes) are given the
 * servers list. While all three publish, the server each instance is connected to is killed in
 * turn (and started again before the next, so the cluster keeps its quorum): every instance moves
 * to another server and keeps syncing. Recoverable: the stream is replicated on the three servers
 * (nats.streamReplicas: 3), and nothing is lost, repeated or reordered. With each NATS client.
 */
const INSTANCES = [0, 1, 2];
const RATE = 100;
/** Long enough for the three kills and restarts; the fleet publishes throughout. */
const DURATION_MS = 24_000;
const CATCH_UP_MS = 30_000;

describeWithBinaries('nats', 'a 3-server NATS cluster', () => {
  let cluster: NatsCluster;
  let fleet: Fleet | undefined;
  let key = '';

  beforeAll(async () => {
    cluster = await NatsCluster.start();
  });
  afterEach(async () => {
    await fleet?.stop();
    fleet = undefined;
  });
  afterAll(async () => {
    await cluster?.dispose();
  });

  async function startFleet(mode: SyncDelivery, client: NatsClientName): Promise<Fleet> {
    key = uniqueKey('cluster');
    fleet = await Fleet.start(INSTANCES.length, (index) => ({
      uri: cluster.uri,
      key,
      delivery: mode,
      nats: {
        client,
        // Named, so the test can ask the servers which one each instance is connected to.
        connectionOptions: {
          name: `instance-${index}`,
          reconnectTimeWait: 100,
          reconnectJitter: 100,
        },
        resumeDelay: 500,
        streamReplicas: 3,
      },
    }));
    return fleet;
  }

  async function streamInfo() {
    const connection = await connect({ servers: cluster.uri.slice('nats://'.length).split(',') });
    try {
      return await (await jetstreamManager(connection)).streams.info(streamNameOf(key));
    } finally {
      await connection.close();
    }
  }

  /** Kills the server each instance is on, in turn; each time the instance moves, the server restarts. */
  async function killEachInstancesServer(): Promise<string[]> {
    const killed: string[] = [];
    for (const index of INSTANCES) {
      const member = await cluster.memberOf(`instance-${index}`);
      if (!member) throw new Error(`instance ${index} is connected to no server of the cluster`);
      await cluster.kill(member);
      killed.push(member.name);
      const deadline = Date.now() + 15_000;
      let moved = await cluster.memberOf(`instance-${index}`);
      while (!moved && Date.now() < deadline) {
        await sleep(100);
        moved = await cluster.memberOf(`instance-${index}`);
      }
      expect({
        instance: index,
        movedTo: moved?.name === member.name ? 'same' : 'another',
      }).toEqual({ instance: index, movedTo: 'another' });
      await sleep(1_000);
      await cluster.restart(member);
      await sleep(1_000);
    }
    return killed;
  }

  async function publishThroughKills(
    running: Fleet,
    then?: () => Promise<void>,
  ): Promise<{ sent: number[]; killed: string[] }> {
    const publishing = INSTANCES.map((index) => running.at(index).publish(RATE, DURATION_MS));
    await sleep(1_500);
    const killed = await killEachInstancesServer();
    expect(killed).toHaveLength(3);
    await then?.();
    return { sent: await Promise.all(publishing), killed };
  }

  /** The stream's leader killed as well (whether or not an instance was on it), then restarted. */
  async function killStreamLeader(): Promise<void> {
    const leader = (await streamInfo()).cluster?.leader;
    const member = cluster.members.find((m) => m.name === leader);
    if (!member) throw new Error(`no stream leader among the members (${leader})`);
    await cluster.kill(member);
    await sleep(2_000);
    await cluster.restart(member);
  }

  /** Reports once every instance heard every event of every origin (or the last one, for broadcast). */
  async function caughtUp(running: Fleet, sent: number[], all: boolean): Promise<InstanceReport[]> {
    const deadline = Date.now() + CATCH_UP_MS;
    for (;;) {
      const reports = await Promise.all(running.instances.map((instance) => instance.report()));
      const done = reports.every((report) =>
        INSTANCES.every((origin) =>
          all
            ? delivery(report.received[origin], sent[origin]).missing === 0
            : report.received[origin]?.includes(sent[origin]),
        ),
      );
      if (done || Date.now() > deadline) return reports;
      await sleep(500);
    }
  }

  for (const client of NATS_CLIENTS) {
    describe(`with ${client}`, () => {
      it('broadcast: each instance follows its server’s death to another and keeps syncing', async () => {
        const running = await startFleet('broadcast', client);
        const { sent } = await publishThroughKills(running);
        const reports = await caughtUp(running, sent, false);
        const lost: number[] = [];
        for (const report of reports) {
          expect(report.statuses.at(-1)).toBe('ready');
          expect(report.stats.disconnects).toBeGreaterThanOrEqual(1);
          let missing = 0;
          for (const origin of INSTANCES) {
            const heard = delivery(report.received[origin], sent[origin]);
            expect({
              at: report.index,
              origin,
              duplicates: heard.duplicates,
              outOfOrder: heard.outOfOrder,
            }).toEqual({ at: report.index, origin, duplicates: 0, outOfOrder: 0 });
            // It kept syncing: the last event of every origin arrived everywhere.
            expect(report.received[origin]?.at(-1)).toBe(sent[origin]);
            lost.push(heard.missing);
            missing += heard.missing;
          }
          // What was lost is said, never silent: counted once in missed.
          expect({ at: report.index, missed: report.stats.missed }).toEqual({
            at: report.index,
            missed: missing,
          });
        }
        // Broadcast keeps no log: what a server held for a subscriber when it died is gone (counted).
        console.log(
          `NATS cluster, ${client}, broadcast: ${sent.reduce((a, b) => a + b, 0)} events sent, lost per (instance, origin): ${lost.join(' ')}`,
        );
      });

      it('recoverable (R3 stream): each instance follows its server’s death and gets every event once, in order', async () => {
        const running = await startFleet('recoverable', client);
        const before = await streamInfo();
        const { sent, killed } = await publishThroughKills(running, killStreamLeader);
        const after = await streamInfo();
        // The log lives on all three servers; its leader moved if its server was among those killed.
        expect(before.config.num_replicas).toBe(3);
        expect(before.cluster?.replicas).toHaveLength(2);
        console.log(
          `NATS cluster, ${client}, recoverable: killed ${killed.join(', ')}, then the stream leader; leader ` +
            `${before.cluster?.leader} at the start, ${after.cluster?.leader} at the end; ` +
            `${sent.reduce((a, b) => a + b, 0)} events sent`,
        );
        const reports = await caughtUp(running, sent, true);
        for (const report of reports) {
          expect(report.stats.disconnects).toBeGreaterThanOrEqual(1);
          for (const origin of INSTANCES) {
            expect({
              at: report.index,
              origin,
              ...delivery(report.received[origin], sent[origin]),
            }).toEqual({ at: report.index, origin, missing: 0, duplicates: 0, outOfOrder: 0 });
          }
          expect({ at: report.index, missed: report.stats.missed, gaps: report.gaps }).toEqual({
            at: report.index,
            missed: 0,
            gaps: [],
          });
        }
      });
    });
  }
});
