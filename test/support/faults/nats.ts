import type { FaultBroker } from './types';

/** nats: TO BE WRITTEN. */
export function openFaultBroker(): Promise<FaultBroker> {
  return Promise.reject(new Error('nats fault broker not written yet'));
}
