import { resolveAmqpSettings, resolveNatsSettings } from '../../src/options/transport-options';
import {
  MAX_RECONNECT_DELAY,
  openPublisher,
  reconnectDelay,
} from '../../src/transports/redis/redis.clients';
import type * as Ioredis from 'ioredis';

/**
 * A broker that comes back is retried within a second on every transport, with jitter, unless the
 * user set the delays: these are the defaults each client library is handed.
 */
const SILENT = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('reconnection delays (defaults)', () => {
  it('Redis: grows 50 ms per attempt, never above a second, and is jittered', () => {
    const delays = Array.from({ length: 200 }, (_, i) => reconnectDelay(i + 1));
    expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_RECONNECT_DELAY);
    expect(MAX_RECONNECT_DELAY).toBe(1000);
    expect(reconnectDelay(1)).toBeLessThanOrEqual(50);
    const late = delays.slice(50);
    expect(Math.min(...late)).toBeGreaterThanOrEqual(800);
    // 150 draws between 800 and 1000 ms: all equal only if there were no jitter.
    expect(new Set(late).size).toBeGreaterThan(1);
  });

  it('Redis: the clients the module creates use it; a retryStrategy in redis.options wins', () => {
    const created: Array<Record<string, unknown>> = [];
    class FakeRedis {
      constructor(_uri: string, options: Record<string, unknown>) {
        created.push(options);
      }
    }
    const ioredis = { Redis: FakeRedis } as unknown as typeof Ioredis;
    openPublisher(ioredis, 'redis://localhost', { options: {} });
    expect(created[0].retryStrategy).toBe(reconnectDelay);
    const own = () => 5000;
    openPublisher(ioredis, 'redis://localhost', { options: { retryStrategy: own } });
    expect(created[1].retryStrategy).toBe(own);
  });

  it('RabbitMQ: amqplib recovery is capped at a second (jitter included), unless set', () => {
    expect(resolveAmqpSettings(undefined, 'k', SILENT, 5000)).toMatchObject({
      reconnectDelay: 500,
      maxReconnectDelay: 1000,
    });
    expect(resolveAmqpSettings({ maxReconnectDelay: 4000 }, 'k', SILENT, 5000)).toMatchObject({
      maxReconnectDelay: 4000,
    });
  });

  it('NATS: every wait is reconnectTimeWait plus jitter, a second at most, unless set', () => {
    const { connectionOptions } = resolveNatsSettings(undefined, 'nats://localhost:4222');
    const wait = Number(connectionOptions.reconnectTimeWait);
    const jitter = Number(connectionOptions.reconnectJitter);
    expect(jitter).toBeGreaterThan(0);
    expect(wait + jitter).toBeLessThanOrEqual(1000);
    expect(wait + Number(connectionOptions.reconnectJitterTLS)).toBeLessThanOrEqual(1000);
    const custom = resolveNatsSettings(
      { connectionOptions: { reconnectTimeWait: 2000 } },
      'nats://localhost:4222',
    );
    expect(custom.connectionOptions.reconnectTimeWait).toBe(2000);
  });
});
