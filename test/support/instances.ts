import 'reflect-metadata';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FeathersSyncModule, SyncService, type FeathersSyncOptions } from '../../src';
import { createFeathersApp, type TestApp } from './feathers-app';

export interface Instance {
  nest: INestApplicationContext;
  app: TestApp;
  sync: SyncService;
}

/** One app instance as users run it: a Nest application context owning a Feathers app. */
export async function startInstance(
  options: FeathersSyncOptions,
  app: TestApp = createFeathersApp(),
): Promise<Instance> {
  @Module({
    imports: [FeathersSyncModule.forRoot({ logger: false, ...options, app: app as never })],
  })
  class InstanceModule {}
  const nest = await NestFactory.createApplicationContext(InstanceModule, {
    logger: false,
    // A boot error fails the test that caused it (Nest would exit the process by default).
    abortOnError: false,
  });
  return { nest, app, sync: nest.get(SyncService) };
}

export async function startInstances(
  count: number,
  options: FeathersSyncOptions,
): Promise<Instance[]> {
  const instances: Instance[] = [];
  try {
    for (let i = 0; i < count; i++) instances.push(await startInstance(options));
    await Promise.all(instances.map((instance) => instance.sync.ready));
  } catch (error) {
    // A failed start must not leave the others connected: jest would never exit.
    await closeAll(instances);
    throw error;
  }
  return instances;
}

export async function closeAll(instances: Instance[]): Promise<void> {
  await Promise.all(instances.map((instance) => instance.nest.close()));
  instances.length = 0;
}
