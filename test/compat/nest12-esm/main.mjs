// Boots two Nest 12 application contexts (ES modules) with the installed package and checks that
// an event crosses between them over the broker given in argv, then exits by itself.
import 'reflect-metadata';
import { createRequire } from 'node:module';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { feathers } from '@feathersjs/feathers';
import { FeathersSyncModule, SyncService } from 'nestjs-feathers-sync';

const uri = process.argv[2];
const key = `compat-esm-${process.pid}`;

async function instance() {
  const app = feathers();
  app.use('todos', {
    async create(data) {
      return { id: 1, ...data };
    },
  });
  class InstanceModule {}
  Module({ imports: [FeathersSyncModule.forRoot({ uri, key, app, logger: false })] })(
    InstanceModule,
  );
  const nest = await NestFactory.createApplicationContext(InstanceModule, { logger: false });
  const sync = nest.get(SyncService);
  await sync.ready;
  return { nest, app, sync };
}

const a = await instance();
const b = await instance();
const heard = new Promise((resolve) =>
  b.app.service('todos').once('created', (data, context) => resolve(context)),
);
await a.app.service('todos').create({ text: 'esm' });
const context = await heard;
if (context.sync.origin !== a.sync.instanceId)
  throw new Error('event did not come from instance a');
await Promise.all([a.nest.close(), b.nest.close()]);

const require = createRequire(import.meta.url);
const nestVersion = require('@nestjs/core/package.json').version;
const entry = import.meta.resolve('nestjs-feathers-sync');
console.log(
  JSON.stringify({
    nest: nestVersion,
    entry: entry.slice(entry.indexOf('dist/')),
    type: a.sync.type,
  }),
);
