/** Publishes raw bytes on `key` with the nats client, bypassing the module: TO BE WRITTEN. */
export function publishRawNats(_key: string, _payloads: Array<string | Buffer>): Promise<void> {
  return Promise.reject(new Error('nats raw publisher not written yet'));
}
