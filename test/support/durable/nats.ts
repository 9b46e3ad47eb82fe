import { NatsServer } from '../processes/nats-server';
import type { DurableBroker, DurableBrokerOptions } from './types';

/**
 * A nats-server of the suite's own with JetStream (`-js -sd <temp dir>`). `restart` is a clean
 * stop (SIGTERM: the file store is flushed) and a start on the same port after `downMs`, on the
 * same store when persistent, on an empty one when not (a server that lost its store).
 */
export async function openDurableNats(options: DurableBrokerOptions = {}): Promise<DurableBroker> {
  const persistent = options.persistent ?? true;
  const server = await NatsServer.start({ jetstream: true });
  return {
    uri: server.uri,
    persistent,
    options: {
      // Fast reconnects keep the suite short (the defaults wait 500 ms + up to 500 ms of jitter).
      nats: { connectionOptions: { reconnectTimeWait: 100, reconnectJitter: 100 } },
    },
    restart: (downMs) => server.restart(downMs, { signal: 'SIGTERM', wipe: !persistent }),
    stop: () => server.dispose(),
  };
}
