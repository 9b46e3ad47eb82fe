import { FeathersSyncConfigError } from '../../src';
import { messages } from '../../src/errors/sync.messages';
import { resolveOptions } from '../../src/options/resolve-options';
import { redactUri, SecretScrubber } from '../../src/shared/redact';
import { createTransport } from '../../src/transports/transport.factory';
import { parseNatsUri } from '../../src/transports/nats/nats-uri';

/** The NATS uri forms: one server, a cluster's servers list, credentials, tls://. */
describe('NATS uri', () => {
  it('reads one server, with user and password or a token', () => {
    expect(parseNatsUri('nats://127.0.0.1:4222')).toEqual({
      servers: ['127.0.0.1:4222'],
      credentials: {},
      tls: false,
    });
    expect(parseNatsUri('nats://u%40x:p%3Aw@h:4222').credentials).toEqual({
      user: 'u@x',
      pass: 'p:w',
    });
    expect(parseNatsUri('nats://s3cr3t@h:4222').credentials).toEqual({ token: 's3cr3t' });
  });

  it('reads a servers list, with or without a scheme per entry, credentials in the first or in each', () => {
    const expected = {
      servers: ['h1:4222', 'h2:4223', 'h3'],
      credentials: { user: 'u', pass: 'p' },
      tls: false,
    };
    expect(parseNatsUri('nats://u:p@h1:4222,h2:4223,h3')).toEqual(expected);
    expect(parseNatsUri('nats://u:p@h1:4222, nats://h2:4223 ,nats://h3')).toEqual(expected);
    expect(parseNatsUri('nats://u:p@h1:4222,nats://u:p@h2:4223,u:p@h3')).toEqual(expected);
    expect(parseNatsUri('nats://h1:4222,u:p@h2:4223,h3')).toEqual(expected);
  });

  it('tls:// asks for TLS, for the list or for one entry', () => {
    expect(parseNatsUri('tls://h1:4222,h2:4222').tls).toBe(true);
    expect(parseNatsUri('nats://h1:4222,tls://h2:4222').tls).toBe(true);
  });

  it.each([
    'nats://',
    'nats://h1:4222,',
    'nats://h1:4222,,h2:4222',
    'nats://h1:99999,h2:4222',
    'nats://h1:4222,h2:port',
    'nats://h1:4222/path,h2:4222',
    'nats://h1:4222,h2:4222?x=1',
    'nats://h1:4222,redis://h2:4222',
  ])('refuses %s with an error that shows the expected form', (uri) => {
    expect(() => parseNatsUri(uri)).toThrow(FeathersSyncConfigError);
    expect(() => parseNatsUri(uri)).toThrow(/nats:\/\/\[user:pass@\]host1:4222,host2:4222/);
  });

  it('refuses different credentials for different servers, without showing them', () => {
    const uri = 'nats://alice:first-secret@h1:4222,bob:second-secret@h2:4222';
    let error: Error | undefined;
    try {
      parseNatsUri(uri);
    } catch (caught) {
      error = caught as Error;
    }
    expect(error?.message).toMatch(/different credentials/);
    expect(error?.message).not.toMatch(/first-secret|second-secret/);
  });

  it('fails boot on a malformed list, never with its credentials in the error', async () => {
    const uri = 'nats://user:hunter2-pass@h1:4222,h2:notaport';
    const boot = createTransport(resolveOptions({ uri, logger: false }));
    await expect(boot).rejects.toThrow(/servers list/);
    await expect(boot).rejects.not.toThrow(/hunter2/);
  });

  it('boots a transport of type nats from a servers list and from tls://', async () => {
    for (const uri of ['nats://u:p@127.0.0.1:1,127.0.0.1:2', 'tls://127.0.0.1:1,127.0.0.1:2']) {
      const transport = await createTransport(resolveOptions({ uri, logger: false }));
      expect(transport.type).toBe('nats');
    }
  });

  it('redacts every entry of a list, in logs and in client errors', () => {
    expect(redactUri('nats://u:pw1@h1:4222,h2:4222')).toBe('nats://u:***@h1:4222,h2:4222');
    expect(redactUri('nats://tok1@h1:4222,nats://tok2@h2:4222')).toBe(
      'nats://***@h1:4222,nats://***@h2:4222',
    );
    // Credentials in more than one entry without schemes: every server kept, every secret hidden.
    expect(redactUri('nats://u:pw1@h1:4222,v:pw2@h2:4222')).toBe(
      'nats://u:***@h1:4222,v:***@h2:4222',
    );
    const scrubber = new SecretScrubber('nats://u:pw1@h1:4222,nats://v:pw2@h2:4222');
    expect(scrubber.text('auth failed for pw1 and pw2')).toBe('auth failed for *** and ***');
  });

  it('the missing-client error names the 3.x packages first', () => {
    for (const delivery of ['broadcast', 'recoverable']) {
      const text = messages.missingNatsClient(delivery);
      expect(text.indexOf('@nats-io/transport-node')).toBeLessThan(
        text.indexOf('npm install nats'),
      );
    }
    expect(messages.missingNatsClient('recoverable')).toMatch(/@nats-io\/jetstream/);
  });

  it('checks nats.client', () => {
    expect(() =>
      resolveOptions({ uri: 'nats://h:1', nats: { client: 'nats.ws' as never } }),
    ).toThrow(/nats.client.*'@nats-io\/transport-node', 'nats'/);
    expect(
      resolveOptions({ uri: 'nats://h:1', nats: { client: 'nats' } }).transports.nats.client,
    ).toBe('nats');
  });
});
