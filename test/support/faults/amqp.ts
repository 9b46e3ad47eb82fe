import type { FaultBroker } from './types';

/** amqp: TO BE WRITTEN. */
export function openFaultBroker(): Promise<FaultBroker> {
  return Promise.reject(new Error('amqp fault broker not written yet'));
}
