/** What to do about the RabbitMQ failures a user can fix, appended to the logged error. */
export function hintFor(error: unknown, key: string): string {
  const stream = streamHint(error, key);
  if (stream) return stream;
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

/** The option behind each argument of the stream queue (see AmqpStreamTransport). */
const STREAM_ARGUMENTS: Record<string, string> = {
  'x-max-age': 'retention.maxAgeMs',
  'x-stream-max-segment-size-bytes': 'amqp.streamSegmentBytes',
  'x-max-length-bytes': 'amqp.streamMaxBytes',
};

/**
 * The stream queue of `delivery: 'recoverable'` refused for a reason retrying cannot fix: streams
 * switched off or unknown to this RabbitMQ, or the stream declared by another instance with other
 * settings. Returns what to do, or undefined for any other failure.
 */
export function streamHint(error: unknown, key: string): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  const message = String((error as Error | undefined)?.message);
  if (/feature flag is disabled/i.test(message)) {
    return (
      '. Stream queues are switched off on this RabbitMQ: enable them with ' +
      "`rabbitmqctl enable_feature_flag stream_queue` (or `all`), or use delivery: 'broadcast'."
    );
  }
  if (code === 406 && /x-queue-type/.test(message)) {
    return (
      ". delivery: 'recoverable' needs stream queues, which RabbitMQ has from 3.9 on: upgrade " +
      "RabbitMQ, or use delivery: 'broadcast'."
    );
  }
  const inequivalent = /inequivalent arg '([^']+)' for queue '([^']+)'/.exec(message);
  if (code === 406 && inequivalent) {
    const [, argument, queue] = inequivalent;
    const option = STREAM_ARGUMENTS[argument] ?? argument;
    return (
      `. The stream "${queue}" was declared by another instance with another ${option} ` +
      `(${argument}): every instance on key "${key}" must use the same retention and amqp ` +
      `stream settings. Align them, or delete the stream (rabbitmqctl delete_queue ${queue}) so ` +
      'that it is declared again.'
    );
  }
  return undefined;
}
