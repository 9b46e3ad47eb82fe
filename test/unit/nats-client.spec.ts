import type * as NatsClientModule from '../../src/transports/nats/nats-client';

/**
 * Which NATS client the module picks, with packages made missing for the test: the module loads
 * them with a plain `import()`, which fails as Node fails on a package that is not installed.
 */
const PACKAGES = ['@nats-io/transport-node', '@nats-io/jetstream', 'nats'];
/** The error class of the module copy the test loaded: compared by name. */
const missingPackage = { name: 'FeathersSyncMissingPackageError' };

function withMissing(missing: string[]): typeof NatsClientModule {
  let loaded: typeof NatsClientModule | undefined;
  jest.isolateModules(() => {
    for (const name of PACKAGES) if (!missing.includes(name)) jest.dontMock(name);
    for (const name of missing) {
      jest.doMock(name, () => {
        throw Object.assign(new Error(`Cannot find module '${name}' from 'broker-packages.ts'`), {
          code: 'MODULE_NOT_FOUND',
        });
      });
    }
    loaded = jest.requireActual<typeof NatsClientModule>('../../src/transports/nats/nats-client');
  });
  return loaded as typeof NatsClientModule;
}

describe('the NATS client the module runs on', () => {
  afterEach(() => jest.resetModules());

  it('prefers the 3.x client when installed, in both delivery modes', async () => {
    const { loadNatsClient } = withMissing([]);
    expect((await loadNatsClient(undefined, 'broadcast')).name).toBe('@nats-io/transport-node');
    expect((await loadNatsClient(undefined, 'recoverable')).name).toBe('@nats-io/transport-node');
  });

  it('falls back to nats 2.x without the 3.x client, or without @nats-io/jetstream for recoverable', async () => {
    expect(
      (await withMissing(['@nats-io/transport-node']).loadNatsClient(undefined, 'broadcast')).name,
    ).toBe('nats');
    const noJetStream = withMissing(['@nats-io/jetstream']);
    expect((await noJetStream.loadNatsClient(undefined, 'recoverable')).name).toBe('nats');
    expect((await noJetStream.loadNatsClient(undefined, 'broadcast')).name).toBe(
      '@nats-io/transport-node',
    );
  });

  it('nats.client forces one: nats 2.x even when 3.x is there', async () => {
    const { loadNatsClient } = withMissing([]);
    expect((await loadNatsClient('nats', 'recoverable')).name).toBe('nats');
  });

  it('with no client installed, fails naming the 3.x packages first', async () => {
    const { loadNatsClient } = withMissing([
      '@nats-io/transport-node',
      '@nats-io/jetstream',
      'nats',
    ]);
    for (const delivery of ['broadcast', 'recoverable'] as const) {
      const error = await loadNatsClient(undefined, delivery).catch((e: Error) => e);
      expect(error).toMatchObject(missingPackage);
      const text = (error as Error).message;
      expect(text).toContain('npm install @nats-io/transport-node');
      expect(text.indexOf('@nats-io/transport-node')).toBeLessThan(
        text.indexOf('npm install nats'),
      );
    }
  });

  it('a forced client that is missing fails with what to install', async () => {
    const { loadNatsClient } = withMissing(['@nats-io/jetstream']);
    const error = await loadNatsClient('@nats-io/transport-node', 'recoverable').catch(
      (e: Error) => e,
    );
    expect(error).toMatchObject(missingPackage);
    expect((error as Error).message).toMatch(
      /nats\.client.*npm install @nats-io\/transport-node @nats-io\/jetstream/,
    );
  });
});
