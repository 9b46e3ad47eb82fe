import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { SampleConfig } from '../config';
import { FEATHERS_APP } from '../nestjs-feathers-sync';
import { MESSAGE_STORE, type MessageStore, openMessageStore } from '../store/message-store';
import { createFeathersApp } from './feathers-app';
import { FeathersHttpBridge } from './feathers-http.bridge';

/**
 * Owns the Feathers application as a Nest provider. FeathersSyncModule finds it under
 * FEATHERS_APP, and anything else in the Nest app can inject it (or the store) the same way.
 */
@Global()
@Module({
  providers: [
    {
      provide: MESSAGE_STORE,
      inject: [ConfigService],
      useFactory: (config: ConfigService<SampleConfig, true>) =>
        openMessageStore(config.get('DATABASE', { infer: true })),
    },
    {
      provide: FEATHERS_APP,
      inject: [MESSAGE_STORE, ConfigService],
      useFactory: (store: MessageStore, config: ConfigService<SampleConfig, true>) =>
        createFeathersApp(
          store,
          config.get('INSTANCE_NAME', { infer: true }),
          new Logger('Feathers'),
        ),
    },
    FeathersHttpBridge,
  ],
  exports: [FEATHERS_APP, MESSAGE_STORE],
})
export class FeathersModule implements OnApplicationShutdown {
  constructor(@Inject(MESSAGE_STORE) private readonly store: MessageStore) {}

  /** After Nest closed the HTTP server: no request can reach the store any more. */
  async onApplicationShutdown(): Promise<void> {
    await this.store.close();
  }
}
