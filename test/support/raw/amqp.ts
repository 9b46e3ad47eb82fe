/** Publishes raw bytes on `key` with the amqp client, bypassing the module: TO BE WRITTEN. */
export function publishRawAmqp(_key: string, _payloads: Array<string | Buffer>): Promise<void> {
  return Promise.reject(new Error('amqp raw publisher not written yet'));
}
