import { Module } from '@nestjs/common';
import { SYNC_TRANSPORT } from './feathers-sync.constants.js';
import { FeathersSyncConfigurableModule } from './feathers-sync.module-definition.js';
import {
  resolvedOptionsProvider,
  telemetryProvider,
  transportProvider,
} from './feathers-sync.providers.js';
import { SyncService } from './sync.service.js';

/**
 * Keeps Feathers service events in sync between every instance of the app.
 *
 * ```ts
 * FeathersSyncModule.forRootAsync({
 *   imports: [ConfigModule],
 *   inject: [ConfigService],
 *   useFactory: (config: ConfigService) => ({ uri: config.getOrThrow('FEATHERS_SYNC_URI') }),
 * })
 * ```
 * Global by default (`isGlobal: false` to opt out).
 */
@Module({
  providers: [resolvedOptionsProvider, transportProvider, telemetryProvider, SyncService],
  exports: [SyncService, SYNC_TRANSPORT],
})
export class FeathersSyncModule extends FeathersSyncConfigurableModule {}
