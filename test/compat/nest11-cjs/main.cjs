// Boots two Nest 11 application contexts (CommonJS) with the installed package and checks that an
// event crosses between them over the broker given in argv, then exits by itself.
require('reflect-metadata');
const { Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { feathers } = require('@feathersjs/feathers');
const { FeathersSyncModule, SyncService } = require('nestjs-feathers-sync');

const uri = process.argv[2];
const key = `compat-cjs-${process.pid}`;

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

async function main() {
  const a = await instance();
  const b = await instance();
  const heard = new Promise((resolve) =>
    b.app.service('todos').once('created', (data, context) => resolve(context)),
  );
  await a.app.service('todos').create({ text: 'cjs' });
  const context = await heard;
  if (context.sync.origin !== a.sync.instanceId)
    throw new Error('event did not come from instance a');
  await Promise.all([a.nest.close(), b.nest.close()]);
  const entry = require.resolve('nestjs-feathers-sync');
  console.log(
    JSON.stringify({
      nest: require('@nestjs/core/package.json').version,
      entry: entry.slice(entry.indexOf('dist/')),
      type: a.sync.type,
    }),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
