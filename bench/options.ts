import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import {
  BROKER_NAMES,
  PARAMS_KINDS,
  SYSTEMS,
  type BrokerName,
  type ParamsKind,
  type SystemId,
  type SystemName,
  variantId,
} from './protocol.js';
import { BENCH_OTEL_OPTION } from './telemetry-option.js';

export const MODES = ['throughput', 'latency', 'bytes', 'soak', 'restart'] as const;
export type Mode = (typeof MODES)[number];

/** A named set of our module's options, measured beside `ours` as the system `ours:<name>`. */
export interface Variant {
  name: string;
  /** Merged (shallowly) over `--ours-options` into `FeathersSyncModule.forRoot()`. */
  options: Record<string, unknown>;
}

/**
 * Variants `--variants` can name without spelling their options out. When an option the issues
 * ask to measure lands on main, add it here, and to DEFAULT_VARIANTS if every full run should
 * measure it, e.g.:
 *
 *   signed: { signing: { keys: { bench: '<32+ bytes, not a real secret>' }, current: 'bench' } },
 *                                                          // issue 10: vs unsigned (ours)
 *   'no-canary': { heartbeatMs: 0 },                       // issue 11: canary off vs on (ours)
 *
 * (Options are recorded in the results JSON and shown in the chart: never put a real secret here.)
 */
export const KNOWN_VARIANTS: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  // issue 13: the lean envelope's targets are ratios within the same run as the default envelope.
  lean: { envelope: 'lean' },
  // issue 9: the broker's durable log, against broadcast (ours) and the raw client.
  recoverable: { delivery: 'recoverable' },
  // issue 11: an OpenTelemetry SDK registered in each instance (exported nowhere), against ours
  // with the API installed and no SDK: metrics and a sampled span per event, or metrics only.
  otel: { [BENCH_OTEL_OPTION]: 'traces' },
  'otel-metrics': { [BENCH_OTEL_OPTION]: 'metrics' },
  // issue 11: the canary (on by default in ours, every 5 s) against none.
  'canary-off': { heartbeatMs: 0 },
};

/**
 * Variants of a full run: `npm run bench` with no `--systems`, `--variants`, `--ours-options`,
 * `--quick` or soak (narrowing brokers, instances or payloads keeps them).
 */
export const DEFAULT_VARIANTS: readonly string[] = ['lean', 'recoverable', 'otel'];

export interface BenchOptions {
  brokers: BrokerName[];
  /**
   * The fan-out row: one sender, N = 2, 4, 8, 16 instances (unless `--instances`), ours beside the
   * raw client, throughput only (unless `--mode`), and a table of per-instance CPU and memory as N grows.
   */
  fanout: boolean;
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
  /** Restart phase: how long the broker's port stays closed. */
  restartDownSeconds: number;
  warmupEvents: number;
  bytesEvents: number;
  params: ParamsKind;
  quick: boolean;
  resultsDir: string;
  writeLatest: boolean;
  label?: string;
  oursOptions: Record<string, unknown>;
  /** Variants of our module, each run as a system of its own (`ours:<name>`) after `systems`. */
  variants: Variant[];
  /** Write the SVG chart next to the results JSON. */
  chart: boolean;
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
  --mode <list>         throughput,latency,bytes, or soak, or restart (default: throughput,latency,bytes)
  --restart-down <s>    restart: seconds the broker's port stays closed (default: 3)
  --systems <list>      ours,feathers-sync,raw (default: all; soak: ours)
  --runs <n>            runs of every configuration; tables show medians (default: 3)
  --quick               one short run: 2 instances, 200 B, 1 run (under 2 minutes with the build)
  --fanout              the fan-out row: 2,4,8,16 instances, ours and raw, throughput, 200 B (each
                        overridable), and a table of per-instance CPU and memory as N grows
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
  --variants <list>     variants of our module, each measured as a system of its own (ours:<name>)
                        beside the others: name={json},name2={json} (";" separates too), a known
                        name (${Object.keys(KNOWN_VARIANTS).join(', ')}), a .json file ({"name": {options}}) or none
                        (default: ${DEFAULT_VARIANTS.join(',') || 'none'} unless --systems, --ours-options, --quick or soak)
  --cpu-prof            CPU profiles of instances 0 and 1 during the throughput phase
  --profile-dir <dir>   where profiles go (default: a folder under the OS temp dir)
  --results-dir <dir>   where the results JSON goes (default: bench/results)
  --no-latest           do not update bench/results/latest.json (quick, fan-out and soak runs never do)
  --report <file>       print the tables of an existing results JSON again (Markdown too) and
                        redraw its chart (<file>.svg)
  --label <text>        a note stored in the results
  --no-chart            do not write the SVG chart next to the results JSON (or of --report)
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
    const flags = ['quick', 'fanout', 'cpu-prof', 'no-latest', 'no-build', 'no-chart', 'help'];
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
    'fanout',
    'events',
    'concurrency',
    'warmup',
    'params',
    'window',
    'rate',
    'duration',
    'soak-warmup',
    'soak-sample',
    'restart-down',
    'ours-options',
    'variants',
    'no-chart',
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
  const fanout = given.has('fanout');
  if (fanout && quick) throw new UsageError('--fanout and --quick do not go together');
  const modes = oneOf(
    '--mode',
    MODES,
    list(text('mode', 'modes') ?? (fanout ? 'throughput' : 'throughput,latency,bytes')),
  );
  if (fanout && modes.includes('soak')) throw new UsageError('--fanout does not run a soak');
  if (modes.includes('soak') && modes.length > 1)
    throw new UsageError('--mode soak runs on its own');
  if (modes.includes('restart') && modes.length > 1)
    throw new UsageError('--mode restart runs on its own (it restarts brokers of its own)');
  const restart = modes.includes('restart');
  const soak = modes.includes('soak');
  const systems = oneOf(
    '--systems',
    SYSTEMS,
    list(text('systems') ?? (soak ? 'ours' : fanout ? 'ours,raw' : SYSTEMS.join(','))),
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
  const variantsText = text('variants');
  const defaults =
    !quick &&
    !soak &&
    !fanout &&
    !given.has('systems') &&
    oursText === undefined &&
    systems.includes('ours');
  const variants =
    variantsText !== undefined
      ? parseVariants(variantsText)
      : defaults
        ? parseVariants(DEFAULT_VARIANTS.join(','))
        : [];
  const events = text('events');
  return {
    fanout,
    brokers: oneOf(
      '--broker',
      BROKER_NAMES,
      list(text('broker', 'brokers') ?? (quick || soak ? 'redis' : BROKER_NAMES.join(','))),
    ),
    instances: list(
      text('instances') ?? (quick || soak || restart ? '2' : fanout ? '2,4,8,16' : '2,4'),
    ).map((v) => positiveInt('--instances', v)),
    payloads: list(
      text('payload', 'payloads') ?? (quick || soak || fanout || restart ? '200' : '200,10k'),
    ).map(size),
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
    // latest.* holds the full run the README quotes: a narrower run never replaces it.
    writeLatest:
      !quick &&
      !soak &&
      !fanout &&
      !restart &&
      !given.has('no-latest') &&
      text('results-dir') === undefined,
    restartDownSeconds: positiveNumber('--restart-down', text('restart-down') ?? '3'),
    report: text('report'),
    label: text('label'),
    oursOptions,
    variants,
    chart: !given.has('no-chart'),
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

/** The systems of a run, in their base order: `systems`, then each variant as `ours:<name>`. */
export function runSystems(options: {
  systems: readonly SystemName[];
  variants?: readonly Variant[];
}): SystemId[] {
  return [...options.systems, ...(options.variants ?? []).map((v) => variantId(v.name))];
}

const VARIANT_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
const RESERVED_NAMES = ['ours', 'feathers-sync', 'f-sync', 'raw', 'none'];
/** Options the bench sets for every instance itself. */
const BENCH_OWNED = ['uri', 'key', 'app'];

/**
 * Parses `--variants`: `name={json}` and known names, separated by "," or ";"
 * (`lean,pending={"maxPending":1000}`), `none`, or the path of a JSON file holding
 * `{"name": {options}, ...}` or `[{"name": ..., "options": {...}}, ...]` (the form of
 * `options.variants` in a results file).
 */
export function parseVariants(
  text: string,
  readText: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Variant[] {
  const spec = text.trim();
  if (spec === '' || spec === 'none') return [];
  const variants: Variant[] = [];
  const add = (name: string, options: unknown) => {
    if (!VARIANT_NAME.test(name))
      throw new UsageError(
        `--variants: "${name}" is not a variant name (letters, digits, "-" and "_", at most 32)`,
      );
    if (RESERVED_NAMES.includes(name))
      throw new UsageError(`--variants: "${name}" is reserved; pick another name`);
    if (variants.some((v) => v.name === name))
      throw new UsageError(`--variants: "${name}" is given twice`);
    if (options === null || typeof options !== 'object' || Array.isArray(options))
      throw new UsageError(`--variants: the options of "${name}" must be a JSON object`);
    const owned = BENCH_OWNED.filter((key) => Object.hasOwn(options, key));
    if (owned.length)
      throw new UsageError(`--variants: "${name}" sets ${owned.join(', ')}, which the bench sets`);
    variants.push({ name, options: { ...(options as Record<string, unknown>) } });
  };

  if (/\.json$/i.test(spec) && !spec.includes('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readText(spec));
    } catch (error) {
      throw new UsageError(
        `--variants: cannot read ${spec}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (Array.isArray(parsed)) {
      for (const entry of parsed as Array<{ name?: unknown; options?: unknown }>)
        add(String(entry?.name), entry?.options);
    } else if (parsed !== null && typeof parsed === 'object') {
      for (const [name, options] of Object.entries(parsed)) add(name, options);
    } else {
      throw new UsageError(`--variants: ${spec} holds neither an object nor an array`);
    }
    return variants;
  }

  let rest = spec;
  while (rest.length) {
    const head = /^\s*([^=,;{}\s]*)\s*(=?)\s*/.exec(rest) as RegExpExecArray;
    const name = head[1];
    rest = rest.slice(head[0].length);
    if (head[2]) {
      const end = jsonObjectEnd(rest);
      if (end < 0)
        throw new UsageError(
          `--variants: "${name}=" wants a JSON object ({...}), got ${rest || 'nothing'}`,
        );
      let options: unknown;
      try {
        options = JSON.parse(rest.slice(0, end));
      } catch {
        throw new UsageError(
          `--variants: the options of "${name}" are not JSON: ${rest.slice(0, end)}`,
        );
      }
      add(name, options);
      rest = rest.slice(end);
    } else {
      if (!Object.hasOwn(KNOWN_VARIANTS, name))
        throw new UsageError(
          `--variants: "${name}" is not a known variant (known: ` +
            `${Object.keys(KNOWN_VARIANTS).join(', ')}); define it as ${name || 'name'}={...}`,
        );
      add(name, KNOWN_VARIANTS[name]);
    }
    const separator = /^\s*([,;]?)\s*/.exec(rest) as RegExpExecArray;
    if (!separator[1] && separator[0].length < rest.length)
      throw new UsageError(`--variants: expected "," or ";" after "${name}", got ${rest}`);
    rest = rest.slice(separator[0].length);
  }
  return variants;
}

/** Index just past the JSON object that `text` starts with, or -1 (strings and escapes honoured). */
function jsonObjectEnd(text: string): number {
  if (text[0] !== '{') return -1;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) return c === '}' ? i + 1 : -1;
    }
  }
  return -1;
}
