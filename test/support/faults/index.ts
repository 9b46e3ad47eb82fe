import type { BrokerName } from '../brokers';
import type { FaultBroker } from './types';

export type { FaultBroker } from './types';

export async function openFaultBroker(broker: Exclude<BrokerName, 'memory'>): Promise<FaultBroker> {
  switch (broker) {
    case 'redis':
      return (await import('./redis')).openFaultBroker();
    case 'amqp':
      return (await import('./amqp')).openFaultBroker();
    case 'nats':
      return (await import('./nats')).openFaultBroker();
  }
}
