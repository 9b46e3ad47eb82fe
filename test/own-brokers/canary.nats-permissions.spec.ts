import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SyncDelivery } from '../../src';
import type { NatsClientName } from '../../src/options/transport-options';
import { uniqueKey } from '../support/brokers';
import { describeWithBinaries } from '../support/durable';
import { sleep, waitFor } from '../support/feathers-app';
import { closeAll, startInstance, type Instance } from '../support/instances';
import { NATS_CLIENTS } from '../support/nats-clients';
import { NatsServer } from '../support/processes/nats-server';
import { capturingLogger, recordStatuses } from '../support/status-log';

/**
 * A permission the server takes away on a live connection, by reloading its config
 * (`nats-server --signal reload`): nothing reconnects, only the canary notices. Broadcast: the
 * subscription on the key is revoked (the server drops it). Recoverable: publishing to the key is
 * denied, so nothing reaches the stream (a JetStream reader's deliveries come on an inbox, and its
 * consumer has idle heartbeats of its own that turn a revoked inbox into a reconnect).
 */
const HEARTBEAT_MS = 300;
const STALE_WITHIN_MS = 3 * HEARTBEAT_MS + 10_000;

type Revoked = 'subscribe' | 'publish';

/** The server's whole config; `jetstream`: its store (a reload applies the file, flags aside). */
function config(key: string, jetstream: string | undefined, revoked?: Revoked): string {
  const rule = (what: Revoked) => (revoked === what ? `{ allow: ">", deny: ["${key}"] }` : '">"');
  return (
    (jetstream ? `jetstream { store_dir: "${jetstream}" }\n` : '') +
    'authorization { users = [ { user: "sync", password: "s3cret", permissions: ' +
    `{ publish: ${rule('publish')}, subscribe: ${rule('subscribe')} } } ] }\n`
  );
}

const CASES: Array<[SyncDelivery, Revoked, NatsClientName]> = NATS_CLIENTS.flatMap((client) => [
  ['broadcast', 'subscribe', client] as [SyncDelivery, Revoked, NatsClientName],
  ['recoverable', 'publish', client] as [SyncDelivery, Revoked, NatsClientName],
]);

for (const [delivery, revoked, client] of CASES) {
  describeWithBinaries(
    'nats',
    `canary over nats (${delivery}): the ${revoked} permission revoked on a live connection, client ${client}`,
    () => {
      let server: NatsServer;
      let dir: string;
      let file: string;
      let store: string | undefined;
      const key = uniqueKey('canary-perm');
      const instances: Instance[] = [];

      beforeAll(async () => {
        dir = await mkdtemp(join(tmpdir(), 'nats-perm-'));
        file = join(dir, 'nats.conf');
        store = delivery === 'recoverable' ? join(dir, 'jetstream') : undefined;
        await writeFile(file, config(key, store));
        server = await NatsServer.start({ args: ['-c', file] });
      });
      afterAll(async () => {
        await closeAll(instances);
        await server?.dispose();
        await rm(dir, { recursive: true, force: true });
      });

      it('turns stale within 3 intervals, then ready once the permission is back', async () => {
        const logger = capturingLogger();
        const a = await startInstance({
          uri: `nats://sync:s3cret@127.0.0.1:${server.port}`,
          key,
          delivery,
          nats: { client },
          heartbeatMs: HEARTBEAT_MS,
          logger,
        });
        instances.push(a);
        await a.sync.ready;
        await waitFor(
          () => (a.sync.stats().canary?.returned ?? 0) >= 1,
          'a first canary back',
          STALE_WITHIN_MS,
        );
        const statuses = recordStatuses(a.sync);

        await writeFile(file, config(key, store, revoked));
        server.reload();
        await waitFor(() => a.sync.status === 'stale', 'status stale', STALE_WITHIN_MS);
        // The same connection throughout; over core NATS the server dropped the subscription.
        expect(a.sync.stats().disconnects).toBe(0);
        if (revoked === 'subscribe') expect(await server.subscriberCount(key)).toBe(0);
        await sleep(3 * HEARTBEAT_MS);
        expect(a.sync.status).toBe('stale');

        await writeFile(file, config(key, store));
        server.reload();
        // Recoverable: what was refused meanwhile is sent again first (a refused publish may only
        // fail once its PubAck timed out), so the canary may come back later than over core NATS.
        await waitFor(() => a.sync.status === 'ready', 'ready again', 40_000);
        expect(statuses).toEqual(['ready', 'stale', 'ready']);
        if (revoked === 'subscribe') expect(await server.subscriberCount(key)).toBe(1);
        expect(logger.warnings.filter((w) => w.includes('canaries'))).toHaveLength(1);
        // No credential in anything logged.
        expect([...logger.warnings, ...logger.logs].join('\n')).not.toContain('s3cret');
      }, 90_000);
    },
  );
}
