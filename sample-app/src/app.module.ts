import { ConsoleLogger, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { type SampleConfig, validateConfig } from './config';
import { FeathersModule } from './feathers/feathers.module';
import { HealthController } from './health/health.controller';
import { SyncStatusBroadcast } from './health/sync-status.broadcast';
import { FeathersSyncModule } from './nestjs-feathers-sync';
import { FeathersSyncHealthModule } from './nestjs-feathers-sync-terminus';

@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, cache: true, validate: validateConfig }),
    FeathersModule,
    FeathersSyncModule.forRootAsync({
      imports: [ConfigModule],
      inject: [ConfigService],
      useFactory: (config: ConfigService<SampleConfig, true>) => ({
        uri: config.get('FEATHERS_SYNC_URI', { infer: true }),
        key: config.get('FEATHERS_SYNC_KEY', { infer: true }),
        heartbeatMs: config.get('FEATHERS_SYNC_HEARTBEAT_MS', { infer: true }),
        // The Feathers app comes from the FEATHERS_APP provider of FeathersModule.
        // Connection events stay visible whatever LOG_LEVEL quiets in Nest's own output.
        logger: new ConsoleLogger('FeathersSync', {
          prefix: config.get('INSTANCE_NAME', { infer: true }),
          logLevels: ['log', 'warn', 'error'],
        }),
      }),
    }),
    TerminusModule.forRoot({ errorLogStyle: 'pretty' }),
    FeathersSyncHealthModule,
  ],
  controllers: [HealthController],
  providers: [SyncStatusBroadcast],
})
export class AppModule {}
