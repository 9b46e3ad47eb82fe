import { credentials as amqpCredentials } from 'amqplib';
import { Redis } from 'ioredis';
import { inspect } from 'node:util';
import type { FeathersSyncOptions } from '../../src';
import { freePort, uniqueKey } from '../support/brokers';
import { describeWithBinaries } from '../support/durable';
import { sleep, waitFor } from '../support/feathers-app';
import { startInstance, type Instance } from '../support/instances';
import { encryptedKey } from '../support/tls/certificates';
import { Exposure } from '../support/tls/error-capture';
import {
  FAST_RECONNECT,
  mergeOptions,
  startTlsBroker,
  tlsOptions,
  TLS_BROKERS,
  withCredentials,
  type ClientTls,
  type TlsBroker,
  type TlsBrokerName,
} from '../support/tls/tls-brokers';

/**
 * No secret in anything a user sees. Each broker of the test's own speaks TLS and demands a
 * password; every failure the module can meet is driven with credentials in the uri and in the
 * client options (password, NATS user/pass and token, the passphrase of an encrypted TLS client
 * key): wrong password, wrong CA, wrong key passphrase, unknown host, closed port, invalid
 * options, and the broker killed under running instances. Every log line, error (message, stack,
 * properties, causes), status$ value and stats() snapshot is searched for every secret, raw and
 * URL-encoded. Both delivery modes: the recoverable transports (Redis Streams, JetStream, RabbitMQ
 * streams) have clients and error paths of their own.
 */

const USER = 'scanuser';
const PASSWORD = 'Pw-s3cret+Q/z=K7';
const WRONG_PASSWORD = 'Wr0ng-pw+Zq/ab=9X';
const TOKEN = 'Tok-n4ts+S3cret/9=';
const PASSPHRASE = 'Ph-key+pass/phr4se=';
const WRONG_PASSPHRASE = 'Wr0ng-phr4se+k/y=';
const SECRETS = [PASSWORD, WRONG_PASSWORD, TOKEN, PASSPHRASE, WRONG_PASSPHRASE];
const CONNECT_TIMEOUT = 2_500;

/** Redis's `requirepass` belongs to the default user: no user name in its uri. */
const uriUser = (name: TlsBrokerName) => (name === 'redis' ? '' : USER);

/** The broker's credentials as client options (never in the uri). */
function credentialOptions(name: TlsBrokerName, password: string): Partial<FeathersSyncOptions> {
  switch (name) {
    case 'redis':
      return { redis: { options: { password } } };
    case 'amqp':
      return { amqp: { socketOptions: { credentials: amqpCredentials.plain(USER, password) } } };
    case 'nats':
      return { nats: { connectionOptions: { user: USER, pass: password } } };
  }
}

for (const name of TLS_BROKERS) {
  describeWithBinaries(name, `no secret leaks on ${name}`, () => {
    let broker: TlsBroker;
    let goodTls: ClientTls;
    /** A loopback port nothing listens on: the broker refusing. */
    let closedPort: number;
    const consoleLines: Exposure = new Exposure('console');
    const spies: jest.SpyInstance[] = [];
    const unhandled = (error: unknown) => consoleLines.error('unhandled rejection', error);

    beforeAll(async () => {
      broker = await startTlsBroker(name, { auth: { user: USER, password: PASSWORD } });
      closedPort = await freePort();
      const { ca, client } = broker.certificates;
      goodTls = {
        ca: ca.cert,
        cert: client.cert,
        key: encryptedKey(client, PASSPHRASE),
        passphrase: PASSPHRASE,
      };
      // Whatever a client library prints by itself (ioredis's unhandled error events…).
      for (const method of ['log', 'warn', 'error', 'info', 'debug'] as const) {
        spies.push(
          jest
            .spyOn(console, method)
            .mockImplementation((...args: unknown[]) =>
              consoleLines.add(
                `console.${method}`,
                args.map((arg) => inspect(arg, { depth: 6 })).join(' '),
              ),
            ),
        );
      }
      process.on('unhandledRejection', unhandled);
    });
    afterAll(async () => {
      process.off('unhandledRejection', unhandled);
      for (const spy of spies) spy.mockRestore();
      await broker?.stop();
    });

    const uriWith = (password: string, uri = broker.uri) =>
      withCredentials(uri, uriUser(name), password);
    const tls = (extra: ClientTls = {}) => tlsOptions(name, { ...goodTls, ...extra });

    /** The failing scenarios, each with credentials in the uri and (or) in the options. */
    function failures(): Array<{ scenario: string; options: FeathersSyncOptions }> {
      const port = broker.port;
      const base = (uri: string, ...parts: Array<Partial<FeathersSyncOptions>>) =>
        ({ uri, ...mergeOptions(FAST_RECONNECT[name], ...parts) }) as FeathersSyncOptions;
      const list = [
        { scenario: 'wrong password in the uri', options: base(uriWith(WRONG_PASSWORD), tls()) },
        {
          scenario: 'wrong password in the options',
          options: base(broker.uri, tls(), credentialOptions(name, WRONG_PASSWORD)),
        },
        {
          scenario: 'wrong CA, right password in the uri and the options',
          options: base(
            uriWith(PASSWORD),
            tls({ ca: broker.certificates.otherCa.cert }),
            credentialOptions(name, PASSWORD),
          ),
        },
        {
          scenario: 'wrong passphrase of the TLS key',
          options: base(uriWith(PASSWORD), tls({ passphrase: WRONG_PASSPHRASE })),
        },
        {
          scenario: 'unknown host',
          options: base(
            uriWith(PASSWORD, broker.uri.replace('127.0.0.1', 'no-such-host.invalid')),
            tls(),
            credentialOptions(name, PASSWORD),
          ),
        },
        {
          scenario: 'closed port',
          options: base(
            uriWith(PASSWORD, broker.uri.replace(`:${port}`, `:${closedPort}`)),
            tls(),
            credentialOptions(name, PASSWORD),
          ),
        },
      ];
      if (name === 'nats') {
        list.push({
          scenario: 'wrong token in the options',
          options: base(broker.uri, tls(), { nats: { connectionOptions: { token: TOKEN } } }),
        });
      }
      return list;
    }

    /** Boots one instance on `options` (waitForBroker or not), drives an event, records everything. */
    async function drive(exposure: Exposure, options: FeathersSyncOptions, waitForBroker: boolean) {
      let instance: Instance | undefined;
      try {
        instance = await startInstance({
          ...options,
          key: uniqueKey('scan'),
          connectTimeout: CONNECT_TIMEOUT,
          waitForBroker,
          logger: exposure.logger,
        });
      } catch (error) {
        exposure.error('boot', error);
        return { booted: false, ready: false };
      }
      exposure.watch(instance, 'instance');
      const ready = await instance.sync.ready.then(
        () => true,
        (error: unknown) => {
          exposure.error('ready', error);
          return false;
        },
      );
      await instance.app.service('todos').create({ text: 'while failing' });
      await sleep(300);
      exposure.stats(instance, 'before close');
      await instance.nest.close().catch((error: unknown) => exposure.error('close', error));
      exposure.stats(instance, 'after close');
      exposure.stop();
      return { booted: true, ready };
    }

    it.each(['broadcast', 'recoverable'] as const)(
      'every failure, with credentials in the uri and in the options (%s): no secret anywhere',
      async (delivery) => {
        const runs = failures().flatMap(({ scenario, options }) =>
          [false, true].map((waitForBroker) => {
            const exposure = new Exposure(`${scenario}${waitForBroker ? ' (waitForBroker)' : ''}`);
            return drive(exposure, { ...options, delivery }, waitForBroker).then((outcome) => ({
              exposure,
              outcome,
            }));
          }),
        );
        const results = await Promise.all(runs);
        // Every scenario failed, and said something: the scan looked at real failures.
        for (const { exposure, outcome } of results) {
          expect({ scenario: exposure.scenario, ready: outcome.ready }).toEqual({
            scenario: exposure.scenario,
            ready: false,
          });
          expect(exposure.seen.some(({ where }) => where.endsWith('message'))).toBe(true);
          if (exposure.scenario.startsWith('wrong passphrase')) {
            // And it says what to fix, without the passphrase.
            expect(exposure.seen.some(({ text }) => text.includes('could not be decrypted'))).toBe(
              true,
            );
          }
        }
        const leaks = results.flatMap(({ exposure }) => exposure.leaks(SECRETS));
        expect(leaks).toEqual([]);
        expect(consoleLines.leaks(SECRETS)).toEqual([]);
      },
    );

    it('invalid options holding credentials: the boot error shows none', async () => {
      const exposure = new Exposure('invalid options');
      const wrongs: Array<Partial<FeathersSyncOptions>> = [
        { uri: uriWith(PASSWORD), connectTimeout: 'soon' as never },
        { uri: uriWith(PASSWORD), delivery: 'sometimes' as never },
        // A uri (with its password) where an object goes.
        { uri: uriWith(PASSWORD), [name]: uriWith(PASSWORD) as never },
        // A password where a number goes.
        { uri: broker.uri, closeTimeout: PASSWORD as never },
        { uri: `${uriWith(PASSWORD)}:not-a-port:` },
        { uri: uriWith(PASSWORD).replace(/^[a-z]+:/, 'bogus:') },
        mergeOptions({ uri: broker.uri }, credentialOptions(name, PASSWORD), {
          [name]: { unknownSetting: 1, reconnectDelay: -1, resumeDelay: -1 } as never,
        }),
      ];
      let refused = 0;
      for (const options of wrongs) {
        await startInstance({ key: uniqueKey('scan'), logger: exposure.logger, ...options }).then(
          (instance) => instance.nest.close(),
          (error: unknown) => {
            refused++;
            exposure.error('boot', error);
          },
        );
      }
      expect(refused).toBeGreaterThanOrEqual(wrongs.length - 1);
      expect(exposure.leaks(SECRETS)).toEqual([]);
    });

    if (name === 'redis') {
      it('the scan can fail: ioredis’s own WRONGPASS error carries the password', async () => {
        // What the module must never pass on as it is (the scan above would catch it).
        const client = new Redis(uriWith(WRONG_PASSWORD), {
          tls: { ca: broker.certificates.ca.cert },
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        const raw: unknown[] = [];
        client.on('error', (failure) => raw.push(failure));
        raw.push(await client.connect().catch((failure: unknown) => failure));
        await sleep(200);
        client.disconnect();
        const exposure = new Exposure('raw ioredis');
        raw.forEach((failure) => exposure.error('raw', failure));
        expect(exposure.leaks([WRONG_PASSWORD]).length).toBeGreaterThan(0);
      });
    }

    it('the broker killed under running instances, with credentials everywhere: no secret anywhere', async () => {
      const exposure = new Exposure('broker killed');
      const options = {
        uri: uriWith(PASSWORD),
        key: uniqueKey('scan'),
        connectTimeout: 15_000,
        logger: exposure.logger,
        ...mergeOptions(FAST_RECONNECT[name], tls(), credentialOptions(name, PASSWORD)),
      } as FeathersSyncOptions;
      const instances: Instance[] = [];
      for (const delivery of ['broadcast', 'recoverable'] as const) {
        for (let n = 0; n < 2; n++) {
          const instance = await startInstance({
            ...options,
            delivery,
            key: `${options.key}-${delivery}`,
          });
          instances.push(instance);
          exposure.watch(instance, `${delivery} #${n}`);
        }
      }
      await Promise.all(instances.map((instance) => instance.sync.ready));
      await instances[0].app.service('todos').create({ text: 'before' });
      await broker.kill();
      await waitFor(
        () => instances.every((instance) => instance.sync.status === 'reconnecting'),
        'every instance reconnecting',
        20_000,
      );
      for (const instance of instances)
        await instance.app.service('todos').create({ text: 'down' });
      await sleep(1_500);
      instances.forEach((instance, n) => exposure.stats(instance, `down #${n}`));
      for (const instance of instances) {
        await instance.nest.close().catch((error: unknown) => exposure.error('close', error));
      }
      exposure.stop();
      expect(
        exposure.seen.some(
          ({ where, text }) => where === 'warn' && /Lost the connection/.test(text),
        ),
      ).toBe(true);
      expect(exposure.leaks(SECRETS)).toEqual([]);
      expect(consoleLines.leaks(SECRETS)).toEqual([]);
    });
  });
}
