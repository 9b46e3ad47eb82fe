import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import {
  BROKER_NAMES,
  PARAMS_KINDS,
  SYSTEMS,
  type BrokerName,
  type ParamsKind,
  type SystemName,
} from './protocol.js';

export const MODES = ['throughput', 'latency', 'bytes', 'soak'] as const;
export type Mode = (typeof MODES)[number];

export interface BenchOptions {
  brokers: BrokerName[];
  instances: number[];
  payloads: number[];
  modes: Mode[];
  systems: SystemName[];
  runs: number;
  /** Events of the throughput phase; by default 20,000 for small payloads, fewer for large ones. */
  events?: number;
  concurrency: number;
  window: number;
  rate: number;
  latencySeconds: number;
  soakSeconds: number;
  soakWarmupSeconds: number;
  soakSampleSeconds: number;
  warmupEvents: number;
  bytesEvents: number;
  params: ParamsKind;
  quick: boolean;
  resultsDir: string;
  writeLatest: boolean;
  label?: string;
  oursOptions: Record<string, unknown>;
  cpuProf: boolean;
  profileDir: string;
  profileIntervalUs: number;
  moduleDir: string;
  idleSeconds: number;
  uris: Record<BrokerName, string>;
  /** Re-render the tables of an existing results file instead of running. */
  report?: string;
  argv: string[];
}

export const HELP = `Usage: npm run bench -- [options]

Runs our module, feathers-sync 3.x and the raw broker client side by side, each instance in its
own process, and prints throughput, latency, bytes per event, CPU and memory, with ratios.

  --broker <list>       redis,amqp,nats (default: all three)
  --instances <list>    instance counts (default: 2,4)
  --payload <list>      event sizes in bytes, k suffix allowed (default: 200,10k)
  --mode <list>         throughput,latency,bytes or soak (default: throughput,latency,bytes)
  --systems <list>      ours,feathers-sync,raw (default: all; soak: ours)
  --runs <n>            runs of every configuration; tables show medians (default: 3)
  --quick               one short run: 2 instances, 200 B, 1 run (under 2 minutes with the build)
  --events <n>          events of the throughput phase (default: 20000; 6000 above 2 KB)
  --warmup <n>          events sent before the measured phases (default: 3000; quick: 1000)
  --params <kind>       params of each service call: none, user (provider + user) or auth
                        (user + authentication + headers) (default: none)
  --concurrency <n>     service calls started per batch (default: 64)
  --window <n>          most events the sender may have in flight to itself (default: 1000)
  --rate <n>            events per second of the latency and soak phases (default: 1000)
  --duration <s>        seconds of the latency phase (default: 5), or of the soak (default: 600)
  --soak-warmup <s>     seconds of the soak excluded from the growth figures (default: 60)
  --soak-sample <s>     memory sampling interval of the soak (default: 5)
  --ours-options <json> extra FeathersSyncModule.forRoot() options, e.g. an envelope setting
  --cpu-prof            CPU profiles of instances 0 and 1 during the throughput phase
  --profile-dir <dir>   where profiles go (default: a folder under the OS temp dir)
  --results-dir <dir>   where the results JSON goes (default: bench/results)
  --no-latest           do not update bench/results/latest.json (quick and soak runs never do)
  --report <file>       print the tables of an existing results JSON again (Markdown too)
  --label <text>        a note stored in the results
  --no-build            (launcher) use the existing dist/ instead of building first
  --help

Brokers: REDIS_URI, AMQP_URI, NATS_URI (defaults: the local brokers).`;

export class UsageError extends Error {}

function list(value: string): string[] {
  return value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
}

function positiveInt(name: string, value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0)
    throw new UsageError(`${name} wants a positive integer, got "${value}"`);
  return parsed;
}

function positiveNumber(name: string, value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0)
    throw new UsageError(`${name} wants a positive number, got "${value}"`);
  return parsed;
}

function size(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(k|kb|kib)?$/i.exec(value.trim());
  if (!match) throw new UsageError(`--payload wants sizes like 200 or 10k, got "${value}"`);
  return Math.round(Number(match[1]) * (match[2] ? 1024 : 1));
}

function oneOf<T extends string>(name: string, allowed: readonly T[], values: string[]): T[] {
  for (const value of values) {
    if (!allowed.includes(value as T))
      throw new UsageError(`${name}: "${value}" is not one of ${allowed.join(', ')}`);
  }
  return [...new Set(values)] as T[];
}

export function parseOptions(argv: string[], repoRoot: string): BenchOptions | 'help' {
  const given = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(2, eq) : arg.slice(2);
    const flags = ['quick', 'cpu-prof', 'no-latest', 'no-build', 'help'];
    if (flags.includes(name)) {
      given.set(name, true);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    given.set(name, value);
  }
  if (given.has('help')) return 'help';
  const known = [
    'broker',
    'brokers',
    'instances',
    'payload',
    'payloads',
    'mode',
    'modes',
    'systems',
    'runs',
    'quick',
    'events',
    'concurrency',
    'warmup',
    'params',
    'window',
    'rate',
    'duration',
    'soak-warmup',
    'soak-sample',
    'ours-options',
    'cpu-prof',
    'profile-dir',
    'results-dir',
    'no-latest',
    'label',
    'no-build',
    'report',
  ];
  for (const name of given.keys())
    if (!known.includes(name)) throw new UsageError(`unknown option --${name} (see --help)`);
  const text = (name: string, alias?: string): string | undefined => {
    const value = given.get(name) ?? (alias ? given.get(alias) : undefined);
    return typeof value === 'string' ? value : undefined;
  };

  const quick = given.has('quick');
  const modes = oneOf('--mode', MODES, list(text('mode', 'modes') ?? 'throughput,latency,bytes'));
  if (modes.includes('soak') && modes.length > 1)
    throw new UsageError('--mode soak runs on its own');
  const soak = modes.includes('soak');
  const systems = oneOf(
    '--systems',
    SYSTEMS,
    list(text('systems') ?? (soak ? 'ours' : SYSTEMS.join(','))),
  );
  const duration = text('duration');
  let oursOptions: Record<string, unknown> = {};
  const oursText = text('ours-options');
  if (oursText !== undefined) {
    try {
      oursOptions = JSON.parse(oursText) as Record<string, unknown>;
    } catch {
      throw new UsageError(`--ours-options wants JSON, got ${oursText}`);
    }
    if (oursOptions === null || typeof oursOptions !== 'object' || Array.isArray(oursOptions))
      throw new UsageError('--ours-options wants a JSON object');
  }
  const events = text('events');
  return {
    brokers: oneOf(
      '--broker',
      BROKER_NAMES,
      list(text('broker', 'brokers') ?? (quick || soak ? 'redis' : BROKER_NAMES.join(','))),
    ),
    instances: list(text('instances') ?? (quick || soak ? '2' : '2,4')).map((v) =>
      positiveInt('--instances', v),
    ),
    payloads: list(text('payload', 'payloads') ?? (quick || soak ? '200' : '200,10k')).map(size),
    modes,
    systems,
    runs: positiveInt('--runs', text('runs') ?? (quick || soak ? '1' : '3')),
    events: events === undefined ? (quick ? 5000 : undefined) : positiveInt('--events', events),
    concurrency: positiveInt('--concurrency', text('concurrency') ?? '64'),
    window: positiveInt('--window', text('window') ?? '1000'),
    rate: positiveNumber('--rate', text('rate') ?? '1000'),
    latencySeconds: soak ? 5 : positiveNumber('--duration', duration ?? (quick ? '2' : '5')),
    soakSeconds: soak ? positiveNumber('--duration', duration ?? '600') : 600,
    soakWarmupSeconds: positiveNumber('--soak-warmup', text('soak-warmup') ?? '60'),
    soakSampleSeconds: positiveNumber('--soak-sample', text('soak-sample') ?? '5'),
    warmupEvents: positiveInt('--warmup', text('warmup') ?? (quick ? '1000' : '3000')),
    bytesEvents: 200,
    params: oneOf('--params', PARAMS_KINDS, [text('params') ?? 'none'])[0],
    quick,
    resultsDir: resolve(text('results-dir') ?? join(repoRoot, 'bench', 'results')),
    writeLatest: !quick && !soak && !given.has('no-latest') && text('results-dir') === undefined,
    report: text('report'),
    label: text('label'),
    oursOptions,
    cpuProf: given.has('cpu-prof'),
    profileDir: resolve(text('profile-dir') ?? join(tmpdir(), `feathers-sync-bench-profiles`)),
    profileIntervalUs: 250,
    moduleDir: join(repoRoot, 'dist', 'cjs'),
    idleSeconds: 3,
    uris: {
      redis: process.env.REDIS_URI ?? 'redis://127.0.0.1:6379',
      amqp: process.env.AMQP_URI ?? 'amqp://guest:guest@127.0.0.1:5672',
      nats: process.env.NATS_URI ?? 'nats://127.0.0.1:4222',
    },
    argv,
  };
}

/** Events of the throughput phase for a payload size. */
export function throughputEvents(options: BenchOptions, payload: number): number {
  if (options.events !== undefined) return options.events;
  return payload <= 2048 ? 20_000 : 6_000;
}
