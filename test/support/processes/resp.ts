import { connect } from 'node:net';
const LOOPBACK = '127.0.0.1';

/** A RESP2 reply: status and bulk strings, integers, nil, errors, arrays. */
export type RespValue = string | number | null | RespError | RespValue[];

export class RespError extends Error {}

/**
 * Sends one command to a Redis server (or Sentinel) on its own short-lived connection and returns
 * the reply. Used by the harness to administer topologies without spawning `redis-cli` in a loop
 * and without a client library whose own reconnect logic would blur the experiments.
 * Rejects on connection errors and after `timeoutMs`; a Redis error reply is *returned* as a
 * `RespError` by `redisReply` and thrown by `redisCommand`.
 */
export function redisReply(
  port: number,
  args: Array<string | number>,
  timeoutMs = 2000,
  host = LOOPBACK,
): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(
      () => socket.destroy(new Error(`${args[0]} on ${host}:${port} timed out`)),
      timeoutMs,
    );
    let settled = false;
    const finish = (error: Error | undefined, value?: RespValue) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value as RespValue);
    };
    socket.once('error', (error) => finish(error));
    socket.once('close', () => finish(new Error(`${host}:${port} closed before replying`)));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      try {
        const parsed = parse(buffer, 0);
        if (parsed) finish(undefined, parsed.value);
      } catch (error) {
        finish(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.write(encode(args));
  });
}

/** `redisReply`, but an error reply is thrown. */
export async function redisCommand(
  port: number,
  args: Array<string | number>,
  timeoutMs = 2000,
  host = LOOPBACK,
): Promise<RespValue> {
  const reply = await redisReply(port, args, timeoutMs, host);
  if (reply instanceof RespError) throw reply;
  return reply;
}

/** `INFO <section>` parsed into its `field:value` pairs. */
export async function redisInfo(port: number, section: string): Promise<Record<string, string>> {
  return parseFields(String(await redisCommand(port, ['INFO', section])));
}

/** Parses `field:value` lines (INFO, CLUSTER INFO). */
export function parseFields(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/** A flat `[k1, v1, k2, v2, ...]` reply (SENTINEL MASTER, SENTINEL REPLICAS rows) as an object. */
export function pairsToObject(reply: RespValue): Record<string, string> {
  const object: Record<string, string> = {};
  if (!Array.isArray(reply)) return object;
  for (let i = 0; i + 1 < reply.length; i += 2) object[String(reply[i])] = String(reply[i + 1]);
  return object;
}

function encode(args: Array<string | number>): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) {
    const text = String(arg);
    parts.push(`$${Buffer.byteLength(text)}\r\n${text}\r\n`);
  }
  return Buffer.from(parts.join(''));
}

/** Parses one RESP2 value at `offset`; `undefined` while the buffer is incomplete. */
function parse(buffer: Buffer, offset: number): { value: RespValue; next: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[offset]);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next };
    case '-':
      return { value: new RespError(line), next };
    case ':':
      return { value: Number(line), next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.toString('utf8', next, next + length), next: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next };
      const items: RespValue[] = [];
      let cursor = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, cursor);
        if (!item) return undefined;
        items.push(item.value);
        cursor = item.next;
      }
      return { value: items, next: cursor };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}
