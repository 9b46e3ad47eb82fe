import type { FeathersSyncOptions } from '../../src';
import { describeWithBinaries } from '../support/durable';
import { recordEvents, waitFor } from '../support/feathers-app';
import { closeAll, startInstance, type Instance } from '../support/instances';
import { uniqueKey } from '../support/brokers';
import {
  FAST_RECONNECT,
  mergeOptions,
  startTlsBroker,
  tlsOptions,
  TLS_BROKERS,
  type ClientTls,
  type TlsBroker,
  type TlsBrokerName,
} from '../support/tls/tls-brokers';

/**
 * TLS on every broker, each against a broker process of the test's own that speaks only TLS, with
 * a CA and certificates made by openssl at start: the CA given through the transport's own option,
 * instances sync; without it (or with another CA), `ready` rejects, and boot fails under
 * `waitForBroker`, with an error that says the certificate was not trusted and where the CA goes.
 * Mutual TLS: with a client certificate instances sync, without one they are refused, and told so.
 */

/** What the error names as the place of the CA, per broker. */
const CA_OPTION: Record<TlsBrokerName, string> = {
  redis: 'redis: { options: { tls: { ca:',
  amqp: 'amqp: { socketOptions: { ca:',
  nats: 'nats: { connectionOptions: { tls: { ca:',
};

for (const name of TLS_BROKERS) {
  describeWithBinaries(name, `TLS on ${name}`, () => {
    const instances: Instance[] = [];
    const brokers: TlsBroker[] = [];

    afterEach(async () => {
      await closeAll(instances);
    });
    afterAll(async () => {
      await Promise.all(brokers.map((broker) => broker.stop()));
    });

    function options(
      broker: TlsBroker,
      tls: ClientTls,
      extra: Partial<FeathersSyncOptions> = {},
    ): FeathersSyncOptions {
      return {
        uri: broker.uri,
        key: uniqueKey('tls'),
        connectTimeout: 15_000,
        ...mergeOptions(mergeOptions(FAST_RECONNECT[name], tlsOptions(name, tls)), extra),
      };
    }

    async function start(opts: FeathersSyncOptions): Promise<Instance> {
      const instance = await startInstance(opts);
      instances.push(instance);
      return instance;
    }

    /** Two instances on `opts`: each one's events reach the other. */
    async function expectSyncBothWays(opts: FeathersSyncOptions): Promise<void> {
      const [a, b] = [await start(opts), await start(opts)];
      await Promise.all([a.sync.ready, b.sync.ready]);
      const heardByA = recordEvents(a.app, 'todos', ['created']);
      const heardByB = recordEvents(b.app, 'todos', ['created']);
      await a.app.service('todos').create({ text: 'from a' });
      await b.app.service('todos').create({ text: 'from b' });
      await waitFor(() => heardByA.length === 2 && heardByB.length === 2, 'both events on both');
      expect(heardByA.map((e) => e.data.text).sort()).toEqual(['from a', 'from b']);
      expect(heardByB.map((e) => e.data.text).sort()).toEqual(['from a', 'from b']);
      for (const instance of [a, b]) {
        expect(instance.sync.stats()).toEqual(
          expect.objectContaining({ status: 'ready', published: 1, duplicates: 0, missed: 0 }),
        );
      }
    }

    /** `ready` rejects within `connectTimeout`, with the cause the transport gave. */
    async function readyError(opts: FeathersSyncOptions): Promise<Error> {
      const instance = await start({ ...opts, connectTimeout: 4_000 });
      const error = await instance.sync.ready.then(
        () => new Error('ready resolved'),
        (failure: Error) => failure,
      );
      expect(error.name).toBe('FeathersSyncConnectTimeoutError');
      expect(instance.sync.status).toBe('connecting');
      return error;
    }

    describe('server certificate from a CA made for the test', () => {
      let broker: TlsBroker;
      beforeAll(async () => {
        broker = await startTlsBroker(name);
        brokers.push(broker);
      });

      it.each(['broadcast', 'recoverable'] as const)(
        'with the CA given, two instances sync both ways (%s)',
        async (delivery) => {
          const { ca } = broker.certificates;
          await expectSyncBothWays(options(broker, { ca: ca.cert }, { delivery }));
        },
      );

      it('without the CA, boot fails under waitForBroker: the certificate was not trusted, and where the CA goes', async () => {
        const opts = { ...options(broker, {}), waitForBroker: true, connectTimeout: 4_000 };
        const error = await startInstance(opts).then(
          async (instance) => {
            instances.push(instance);
            return new Error('boot succeeded');
          },
          (failure: Error) => failure,
        );
        expect(error.message).toContain('certificate was not trusted');
        expect(error.message).toContain(CA_OPTION[name]);
      });

      it.each(['broadcast', 'recoverable'] as const)(
        'with an unrelated CA, ready rejects: the certificate was not trusted, and where the CA goes (%s)',
        async (delivery) => {
          const { otherCa } = broker.certificates;
          const error = await readyError(options(broker, { ca: otherCa.cert }, { delivery }));
          expect(error.message).toContain('certificate was not trusted');
          expect(error.message).toContain(CA_OPTION[name]);
          expect(String((error.cause as Error | undefined)?.message)).toContain(CA_OPTION[name]);
        },
      );
      it('with a host name the certificate does not list, ready rejects and says to use one it lists', async () => {
        const { ca } = broker.certificates;
        const error = await readyError(
          options(broker, { ca: ca.cert, servername: 'not-in-the-certificate.example' }),
        );
        expect(error.message).toContain('does not name the host in the uri');
        expect(error.message).toContain('servername');
      });
    });

    describe('mutual TLS (the broker requires a client certificate)', () => {
      let broker: TlsBroker;
      /**
       * nats-server refuses a client certificate after a TLS 1.3 handshake has completed on the
       * client's side; nats.js then only reports a TIMEOUT. Over TLS 1.2 the refusal is an alert
       * in the handshake, which says what is wrong: the refusals are shown that way on NATS.
       */
      const refusal: ClientTls = name === 'nats' ? { maxVersion: 'TLSv1.2' } : {};
      beforeAll(async () => {
        broker = await startTlsBroker(name, { mutual: true });
        brokers.push(broker);
      });

      it('with a client certificate signed by the CA, two instances sync both ways', async () => {
        const { ca, client } = broker.certificates;
        await expectSyncBothWays(
          options(broker, { ca: ca.cert, cert: client.cert, key: client.key }),
        );
      });

      it('without a client certificate, ready rejects and says to pass one', async () => {
        const { ca } = broker.certificates;
        const error = await readyError(options(broker, { ...refusal, ca: ca.cert }));
        expect(error.message).toMatch(/client certificate/);
        expect(error.message).toContain('cert:');
      });

      if (name === 'nats') {
        it('without a client certificate over TLS 1.3, the NATS client times out, and the error says what that likely means', async () => {
          const { ca } = broker.certificates;
          const error = await readyError(
            options(broker, { ca: ca.cert }, { nats: { connectionOptions: { timeout: 1_500 } } }),
          );
          expect(error.message).toMatch(/timeout/i);
          expect(error.message).toContain('requires a client certificate');
        });
      }

      it('with a client certificate from another CA, ready rejects and says so', async () => {
        const { ca, otherClient } = broker.certificates;
        const error = await readyError(
          options(broker, {
            ...refusal,
            ca: ca.cert,
            cert: otherClient.cert,
            key: otherClient.key,
          }),
        );
        expect(error.message).toMatch(/refused this client’s TLS certificate/);
      });
    });
  });
}
