import { Redis } from 'ioredis';
import type { SyncDelivery } from '../../src';
import { uniqueKey } from '../support/brokers';
import { waitFor } from '../support/feathers-app';
import { closeAll, startInstance, type Instance } from '../support/instances';
import { RedisServer } from '../support/processes/redis-server';
import { recordStatuses } from '../support/status-log';

/**
 * A Redis that holds every write (`CLIENT PAUSE … WRITE`: PUBLISH and XADD wait, reads go on) on a
 * server of the test's own: every connection stays up and nothing reconnects, yet nothing this
 * instance sends comes back, in both delivery modes. Only the canary notices.
 */
const HEARTBEAT_MS = 300;
const WITHIN_MS = 3 * HEARTBEAT_MS + 10_000;
const DELIVERIES: SyncDelivery[] = ['broadcast', 'recoverable'];

describe.each(DELIVERIES)('canary over redis (%s): writes held by the server', (delivery) => {
  let server: RedisServer;
  let admin: Redis;
  const instances: Instance[] = [];

  beforeAll(async () => {
    server = await RedisServer.start();
    admin = new Redis(server.uri);
  });
  afterAll(async () => {
    await closeAll(instances);
    admin?.disconnect();
    await server?.stop();
  });

  it('turns stale within 3 intervals while paused, ready once writes flow again', async () => {
    const a = await startInstance({
      uri: server.uri,
      key: uniqueKey('canary-paused'),
      delivery,
      heartbeatMs: HEARTBEAT_MS,
    });
    instances.push(a);
    await a.sync.ready;
    await waitFor(() => (a.sync.stats().canary?.returned ?? 0) >= 1, 'a first canary back');
    const statuses = recordStatuses(a.sync);

    await admin.call('CLIENT', 'PAUSE', '60000', 'WRITE');
    try {
      await waitFor(() => a.sync.status === 'stale', 'status stale', WITHIN_MS);
      expect(a.sync.stats().disconnects).toBe(0);
    } finally {
      await admin.call('CLIENT', 'UNPAUSE');
    }
    await waitFor(() => a.sync.status === 'ready', 'ready again', WITHIN_MS);
    expect(statuses).toEqual(['ready', 'stale', 'ready']);
    expect(a.sync.stats().disconnects).toBe(0);
  });
});
