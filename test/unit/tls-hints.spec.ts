import { inspect } from 'node:util';
import { messages } from '../../src/errors/sync.messages';
import { SecretScrubber, secretsIn } from '../../src/shared/redact';
import {
  connectionError,
  natsTimeoutHint,
  tellingError,
  tlsHint,
} from '../../src/transports/tls.hints';

const coded = (code: string, message = 'failed') => Object.assign(new Error(message), { code });

describe('tlsHint', () => {
  it.each([
    ['SELF_SIGNED_CERT_IN_CHAIN', 'redis', "redis: { options: { tls: { ca: readFileSync('ca.pem')"],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'nats', 'nats: { connectionOptions: { tls: { ca:'],
    [
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'amqp',
      "amqp: { socketOptions: { ca: [readFileSync('ca.pem')]",
    ],
  ] as const)('%s on %s: not trusted, and where the CA goes', (code, broker, option) => {
    const hint = tlsHint(coded(code), broker);
    expect(hint).toContain('certificate was not trusted');
    expect(hint).toContain(option);
  });

  it('reads the OpenSSL text when the client passed on only that (amqplib)', () => {
    const error = new Error(
      'Error: 80:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required',
    );
    expect(tlsHint(error, 'amqp')).toContain('client certificate and key');
    expect(tlsHint(new Error('self-signed certificate in certificate chain'), 'amqp')).toContain(
      'not trusted',
    );
  });

  it('looks through nats.js’s TLS wrapper, and explains a wrong key passphrase', () => {
    const wrapped = Object.assign(new Error('TLS'), {
      code: 'TLS',
      chainedError: new Error('error:1C800064:Provider routines::bad decrypt'),
    });
    expect(tlsHint(wrapped, 'nats')).toContain('`passphrase`');
  });

  it('names the host mismatch, and says nothing about other failures', () => {
    expect(tlsHint(coded('ERR_TLS_CERT_ALTNAME_INVALID'), 'redis')).toContain('servername');
    expect(tlsHint(coded('ECONNREFUSED'), 'redis')).toBeUndefined();
    expect(tlsHint(new Error('WRONGPASS invalid username-password pair'), 'redis')).toBeUndefined();
  });

  it('a TLS refusal is not hidden by the ECONNRESET that follows it', () => {
    const scrubber = new SecretScrubber(undefined);
    const refused = connectionError(
      coded('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'),
      'redis',
      scrubber,
    );
    const reset = connectionError(coded('ECONNRESET'), 'redis', scrubber);
    expect(tellingError(refused, reset)).toBe(refused);
    expect(tellingError(reset, refused)).toBe(refused);
    expect(tellingError(undefined, reset)).toBe(reset);
  });

  it('a NATS TIMEOUT over TLS without a client certificate points at mutual TLS', () => {
    const timeout = coded('TIMEOUT');
    expect(natsTimeoutHint(timeout, { ca: 'pem' })).toContain('client certificate');
    expect(natsTimeoutHint(timeout, { ca: 'pem', cert: 'pem', key: 'pem' })).toBeUndefined();
    expect(natsTimeoutHint(timeout, undefined)).toBeUndefined();
    // The 3.x client's shape: a TimeoutError whose message is "timeout".
    const timeoutError = Object.assign(new Error('timeout'), { name: 'TimeoutError' });
    expect(natsTimeoutHint(timeoutError, { ca: 'pem' })).toContain('client certificate');
    expect(natsTimeoutHint(coded('CONNECTION_REFUSED'), { ca: 'pem' })).toBeUndefined();
  });
});

describe('credentials out of errors and messages', () => {
  const password = 'Pw-s3cret+Q/z=K7';

  it('a client error leaves as a plain copy: no property of the original (ioredis’s command.args)', () => {
    const reply = Object.assign(new Error('WRONGPASS invalid username-password pair'), {
      name: 'ReplyError',
      command: { name: 'auth', args: [password] },
    });
    const clean = new SecretScrubber('rediss://127.0.0.1:6380', [password]).error(reply);
    expect(clean.name).toBe('ReplyError');
    expect(clean.message).toBe(reply.message);
    expect(inspect(clean, { depth: 10, showHidden: true })).not.toContain(password);
  });

  it('takes the secrets of client options however deep, raw and URL-encoded', () => {
    const secrets = secretsIn({
      redis: { password, tls: { key: '-----BEGIN PRIVATE KEY-----\nabc', passphrase: 'phrase-1' } },
      nats: { user: 'alice', token: 'tok-1' },
    });
    expect(secrets).toEqual(
      expect.arrayContaining([password, 'phrase-1', 'tok-1', '-----BEGIN PRIVATE KEY-----\nabc']),
    );
    expect(secrets).not.toContain('alice');
    const scrubber = new SecretScrubber(undefined, secrets);
    expect(scrubber.text(`auth ${encodeURIComponent(password)} and ${password}`)).toBe(
      'auth *** and ***',
    );
  });

  it('an option given a string shows a uri redacted, a word as it is, anything else by its length', () => {
    expect(
      messages.invalidOption('redis', 'an object', `rediss://:${password}@h:6380`),
    ).not.toContain(password);
    expect(messages.invalidOption('delivery', 'a mode', 'recoverble')).toContain('"recoverble"');
    expect(messages.invalidOption('closeTimeout', 'a number', password)).toContain(
      'a string of 16 characters',
    );
  });
});
