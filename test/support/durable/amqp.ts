import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { RabbitNode } from '../processes/rabbitmq-node';
import type { DurableBroker, DurableBrokerOptions } from './types';

/**
 * A RabbitMQ node of the suite's own (never the shared one). Streams are always on disk, so
 * persistent is RabbitMQ as users run it; not persistent wipes the node's data dir while it is
 * down (a node that lost its disk). `restart` stops the node cleanly, keeps its port closed for
 * `downMs`, and starts it again on the same port (~5 s: a real restart, not just the listener).
 *
 * Instances reconnect fast (so the suite stays short) and use small stream segments: RabbitMQ
 * trims a stream by whole segments only, and the suite's short retention must be able to bite.
 */
export async function openDurableRabbit(
  options: DurableBrokerOptions = {},
): Promise<DurableBroker> {
  const persistent = options.persistent ?? true;
  const node = await RabbitNode.start();
  return {
    uri: node.uri,
    persistent,
    options: {
      amqp: { reconnectDelay: 100, maxReconnectDelay: 1_000, streamSegmentBytes: 100_000 },
    },
    async restart(downMs) {
      await node.stop();
      if (!persistent) rmSync(join(node.dir, 'mnesia'), { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await node.start();
    },
    stop: () => node.remove(),
  };
}
