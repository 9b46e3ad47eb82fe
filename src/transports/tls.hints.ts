import type { SecretScrubber } from '../shared/redact.js';

/** The brokers whose TLS options the module passes through, each under its own option. */
export type TlsBroker = 'redis' | 'amqp' | 'nats';

/** Where each broker's client takes its TLS material, as the module's options spell it. */
const WHERE: Record<TlsBroker, { ca: string; client: string }> = {
  redis: {
    ca: "redis: { options: { tls: { ca: readFileSync('ca.pem') } } }",
    client:
      "redis: { options: { tls: { ca, cert: readFileSync('client.pem'), key: readFileSync('client.key') } } }",
  },
  amqp: {
    ca: "amqp: { socketOptions: { ca: [readFileSync('ca.pem')] } }",
    client:
      "amqp: { socketOptions: { ca, cert: readFileSync('client.pem'), key: readFileSync('client.key') } }",
  },
  nats: {
    ca: "nats: { connectionOptions: { tls: { ca: readFileSync('ca.pem') } } }",
    client:
      "nats: { connectionOptions: { tls: { ca, cert: readFileSync('client.pem'), key: readFileSync('client.key') } } }",
  },
};

/** Node's codes for a server certificate that no trusted CA signed. */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

/** The server's TLS alerts when it wanted a client certificate and got none, or one it does not trust. */
const CLIENT_CERT_REFUSED = new Set([
  'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE',
  'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
  'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
]);

/**
 * What to do about a TLS failure on `broker`, as a sentence to append to the error's message, or
 * undefined when the error is not one.
 */
/**
 * Some clients (amqplib) pass on only the text of a TLS error: its OpenSSL or Node message says
 * the same as the code.
 */
const BY_MESSAGE: Array<[RegExp, string]> = [
  [
    /self[- ]signed certificate|unable to verify the first certificate|unable to get (local )?issuer/i,
    'SELF_SIGNED_CERT_IN_CHAIN',
  ],
  [/is not in the cert's altnames/i, 'ERR_TLS_CERT_ALTNAME_INVALID'],
  [/bad decrypt/i, 'BAD_DECRYPT'],
  [/certificate has expired|certificate is not yet valid/i, 'CERT_HAS_EXPIRED'],
  [
    /alert (certificate required|bad certificate|unknown ca|handshake failure)/i,
    'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
  ],
];

function tlsCode(error: unknown): string {
  // nats.js wraps a failed TLS upgrade in a NatsError "TLS" that chains the cause.
  const chained = (error as { chainedError?: unknown } | undefined)?.chainedError;
  if (chained) return tlsCode(chained);
  const code = String((error as { code?: unknown } | undefined)?.code);
  if (UNTRUSTED.has(code) || CLIENT_CERT_REFUSED.has(code) || code.startsWith('CERT_')) return code;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return code;
  const message = String((error as { message?: unknown } | undefined)?.message);
  return BY_MESSAGE.find(([pattern]) => pattern.test(message))?.[1] ?? code;
}

export function tlsHint(error: unknown, broker: TlsBroker): string | undefined {
  const code = tlsCode(error);
  const where = WHERE[broker];
  if (UNTRUSTED.has(code)) {
    return (
      'The broker’s TLS certificate was not trusted: no CA this process trusts signed it. Pass ' +
      `the CA that signed it: ${where.ca} (a self-signed certificate is its own CA).`
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return (
      'The broker’s TLS certificate does not name the host in the uri: connect with a host name ' +
      'the certificate lists (its subjectAltName), or name that host with `servername` beside ' +
      `the CA: ${where.ca.replace('ca: ', "servername: 'broker.example', ca: ")}.`
    );
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return 'The broker’s TLS certificate is outside its validity dates: renew it on the broker.';
  }
  if (code === 'BAD_DECRYPT') {
    return (
      'The client’s TLS key could not be decrypted: check the `passphrase` given beside the ' +
      `key (${where.client.replace('key: ', 'passphrase: process.env.KEY_PASSPHRASE, key: ')}).`
    );
  }
  if (CLIENT_CERT_REFUSED.has(code)) {
    return (
      'The broker refused this client’s TLS certificate, or wants one (mutual TLS): pass a ' +
      `client certificate and key signed by a CA the broker trusts: ${where.client}.`
    );
  }
  return undefined;
}

/**
 * A broker client's connection error as the module reports it (in `status$`, the log, and why
 * `ready` rejected): a plain copy without the secrets, with what to do when TLS failed.
 */
export function connectionError(
  error: unknown,
  broker: TlsBroker,
  scrubber: SecretScrubber,
): Error {
  const clean = scrubber.error(error);
  const hint = tlsHint(error, broker);
  if (hint) {
    clean.message = `${clean.message.replace(/[.\s]+$/, '')}. ${hint}`;
    withTlsHint.add(clean);
  }
  return clean;
}

const withTlsHint = new WeakSet<Error>();

/**
 * The error that says more of two in one run of failed attempts: a TLS refusal is often followed
 * by the socket's ECONNRESET, which would hide it.
 */
export function tellingError(previous: Error | undefined, next: Error): Error {
  return previous && withTlsHint.has(previous) && !withTlsHint.has(next) ? previous : next;
}

/**
 * nats-server refuses a missing or unknown client certificate once a TLS 1.3 handshake is over on
 * the client's side; nats.js then only reports a TIMEOUT. When TLS options without a client
 * certificate were given, say what that TIMEOUT most likely means.
 */
export function natsTimeoutHint(error: unknown, tls: unknown): string | undefined {
  // nats 2.x: code 'TIMEOUT'; @nats-io/transport-node 3.x: a TimeoutError ("timeout").
  const { code, name } = (error ?? {}) as { code?: unknown; name?: unknown };
  if (code !== 'TIMEOUT' && name !== 'TimeoutError') return undefined;
  if (tls === null || typeof tls !== 'object') return undefined;
  const { cert, certFile } = tls as { cert?: unknown; certFile?: unknown };
  if (cert !== undefined || certFile !== undefined) return undefined;
  return (
    'The NATS server did not finish the connection in time. Over TLS, this is how nats.js ' +
    'reports a server that requires a client certificate (mutual TLS) and got none: if it ' +
    `does, pass one: ${WHERE.nats.client}.`
  );
}
