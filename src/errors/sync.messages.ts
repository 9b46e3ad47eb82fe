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
  connectTimeout: (type: string, redacted: string, ms: number) =>
    `FeathersSyncModule could not subscribe on ${type} (${redacted}) within ${ms} ms; it keeps ` +
    'trying in the background and events stay local until it succeeds. Check that the broker runs ' +
    'and that the uri is right, or raise `connectTimeout`.',
  closed: () => 'FeathersSyncModule was closed before the broker subscription became ready.',
  noDurableLog: (scheme: string) =>
    `FeathersSyncModule: delivery 'recoverable' needs a broker with a durable log, and ${scheme} ` +
    "has none. Use redis://, nats:// (JetStream) or amqp:// (RabbitMQ 3.9+ streams), or set delivery: 'broadcast'.",
};

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}
