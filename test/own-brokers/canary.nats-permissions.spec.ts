import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { uniqueKey } from '../support/brokers';
import { sleep, waitFor } from '../support/feathers-app';
import { closeAll, startInstance, type Instance } from '../support/instances';
import { NatsServer } from '../support/processes/nats-server';
import { capturingLogger, recordStatuses } from '../support/status-log';

/**
 * A NATS subscription the server takes away on a live connection: a permission changed and the
 * server reloaded its config (`nats-server --signal reload`). The connection stays up, so nothing
 * reconnects; only the canary notices. Core NATS (broadcast) only: a JetStream reader's consumer
 * has idle heartbeats of its own and turns such a fault into a reconnect.
 */
const HEARTBEAT_MS = 300;
const STALE_WITHIN_MS = 3 * HEARTBEAT_MS + 10_000;

function hasNatsServer(): boolean {
  if (existsSync('/usr/sbin/nats-server') || process.env.NATS_SERVER_BIN) return true;
  try {
    execFileSync('nats-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function config(key: string, allowed: boolean): string {
  const subscribe = allowed ? '">"' : `{ allow: ">", deny: ["${key}"] }`;
  return `authorization { users = [ { user: "sync", password: "s3cret", permissions: { publish: ">", subscribe: ${subscribe} } } ] }\n`;
}

(hasNatsServer() || process.env.CI === 'true' ? describe : describe.skip)(
  'canary over nats: a subscription the server revokes on a live connection',
  () => {
    let server: NatsServer;
    let dir: string;
    let file: string;
    const key = uniqueKey('canary-perm');
    const instances: Instance[] = [];

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'nats-perm-'));
      file = join(dir, 'nats.conf');
      await writeFile(file, config(key, true));
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

      await writeFile(file, config(key, false));
      server.reload();
      await waitFor(() => a.sync.status === 'stale', 'status stale', STALE_WITHIN_MS);
      // The server dropped the subscription; the connection is the same one.
      expect(await server.subscriberCount(key)).toBe(0);
      expect(a.sync.stats().disconnects).toBe(0);
      await sleep(3 * HEARTBEAT_MS);
      expect(a.sync.status).toBe('stale');

      await writeFile(file, config(key, true));
      server.reload();
      await waitFor(() => a.sync.status === 'ready', 'ready again', STALE_WITHIN_MS);
      expect(statuses).toEqual(['ready', 'stale', 'ready']);
      expect(await server.subscriberCount(key)).toBe(1);
      expect(logger.warnings.filter((w) => w.includes('canaries'))).toHaveLength(1);
      // No credential in anything logged.
      expect([...logger.warnings, ...logger.logs].join('\n')).not.toContain('s3cret');
    });
  },
);
