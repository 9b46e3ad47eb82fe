import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { FeathersSyncOptions } from './options/feathers-sync.options.js';

/** Extras of forRoot/forRootAsync beside the options themselves. */
export interface FeathersSyncModuleExtras {
  /** Register the module globally (default true), so SyncService is injectable everywhere. */
  isGlobal?: boolean;
}

export const {
  ConfigurableModuleClass: FeathersSyncConfigurableModule,
  MODULE_OPTIONS_TOKEN: FEATHERS_SYNC_OPTIONS,
  OPTIONS_TYPE: FEATHERS_SYNC_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: FEATHERS_SYNC_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<FeathersSyncOptions>({ moduleName: 'FeathersSync' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createFeathersSyncOptions')
  .setExtras<FeathersSyncModuleExtras>({ isGlobal: true }, (definition, extras) => ({
    ...definition,
    global: extras.isGlobal ?? true,
  }))
  .build();

/** What a `useClass` / `useExisting` options factory implements. */
export interface FeathersSyncOptionsFactory {
  createFeathersSyncOptions(): FeathersSyncOptions | Promise<FeathersSyncOptions>;
}
