import { ConsoleLogger, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { type SampleConfig, validateConfig } from './config';
import { FeathersModule } from './feathers/feathers.module';
import { HealthController } from './health/health.controller';
import { FeathersSyncModule } from './nestjs-feathers-sync';

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
        // The Feathers app comes from the FEATHERS_APP provider of FeathersModule.
        // Connection events stay visible whatever LOG_LEVEL quiets in Nest's own output.
        logger: new ConsoleLogger('FeathersSync', {
          prefix: config.get('INSTANCE_NAME', { infer: true }),
          logLevels: ['log', 'warn', 'error'],
        }),
      }),
    }),
  ],
  controllers: [HealthController],
})
export class AppModule {}
