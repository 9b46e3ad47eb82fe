import type { FeathersSyncOptions } from '../../../src';
import { NatsServer } from '../processes/nats-server';
import { RabbitNode } from '../processes/rabbitmq-node';
import { RedisServer } from '../processes/redis-server';
import { makeCertificates, type TestCertificates } from './certificates';

export const TLS_BROKERS = ['redis', 'amqp', 'nats'] as const;
export type TlsBrokerName = (typeof TLS_BROKERS)[number];

export interface TlsBrokerOptions {
  /** Mutual TLS: the broker demands a client certificate signed by the test CA. */
  mutual?: boolean;
  /**
   * The broker demands this user and password (Redis: `requirepass`, the user is not used; keep
   * the password free of `#` and spaces, RabbitMQ writes it to its config file as is).
   */
  auth?: { user: string; password: string };
}

/**
 * A broker of the test's own speaking only TLS on a free loopback port, with a server certificate
 * signed by a CA made for it at start (see `makeCertificates`). Built on the process helpers the
 * other own-broker suites use.
 */
export interface TlsBroker {
  name: TlsBrokerName;
  /** `rediss://`, `amqps://` or `nats://` (the server demands TLS: nats.js upgrades) on 127.0.0.1,
   * without credentials. */
  uri: string;
  port: number;
  certificates: TestCertificates;
  /** The broker's recent output (for failure messages). */
  output(): string;
  /** Kills the broker at once (the broker going away); `stop()` still cleans up. */
  kill(): Promise<void>;
  /** Stops the broker and removes its files and the certificates. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startTlsBroker(
  name: TlsBrokerName,
  options: TlsBrokerOptions = {},
): Promise<TlsBroker> {
  const certificates = makeCertificates();
  const files = {
    caFile: certificates.ca.certFile,
    certFile: certificates.server.certFile,
    keyFile: certificates.server.keyFile,
    mutual: options.mutual === true,
  };
  const { auth } = options;
  try {
    switch (name) {
      case 'redis': {
        const server = await RedisServer.start({
          tls: files,
          args: auth ? ['--requirepass', auth.password] : [],
        });
        return broker(name, `rediss://127.0.0.1:${server.port}`, server.port, certificates, {
          output: () => server.output,
          kill: () => server.halt('SIGKILL'),
          stop: () => server.stop(),
        });
      }
      case 'nats': {
        // JetStream on: the recoverable delivery runs over TLS too.
        const server = await NatsServer.start({
          jetstream: true,
          tls: files,
          args: auth ? ['--user', auth.user, '--pass', auth.password] : [],
        });
        return broker(name, `nats://127.0.0.1:${server.port}`, server.port, certificates, {
          output: () => '',
          kill: () => server.stop('SIGKILL'),
          stop: () => server.dispose(),
        });
      }
      case 'amqp': {
        const node = await RabbitNode.start({ tls: files, auth });
        return broker(name, `amqps://127.0.0.1:${node.port}`, node.port, certificates, {
          output: () => node.output,
          kill: () => node.stop(),
          stop: () => node.remove(),
        });
      }
    }
  } catch (error) {
    certificates.remove();
    throw error;
  }
}

function broker(
  name: TlsBrokerName,
  uri: string,
  port: number,
  certificates: TestCertificates,
  process: { output(): string; kill(): Promise<void>; stop(): Promise<void> },
): TlsBroker {
  let stopping: Promise<void> | undefined;
  return {
    name,
    uri,
    port,
    certificates,
    output: process.output,
    kill: process.kill,
    stop: () => (stopping ??= process.stop().finally(() => certificates.remove())),
  };
}

/** `uri` with `user:password@` (URL-encoded) before the host. */
export function withCredentials(uri: string, user: string, password: string): string {
  const url = new URL(uri);
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  return url.toString().replace(/\/$/, '');
}

/** The client-side TLS material, as a test hands it to a client. */
export interface ClientTls {
  ca?: string;
  cert?: string;
  key?: string;
  passphrase?: string;
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** The name the server's certificate is checked against (default: the uri's host). */
  servername?: string;
}

/** The module options that give `tls` to the broker's client: where each transport takes it. */
export function tlsOptions(name: TlsBrokerName, tls: ClientTls): Partial<FeathersSyncOptions> {
  switch (name) {
    case 'redis':
      return { redis: { options: { tls: { ...tls } } } };
    case 'amqp':
      return { amqp: { socketOptions: { ...tls, ...(tls.ca ? { ca: [tls.ca] } : {}) } } };
    case 'nats':
      return { nats: { connectionOptions: { tls: { ...tls } } } };
  }
}

/** Short reconnect waits, so that a scenario never waits out a long backoff. */
export const FAST_RECONNECT: Record<TlsBrokerName, Partial<FeathersSyncOptions>> = {
  redis: {},
  amqp: { amqp: { reconnectDelay: 100, maxReconnectDelay: 1_000, streamSegmentBytes: 100_000 } },
  nats: { nats: { connectionOptions: { reconnectTimeWait: 200, reconnectJitterTLS: 100 } } },
};

/** The parts, each over the ones before, one level deep (so that `amqp: {…}` of each survive). */
export function mergeOptions(
  ...parts: Array<Partial<FeathersSyncOptions>>
): Partial<FeathersSyncOptions> {
  const out: Record<string, unknown> = {};
  for (const part of parts) {
    for (const [name, value] of Object.entries(part)) {
      const before = out[name];
      out[name] =
        before && typeof before === 'object' && value && typeof value === 'object'
          ? mergeOptions(before, value as Partial<FeathersSyncOptions>)
          : value;
    }
  }
  return out;
}
