import { BROKERS } from '../brokers';

/** Publishes raw bytes on subject `key` with nats.js, bypassing the module. */
export async function publishRawNats(
  key: string,
  payloads: Array<string | Buffer>,
  uri: string = BROKERS.nats,
): Promise<void> {
  const { connect } = await import('nats');
  const url = new URL(uri);
  const connection = await connect({
    servers: url.host,
    ...(url.username && url.password
      ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
      : url.username
        ? { token: decodeURIComponent(url.username) }
        : {}),
  });
  try {
    for (const payload of payloads) connection.publish(key, payload);
    await connection.flush();
  } finally {
    await connection.close();
  }
}
