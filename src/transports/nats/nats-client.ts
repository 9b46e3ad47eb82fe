import type {
  ConnectionOptions,
  JetStreamClient,
  JetStreamManager,
  JetStreamOptions,
  NatsConnection,
} from 'nats';
import { FeathersSyncMissingPackageError } from '../../errors/sync.errors.js';
import { messages } from '../../errors/sync.messages.js';
import type { SyncDelivery } from '../sync-transport.js';
import type { NatsClientName } from '../../options/transport-options.js';
import { loadNats, loadNatsJetStream, loadNatsTransportNode } from '../broker-packages.js';

/**
 * The NATS client the transports code against, whichever package provides it: the 3.x client
 * (`@nats-io/transport-node`, with `@nats-io/jetstream` for the recoverable mode), preferred when
 * installed, or the 2.x client (`nats`). What the transports use of a connection, of JetStream's
 * managers and of a message is the same in both (checked by the suites that run with each); what
 * differs is where JetStream comes from (a method of the 2.x connection; functions of a separate
 * package in 3.x), the status events' shape and the error classes (see nats-errors.ts). The types
 * are the 2.x package's, to which the 3.x objects conform for everything used here.
 */
export interface NatsClient {
  readonly name: NatsClientName;
  connect(options: ConnectionOptions): Promise<NatsConnection>;
  jetstreamManager(connection: NatsConnection): Promise<JetStreamManager>;
  jetstream(connection: NatsConnection, options?: JetStreamOptions): JetStreamClient;
}

const TRANSPORT_NODE = '@nats-io/transport-node';

/**
 * The client for these settings: the one `nats.client` names, else the 3.x client when it (and,
 * for `delivery: 'recoverable'`, `@nats-io/jetstream`) is installed, else `nats` 2.x. Loaded once.
 */
export async function loadNatsClient(
  forced: NatsClientName | undefined,
  delivery: SyncDelivery,
): Promise<NatsClient> {
  const jetstream = delivery === 'recoverable';
  if (forced === 'nats') return orForced(v2(), forced, 'nats');
  if (forced === TRANSPORT_NODE) {
    const packages = jetstream ? `${TRANSPORT_NODE} @nats-io/jetstream` : TRANSPORT_NODE;
    return orForced(v3(jetstream), forced, packages);
  }
  try {
    return await v3(jetstream);
  } catch (error) {
    if (!(error instanceof FeathersSyncMissingPackageError)) throw error;
  }
  try {
    return await v2();
  } catch (error) {
    if (!(error instanceof FeathersSyncMissingPackageError)) throw error;
    throw new FeathersSyncMissingPackageError(messages.missingNatsClient(delivery));
  }
}

async function orForced(
  client: Promise<NatsClient>,
  forced: NatsClientName,
  packages: string,
): Promise<NatsClient> {
  try {
    return await client;
  } catch (error) {
    if (!(error instanceof FeathersSyncMissingPackageError)) throw error;
    throw new FeathersSyncMissingPackageError(messages.missingForcedNatsClient(forced, packages));
  }
}

async function v2(): Promise<NatsClient> {
  const nats = await loadNats();
  return {
    name: 'nats',
    connect: (options) => nats.connect(options),
    jetstreamManager: (connection) => connection.jetstreamManager(),
    jetstream: (connection, options) => connection.jetstream(options),
  };
}

async function v3(withJetStream: boolean): Promise<NatsClient> {
  const core = await loadNatsTransportNode();
  const js = withJetStream ? await loadNatsJetStream() : undefined;
  const needJetStream = (): NonNullable<typeof js> => {
    // Only the recoverable transport asks for JetStream, and it loads the client with it.
    if (!js) throw new Error('JetStream was not loaded for this NATS client');
    return js;
  };
  type V3Connection = Parameters<NonNullable<typeof js>['jetstreamManager']>[0];
  return {
    name: TRANSPORT_NODE,
    connect: async (options) => seenAs<NatsConnection>(await core.connect(options)),
    jetstreamManager: async (connection) =>
      seenAs<JetStreamManager>(
        await needJetStream().jetstreamManager(seenAs<V3Connection>(connection)),
      ),
    jetstream: (connection, options) =>
      seenAs<JetStreamClient>(needJetStream().jetstream(seenAs<V3Connection>(connection), options)),
  };
}

/**
 * A 3.x object seen through the 2.x types the transports use, or back. The two packages' types
 * agree on everything used here, but not on all they declare (3.x adds methods, and how far one
 * is assignable to the other depends on how the compiler resolves the packages).
 */
function seenAs<T>(value: unknown): T {
  return value as T;
}
