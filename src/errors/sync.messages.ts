import { redactUri } from '../shared/redact.js';

// Every message a user can cause: what is wrong, then what to do. Never pass a raw uri here:
// callers hand in `redactUri(uri)` so credentials cannot reach a log or an error.

export const messages = {
  noUriNoTransport: () =>
    'FeathersSyncModule has neither a `uri` nor a `transport`. Pass `uri` (e.g. ' +
    "`uri: config.getOrThrow('FEATHERS_SYNC_URI')` with FEATHERS_SYNC_URI=redis://127.0.0.1:6379) " +
    'or a custom `transport` to FeathersSyncModule.forRoot()/forRootAsync().',
  invalidUri: (redacted: string, supported: readonly string[]) =>
    `FeathersSyncModule cannot parse the uri "${redacted}". Write it as scheme://host:port, ` +
    `with one of the supported schemes: ${supported.join(', ')}.`,
  unknownScheme: (scheme: string, redacted: string, supported: readonly string[]) =>
    `FeathersSyncModule does not support the scheme "${scheme}" (uri "${redacted}"). ` +
    `Supported schemes: ${supported.join(', ')}. ` +
    'For another broker, pass a class implementing SyncTransport as the `transport` option.',
  shardedNotRecoverable: () =>
    "FeathersSyncModule got redis sharded pub/sub with delivery 'recoverable', which reads a Redis " +
    "stream and does not use pub/sub: remove `redis.sharded` (or the uri's ?sharded=true), or set " +
    "delivery: 'broadcast'.",
  invalidKey: (key: unknown) =>
    `FeathersSyncModule got an invalid \`key\` (${JSON.stringify(key)}). The key names the Redis ` +
    'channel, AMQP exchange and NATS subject: use 1 to 255 characters among letters, digits and ' +
    '"-", "_", ".", ":" (the default is "feathers-sync"; feathers-sync peers must use the same key).',
  invalidOption: (name: string, expected: string, value: unknown) =>
    `FeathersSyncModule option \`${name}\` must be ${expected}, got ${describe(value)}. ` +
    'Fix the value passed to FeathersSyncModule.forRoot()/forRootAsync().',
  invalidTransport: (value: unknown) =>
    `FeathersSyncModule option \`transport\` must be a class or an object implementing SyncTransport ` +
    `(type, open, publish, close), got ${describe(value)}.`,
  noFeathersApp: () =>
    'FeathersSyncModule found no Feathers application to sync. Provide it in one of three ways: ' +
    '(1) the `app` option of FeathersSyncModule.forRoot()/forRootAsync(); ' +
    '(2) a provider `{ provide: FEATHERS_APP, useValue: feathersApp }` in any module of the Nest app; ' +
    '(3) run Nest on the Feathers Express app: NestFactory.create(AppModule, new ExpressAdapter(feathersApp), ' +
    '{ bodyParser: false }) (Nest 11+ needs bodyParser: false on the Express 4 app of @feathersjs/express).',
  notAFeathersApp: (where: string) =>
    `FeathersSyncModule: ${where} is not a Feathers application (it has no services, mixins and ` +
    'service() method). Pass the object returned by feathers() or express(feathers()).',
  missingPackage: (pkg: string, scheme: string) =>
    `The ${scheme} transport of FeathersSyncModule needs the package "${pkg}", which is not ` +
    `installed. Install it: npm install ${pkg}`,
  missingNatsClient: (delivery: string) =>
    'The nats:// transport of FeathersSyncModule needs a NATS client, and none is installed. ' +
    (delivery === 'recoverable'
      ? 'Install the 3.x client: npm install @nats-io/transport-node @nats-io/jetstream '
      : 'Install the 3.x client: npm install @nats-io/transport-node ') +
    '(or the 2.x client: npm install nats).',
  missingForcedNatsClient: (client: string, packages: string) =>
    `FeathersSyncModule option \`nats.client\` asks for "${client}", which is not installed. ` +
    `Install it (npm install ${packages}), or leave nats.client out to use whichever NATS client is installed.`,
  invalidNatsUri: (redacted: string) =>
    `FeathersSyncModule cannot parse the NATS uri "${redacted}". Write one server as ` +
    'nats://[user:pass@]host:4222, or a cluster as a comma-separated servers list: ' +
    'nats://[user:pass@]host1:4222,host2:4222,host3:4222 (credentials in the first entry apply to ' +
    'all; tls:// instead of nats:// requires TLS; a token is written as nats://token@host:4222). ' +
    'No path or query.',
  natsUriCredentialsDiffer: (redacted: string) =>
    `FeathersSyncModule: the NATS uri "${redacted}" gives different credentials to different ` +
    'servers; a NATS client logs in to every server of a cluster with one identity. Write the ' +
    'credentials once, in the first entry (nats://user:pass@host1:4222,host2:4222).',
  connectTimeout: (type: string, redacted: string, ms: number, lastError?: string) =>
    `FeathersSyncModule could not subscribe on ${type} (${redacted}) within ${ms} ms; it keeps ` +
    'trying in the background and events stay local until it succeeds. ' +
    (lastError
      ? `The last attempt failed: ${lastError}`
      : 'Check that the broker runs and that the uri is right, or raise `connectTimeout`.'),
  closed: () => 'FeathersSyncModule was closed before the broker subscription became ready.',
  noDurableLog: (scheme: string) =>
    `FeathersSyncModule: delivery 'recoverable' needs a broker with a durable log, and ${scheme} ` +
    "has none. Use redis://, nats:// (JetStream) or amqp:// (RabbitMQ 3.9+ streams), or set delivery: 'broadcast'.",
  // Signing: never the value of a secret, nor of anything that might be one by mistake.
  signingNotAnObject: (value: unknown) =>
    `FeathersSyncModule option \`signing\` must be an object { keys, current, maxAgeMs?, ` +
    `acceptUnsigned? }, got ${kindOf(value)}. ${GENERATE_KEY}`,
  signingNoKeys: (value: unknown) =>
    `FeathersSyncModule option \`signing.keys\` must be an object of key id → secret with at ` +
    `least one key, got ${kindOf(value)}. Example: keys: { '2026-11': process.env.SYNC_KEY }. ` +
    GENERATE_KEY,
  signingBadKeyId: () =>
    'FeathersSyncModule option `signing.keys` has a key id that is not 1 to 64 of letters, ' +
    'digits and ".", "_", ":", "-". Key ids travel in clear in every message: name a key by its ' +
    "date or version ('2026-11'), never by its secret.",
  signingKeyNotSecret: (id: string, value: unknown) =>
    `FeathersSyncModule option \`signing.keys['${id}']\` must be a string or a Buffer, got ` +
    `${kindOf(value)}. ${GENERATE_KEY}`,
  signingKeyMissing: (id: string) =>
    `FeathersSyncModule option \`signing.keys['${id}']\` is empty or missing: is the environment ` +
    `variable or secret it comes from set? ${GENERATE_KEY}`,
  signingKeyTooShort: (id: string, bytes: number) =>
    `FeathersSyncModule option \`signing.keys['${id}']\` is ${bytes} bytes long; a signing key ` +
    `needs at least 32 bytes of random data. ${GENERATE_KEY}`,
  signingCurrentUnknown: (current: unknown, ids: readonly string[]) =>
    `FeathersSyncModule option \`signing.current\` (${kindOf(current, true)}) is not one of the ` +
    `key ids in \`signing.keys\` (${ids.join(', ')}). Set it to the id of the key this instance ` +
    'signs with: its id, not its secret.',
  signingUndercutsRetention: (maxAgeMs: number, retentionMs: number) =>
    `FeathersSyncModule option \`signing.maxAgeMs\` (${maxAgeMs} ms) is shorter than ` +
    `\`retention.maxAgeMs\` (${retentionMs} ms): an instance catching up after an outage would ` +
    'refuse the events it is entitled to. Raise signing.maxAgeMs to at least retention.maxAgeMs, ' +
    'or leave it out (sequence numbers already refuse replays).',
};

const GENERATE_KEY =
  'Generate a key with `openssl rand -base64 32` and pass it as a string (from an environment ' +
  'variable or a secret store), under a key id of your choice.';

/** What a value is, never what it holds (for options that may hold secrets). */
function kindOf(value: unknown, withLength = false): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') {
    return withLength ? `a string of ${value.length} characters` : 'a string';
  }
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return describeString(value);
  return `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * A string given where it does not belong may be a credential (a uri with its password, a
 * secret from the wrong variable): a uri is shown redacted, a word (a misspelt mode) as it is,
 * anything else by its length only.
 */
function describeString(value: string): string {
  if (value.includes('://')) return `string "${redactUri(value)}"`;
  if (/^[A-Za-z][A-Za-z0-9 _.-]{0,23}$/.test(value)) return `string ${JSON.stringify(value)}`;
  return `a string of ${value.length} characters (not shown: it may hold a secret)`;
}
