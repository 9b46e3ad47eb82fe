import type { SyncDelivery } from '../../src';
import { uniqueKey } from '../support/brokers';
import { waitFor } from '../support/feathers-app';
import { closeAll, startInstance, type Instance } from '../support/instances';
import { RabbitNode } from '../support/processes/rabbitmq-node';
import { recordStatuses } from '../support/status-log';

/**
 * A RabbitMQ node of the test's own under a memory alarm (`set_vm_memory_high_watermark 0`): it
 * blocks every publishing connection and keeps it open, in both delivery modes, so nothing
 * reconnects and nothing this instance sends comes back. Only the canary notices.
 */
const HEARTBEAT_MS = 300;
const WITHIN_MS = 3 * HEARTBEAT_MS + 15_000;
const DELIVERIES: SyncDelivery[] = ['broadcast', 'recoverable'];

describe('canary over amqp: publishing blocked by a memory alarm', () => {
  let node: RabbitNode;
  const instances: Instance[] = [];

  beforeAll(async () => {
    node = await RabbitNode.start();
  }, 120_000);
  afterAll(async () => {
    await closeAll(instances);
    await node?.remove();
  }, 60_000);

  it.each(DELIVERIES)(
    '%s: turns stale within 3 intervals while blocked, ready once unblocked',
    async (delivery) => {
      const a = await startInstance({
        uri: node.uri,
        key: uniqueKey('canary-blocked'),
        delivery,
        heartbeatMs: HEARTBEAT_MS,
      });
      instances.push(a);
      await a.sync.ready;
      await waitFor(() => (a.sync.stats().canary?.returned ?? 0) >= 1, 'a first canary back');
      const statuses = recordStatuses(a.sync);

      await node.ctl('set_vm_memory_high_watermark', '0');
      try {
        await waitFor(() => a.sync.status === 'stale', 'status stale', WITHIN_MS);
        expect(a.sync.stats().disconnects).toBe(0);
      } finally {
        await node.ctl('set_vm_memory_high_watermark', '0.4');
      }
      await waitFor(() => a.sync.status === 'ready', 'ready again', WITHIN_MS);
      expect(statuses).toEqual(['ready', 'stale', 'ready']);
      expect(a.sync.stats().disconnects).toBe(0);
    },
    90_000,
  );
});
