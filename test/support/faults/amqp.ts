import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BROKERS } from '../brokers';
import type { FaultBroker } from './types';

const run = promisify(execFile);

/** `rabbitmqctl` with quiet output; it talks to the local node (the shared broker stays up). */
async function rabbitmqctl(args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['-q', ...args], { timeout: 30_000 });
  return stdout;
}

async function rabbitmqctlJson<T>(args: string[]): Promise<T[]> {
  const text = await rabbitmqctl([...args, '--formatter', 'json']);
  return text.trim() === '' ? [] : (JSON.parse(text) as T[]);
}

const REASON = 'fault injected by a test';

/**
 * One CLI run that closes every connection with that name at the same moment, as a broker-side
 * drop would (each rabbitmqctl run costs about a second, and separate runs cut the instances
 * seconds apart). It calls what `rabbitmqctl close_connection` calls.
 */
async function closeNamedConnectionsAtOnce(name: string): Promise<number> {
  // Erlang: a variable bound outside a comprehension is shadowed in a generator pattern, so the
  // name is compared in a filter.
  const expression = `Name = <<"${name}">>,
Pids = [P || I <- rabbit_networking:connection_info_all([pid, client_properties]),
  {pid, P} <- [lists:keyfind(pid, 1, I)],
  {client_properties, CP} <- [lists:keyfind(client_properties, 1, I)],
  {_, _, N} <- [lists:keyfind(<<"connection_name">>, 1, CP)], N =:= Name],
[rabbit_networking:close_connection(P, "${REASON}") || P <- Pids],
length(Pids).`;
  const count = Number((await rabbitmqctl(['eval', expression])).trim());
  if (!Number.isInteger(count)) throw new Error('unexpected rabbitmqctl eval output');
  return count;
}

/** The documented commands, should `eval` be unavailable. */
async function closeNamedConnectionsOneByOne(name: string): Promise<number> {
  // The tab-separated listing prints pids in the form close_connection accepts (the JSON one does
  // not); client properties print as Erlang tuples there.
  const listing = await rabbitmqctl([
    'list_connections',
    'pid',
    'client_properties',
    '--no-table-headers',
  ]);
  const marker = `{"connection_name","${name}"}`;
  const pids = listing
    .split('\n')
    .filter((line) => line.includes(marker))
    .map((line) => line.split('\t')[0]);
  await Promise.all(pids.map((pid) => rabbitmqctl(['close_connection', pid, REASON])));
  return pids.length;
}

/**
 * RabbitMQ: `rabbitmqctl close_connection` on the connections named for this test (set through
 * `amqp.socketOptions.clientProperties.connection_name`); other tests' connections stay up.
 */
export async function openFaultBroker(): Promise<FaultBroker> {
  const name = `fault-${process.pid}-${Date.now().toString(36)}`;
  return {
    uri: BROKERS.amqp,
    options: { amqp: { socketOptions: { clientProperties: { connection_name: name } } } },
    async drop() {
      let closed: number;
      try {
        closed = await closeNamedConnectionsAtOnce(name);
      } catch {
        closed = await closeNamedConnectionsOneByOne(name);
      }
      if (closed === 0) throw new Error(`no RabbitMQ connection named ${name} to close`);
    },
    async subscriberCount(key) {
      const [bindings, queues] = await Promise.all([
        rabbitmqctlJson<{
          source_name: string;
          destination_name: string;
          destination_kind: string;
        }>(['list_bindings', 'source_name', 'destination_name', 'destination_kind']),
        rabbitmqctlJson<{ name: string; consumers: number }>(['list_queues', 'name', 'consumers']),
      ]);
      const bound = new Set(
        bindings
          .filter((b) => b.source_name === key && b.destination_kind === 'queue')
          .map((b) => b.destination_name),
      );
      // Consumers, not queues: two consumers piled up on one queue must count twice.
      return queues
        .filter((q) => bound.has(q.name))
        .reduce((sum, q) => sum + Number(q.consumers), 0);
    },
    async close() {
      // Nothing to stop: every call above is a short-lived rabbitmqctl process.
    },
  };
}
