import 'reflect-metadata';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import { FeathersSyncModule, SYNC_TRANSPORT, SyncService } from '../../src';
import { FeathersSyncHealthIndicator, FeathersSyncHealthModule } from '../../src/terminus';
import { uniqueKey } from '../support/brokers';
import { createFeathersApp, waitFor } from '../support/feathers-app';
import { RedisServer } from '../support/processes/redis-server';

/**
 * The indicator in a real Nest HTTP app with TerminusModule, against a Redis of the test's own
 * (stopped and started again here; the shared broker is never touched): up with the details,
 * down (503) while the transport reconnects, and while the subscription is silently dead (stale).
 */
const HEARTBEAT_MS = 300;

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly sync: FeathersSyncHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.sync.isHealthy('sync')]);
  }
}

interface HealthBody {
  status: 'ok' | 'error';
  info?: Record<string, Record<string, unknown>>;
  error?: Record<string, Record<string, unknown>>;
}

async function getHealth(app: INestApplication): Promise<{ code: number; body: HealthBody }> {
  const response = await fetch(`${await app.getUrl()}/health`);
  return { code: response.status, body: (await response.json()) as HealthBody };
}

describe('FeathersSyncHealthIndicator with @nestjs/terminus', () => {
  let redis: RedisServer;
  let app: INestApplication;
  const key = uniqueKey('health');

  beforeAll(async () => {
    redis = await RedisServer.start();
    @Module({
      imports: [
        FeathersSyncModule.forRoot({
          uri: redis.uri,
          key,
          app: createFeathersApp() as never,
          heartbeatMs: HEARTBEAT_MS,
          logger: false,
        }),
        TerminusModule.forRoot({ logger: false }),
        FeathersSyncHealthModule,
      ],
      controllers: [HealthController],
    })
    class HealthApp {}
    app = await NestFactory.create(HealthApp, { logger: false, abortOnError: false });
    app.enableShutdownHooks();
    await app.listen(0, '127.0.0.1');
    await app.get(SyncService).ready;
  });

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('is up with the transport, the sync status, the canary round trip and the counters', async () => {
    const sync = app.get(SyncService);
    await waitFor(() => (sync.stats().canary?.returned ?? 0) >= 1, 'a canary back');
    const { code, body } = await getHealth(app);
    expect(code).toBe(200);
    expect(body.status).toBe('ok');
    expect(body.info?.sync).toEqual({
      status: 'up',
      transport: 'redis',
      syncStatus: 'ready',
      instanceId: sync.instanceId,
      canaryRoundTripMs: expect.any(Number),
      published: 0,
      received: 0,
      emitted: 0,
      missed: 0,
      publishFailed: 0,
      pending: 0,
      disconnects: 0,
      dropped: 0,
    });
  });

  it('is down while the broker is gone, and up again once it is back', async () => {
    await redis.halt('SIGKILL');
    try {
      await waitFor(async () => (await getHealth(app)).code === 503, 'a 503', 15_000);
      const { body } = await getHealth(app);
      expect(body.status).toBe('error');
      expect(body.error?.sync).toMatchObject({ status: 'down', syncStatus: 'reconnecting' });
    } finally {
      await redis.launch();
    }
    await waitFor(async () => (await getHealth(app)).code === 200, 'a 200 again', 30_000);
  });

  it('is down while the subscription is silently dead (stale)', async () => {
    const subscriber = app.get<{ subscriber: Redis }>(SYNC_TRANSPORT).subscriber;
    await subscriber.unsubscribe(key);
    try {
      await waitFor(async () => (await getHealth(app)).code === 503, 'a 503', 15_000);
      expect((await getHealth(app)).body.error?.sync).toMatchObject({
        status: 'down',
        syncStatus: 'stale',
      });
    } finally {
      await subscriber.subscribe(key);
    }
    await waitFor(async () => (await getHealth(app)).code === 200, 'a 200 again', 15_000);
  });
});
