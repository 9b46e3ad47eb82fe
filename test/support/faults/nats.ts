import { NatsServer } from '../processes/nats-server';
import type { FaultBroker } from './types';

export { NatsServer } from '../processes/nats-server';

/**
 * NATS: a nats-server of our own on free loopback ports (the shared server on 4222 is never
 * touched). `drop()` kills it and starts it again on the same port, which cuts every connection.
 */
export async function openFaultBroker(): Promise<FaultBroker> {
  const server = await NatsServer.start();
  return {
    uri: server.uri,
    options: {
      // Fast reconnects keep the test short; resumeDelay stays above reconnectTimeWait plus jitter
      // with margin, so every instance is subscribed again before any sends what it kept.
      nats: {
        connectionOptions: { reconnectTimeWait: 100, reconnectJitter: 100 },
        resumeDelay: 500,
      },
    },
    drop: () => server.restart(),
    subscriberCount: (key) => server.subscriberCount(key),
    close: () => server.dispose(),
  };
}
