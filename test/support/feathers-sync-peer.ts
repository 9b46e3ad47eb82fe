import sync from 'feathers-sync';
import { BROKERS, type BrokerName } from './brokers';
import { createFeathersApp, type TestApp } from './feathers-app';

/**
 * A plain Feathers app running the real feathers-sync 3.1.1, as a not-yet-migrated instance of the
 * fleet would. feathers-sync has no close(): `closePeer` ends its connections by hand.
 */
export async function startFeathersSyncPeer(
  broker: Exclude<BrokerName, 'memory'>,
  key: string,
  extra: Record<string, unknown> = {},
): Promise<TestApp> {
  const uri = BROKERS[broker];
  const options: Record<string, unknown> = { uri, key, ...extra };
  // Its NATS adapter crashes without natsConnectionOptions, and publishes to `servers` only.
  if (broker === 'nats') options.natsConnectionOptions = { servers: [uri] };
  // feathers-sync patches services through app.mixins: configure it before registering them.
  const app = createFeathersApp((bare) => bare.configure(sync(options as never)));
  await (app as any).sync.ready;
  return app;
}

export async function closePeer(app: TestApp): Promise<void> {
  const state = (app as any).sync;
  switch (state?.type) {
    case 'redis':
      await Promise.allSettled([state.sub.quit(), state.pub.quit()]);
      return;
    case 'amqp':
      await state.connection.close();
      return;
    case 'nats': {
      const connection = await state.ready;
      await connection.close();
      return;
    }
  }
}
