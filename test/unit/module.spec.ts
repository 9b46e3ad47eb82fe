import 'reflect-metadata';
import { Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import {
  FEATHERS_APP,
  FeathersSyncConfigError,
  FeathersSyncModule,
  type FeathersSyncOptions,
  type FeathersSyncOptionsFactory,
  MemoryTransport,
  SYNC_TRANSPORT,
  SyncService,
} from '../../src';
import { createFeathersApp } from '../support/feathers-app';

/** One test per registration flavour, each asserting what gets resolved (as @nestjs/terminus does). */
describe('FeathersSyncModule registration', () => {
  let context: INestApplicationContext | undefined;
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  async function boot(
    imports: unknown[],
    providers: unknown[] = [],
  ): Promise<INestApplicationContext> {
    const moduleRef = await Test.createTestingModule({
      imports: imports as never[],
      providers: providers as never[],
    }).compile();
    context = await moduleRef.init();
    return context;
  }

  function expectResolved(ctx: INestApplicationContext, key: string) {
    const sync = ctx.get(SyncService);
    expect(sync.type).toBe('memory');
    expect(ctx.get(SYNC_TRANSPORT)).toBeInstanceOf(MemoryTransport);
    expect(sync.stats().instanceId).toEqual(expect.any(String));
    expect((sync.app as any).sync.type).toBe('memory');
    return sync.ready.then(() => {
      expect(sync.status).toBe('ready');
      expect((sync.app as any).services.todos).toBeDefined();
      expect(key).toBeTruthy();
    });
  }

  it('forRoot(options)', async () => {
    const app = createFeathersApp();
    const ctx = await boot([
      FeathersSyncModule.forRoot({ uri: 'memory://x', key: 'k-root', app, logger: false }),
    ]);
    await expectResolved(ctx, 'k-root');
    expect(ctx.get(SyncService).app).toBe(app);
  });

  it('forRootAsync with useFactory, inject and imports (ConfigService)', async () => {
    process.env.TEST_SYNC_URI = 'memory://from-env';
    const app = createFeathersApp();
    const ctx = await boot([
      FeathersSyncModule.forRootAsync({
        imports: [ConfigModule.forRoot({ ignoreEnvFile: true })],
        inject: [ConfigService],
        useFactory: (config: ConfigService): FeathersSyncOptions => ({
          uri: config.getOrThrow<string>('TEST_SYNC_URI'),
          app,
          logger: false,
        }),
      }),
    ]);
    await expectResolved(ctx, 'env');
  });

  it('forRootAsync with an async useFactory', async () => {
    const app = createFeathersApp();
    const ctx = await boot([
      FeathersSyncModule.forRootAsync({
        useFactory: async () => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          return { uri: 'memory://async', app, logger: false as const };
        },
      }),
    ]);
    await expectResolved(ctx, 'async');
  });

  it('forRootAsync with useClass', async () => {
    const app = createFeathersApp();
    @Injectable()
    class SyncConfig implements FeathersSyncOptionsFactory {
      createFeathersSyncOptions(): FeathersSyncOptions {
        return { uri: 'memory://class', app, logger: false };
      }
    }
    const ctx = await boot([FeathersSyncModule.forRootAsync({ useClass: SyncConfig })]);
    await expectResolved(ctx, 'class');
  });

  it('forRootAsync with useExisting', async () => {
    const app = createFeathersApp();
    @Injectable()
    class ExistingConfig implements FeathersSyncOptionsFactory {
      createFeathersSyncOptions(): FeathersSyncOptions {
        return { uri: 'memory://existing', app, logger: false };
      }
    }
    @Module({ providers: [ExistingConfig], exports: [ExistingConfig] })
    class ConfigHolder {}
    const ctx = await boot([
      FeathersSyncModule.forRootAsync({ imports: [ConfigHolder], useExisting: ExistingConfig }),
    ]);
    await expectResolved(ctx, 'existing');
  });

  it('is global by default: a feature module injects SyncService without importing it', async () => {
    @Injectable()
    class Consumer {
      constructor(readonly sync: SyncService) {}
    }
    @Module({ providers: [Consumer], exports: [Consumer] })
    class Feature {}
    const ctx = await boot([
      FeathersSyncModule.forRoot({ uri: 'memory://g', app: createFeathersApp(), logger: false }),
      Feature,
    ]);
    expect(ctx.get(Consumer).sync).toBe(ctx.get(SyncService));
  });

  it('isGlobal: false keeps it out of modules that do not import it', async () => {
    @Injectable()
    class Consumer {
      constructor(readonly sync: SyncService) {}
    }
    @Module({ providers: [Consumer] })
    class Feature {}
    await expect(
      boot([
        FeathersSyncModule.forRoot({
          uri: 'memory://local',
          app: createFeathersApp(),
          logger: false,
          isGlobal: false,
        }),
        Feature,
      ]),
    ).rejects.toThrow(/SyncService/);
  });

  it('finds the Feathers app under FEATHERS_APP in any module, app-wide', async () => {
    const app = createFeathersApp();
    @Module({ providers: [{ provide: FEATHERS_APP, useValue: app }] })
    class FeathersHolder {}
    const ctx = await boot([
      FeathersHolder,
      FeathersSyncModule.forRoot({ uri: 'memory://p', logger: false }),
    ]);
    expect(ctx.get(SyncService).app).toBe(app);
  });
});

describe('FeathersSyncModule boot errors', () => {
  async function bootError(
    options: FeathersSyncOptions,
    extraImports: unknown[] = [],
  ): Promise<Error> {
    @Module({
      imports: [
        ...(extraImports as never[]),
        FeathersSyncModule.forRoot({ logger: false, ...options }),
      ],
    })
    class AppModule {}
    try {
      const ctx = await NestFactory.createApplicationContext(AppModule, {
        logger: false,
        abortOnError: false,
      });
      await ctx.close();
    } catch (error) {
      return error as Error;
    }
    throw new Error('boot succeeded but should have failed');
  }

  it('names the missing uri and how to give one', async () => {
    const error = await bootError({ app: createFeathersApp() });
    expect(error).toBeInstanceOf(FeathersSyncConfigError);
    expect(error.message).toMatch(/neither a `uri` nor a `transport`/);
    expect(error.message).toMatch(/FEATHERS_SYNC_URI/);
  });

  it('lists every supported scheme for an unknown one, without the credentials', async () => {
    const error = await bootError({
      uri: 'mongodb://admin:hunter2@db:27017',
      app: createFeathersApp(),
    });
    expect(error).toBeInstanceOf(FeathersSyncConfigError);
    expect(error.message).toMatch(/"mongodb:\/\/"/);
    for (const scheme of ['redis://', 'rediss://', 'amqp://', 'amqps://', 'nats://', 'memory://']) {
      expect(error.message).toContain(scheme);
    }
    expect(error.message).not.toContain('hunter2');
  });

  it('rejects a uri it cannot parse, without echoing it', async () => {
    const error = await bootError({ uri: 'localhost:6379', app: createFeathersApp() });
    expect(error.message).toMatch(/cannot parse the uri/);
    const secret = await bootError({ uri: 'redis://user:w0rd@[::1', app: createFeathersApp() });
    expect(secret.message).not.toContain('w0rd');
  });

  it('says the three ways to provide the Feathers app when none is found', async () => {
    const error = await bootError({ uri: 'memory://none' });
    expect(error).toBeInstanceOf(FeathersSyncConfigError);
    expect(error.message).toMatch(/found no Feathers application/);
    expect(error.message).toMatch(/`app` option/);
    expect(error.message).toMatch(/FEATHERS_APP/);
    expect(error.message).toMatch(/ExpressAdapter/);
  });

  it('refuses an object that is not a Feathers app', async () => {
    const error = await bootError({ uri: 'memory://bad', app: {} as never });
    expect(error.message).toMatch(/is not a Feathers application/);
  });

  it.each([[''], ['has space'], ['wild*card'], ['x'.repeat(256)], [42]])(
    'rejects the key %p',
    async (key) => {
      const error = await bootError({
        uri: 'memory://k',
        key: key as never,
        app: createFeathersApp(),
      });
      expect(error).toBeInstanceOf(FeathersSyncConfigError);
      expect(error.message).toMatch(/invalid `key`/);
      expect(error.message).toMatch(/letters, digits/);
    },
  );

  it('rejects serializers that are not functions and bad numbers', async () => {
    expect(
      (await bootError({ uri: 'memory://s', serialize: 'json' as never, app: createFeathersApp() }))
        .message,
    ).toMatch(/`serialize` must be a function/);
    expect(
      (await bootError({ uri: 'memory://s', connectTimeout: -1, app: createFeathersApp() }))
        .message,
    ).toMatch(/`connectTimeout` must be a number > 0/);
  });

  it('rejects a transport that does not implement SyncTransport', async () => {
    const error = await bootError({ transport: { type: 'x' } as never, app: createFeathersApp() });
    expect(error.message).toMatch(/must be a class or an object implementing SyncTransport/);
  });
});
