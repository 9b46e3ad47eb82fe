/** What to do about the RabbitMQ failures a user can fix, appended to the logged error. */
export function hintFor(error: unknown, key: string): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  const message = String((error as Error | undefined)?.message);
  if (code === 406 && /exchange/i.test(message)) {
    return (
      `. The exchange "${key}" exists with other settings; feathers-sync and this module declare ` +
      'it as fanout with durable: false. Delete that exchange or use another key.'
    );
  }
  if (/Login was refused|ACCESS.REFUSED/i.test(message)) {
    return '. Check the user and password in the uri and their permissions on the vhost.';
  }
  if (/exclusive use/i.test(message)) {
    return (
      '. A connection of this instance that RabbitMQ has not yet seen die still consumes the ' +
      'queue; the next attempt declares a new one.'
    );
  }
  return '.';
}
