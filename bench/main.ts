/**
 * The benchmark orchestrator: forks the instances of each system, runs the phases, and prints and
 * saves the results. Started by bench/bench.mjs (`npm run bench`) after the build.
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { renderChart } from './chart.js';
import {
  HELP,
  parseOptions,
  runSystems,
  throughputEvents,
  UsageError,
  type BenchOptions,
  type Variant,
} from './options.js';
import { summarizeProfile } from './profile.js';
import type {
  BrokerName,
  ChildMessage,
  InstanceConfig,
  InstanceReport,
  ParentMessage,
  PhaseName,
  PhaseSpec,
  SenderReport,
  SystemId,
  SystemName,
} from './protocol.js';
import { OwnBroker } from './own-broker.js';
import { baseSystem, now } from './protocol.js';
import { restartTable } from './restart.js';
import {
  aggregate,
  bytesLabel,
  fanoutTable,
  isVariant,
  renderMarkdown,
  renderText,
  soakTable,
  summarizePhase,
  summarizeSoak,
  tables,
  type MeasuredPhase,
  type PhaseResult,
  type RestartResult,
  type TrialResult,
} from './report.js';

const REPO_ROOT = join(__dirname, '..', '..');
const INSTANCE_SCRIPT = join(__dirname, 'instance.js');
const BOOT_TIMEOUT_MS = 30_000;
const COMMAND_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 8_000;

/** A forked instance and the replies it owes. */
class Instance {
  readonly process: ChildProcess;
  /** The phase armed last, and how many of its events this instance has reported. */
  phase = 0;
  unique = 0;
  lastChange = 0;
  error?: string;
  private output = '';
  private readonly waiting = new Map<
    ChildMessage['ev'],
    { resolve: (m: ChildMessage) => void; reject: (e: Error) => void }
  >();
  readonly exited: Promise<void>;

  constructor(
    readonly index: number,
    execArgv: string[],
  ) {
    this.process = fork(INSTANCE_SCRIPT, [], {
      execArgv,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, NODE_ENV: 'production' },
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    };
    this.process.stdout?.on('data', keep);
    this.process.stderr?.on('data', keep);
    this.process.on('message', (message: ChildMessage) => this.onMessage(message));
    this.exited = new Promise((resolve) => this.process.once('exit', () => resolve()));
    this.process.once('exit', (code, signal) => {
      const reason = `instance ${this.index} exited (${signal ?? `code ${code}`})`;
      for (const waiter of this.waiting.values()) waiter.reject(new Error(this.describe(reason)));
      this.waiting.clear();
    });
  }

  private onMessage(message: ChildMessage): void {
    if (message.ev === 'progress') {
      if (message.phase !== this.phase) return;
      if (message.unique !== this.unique) this.lastChange = Date.now();
      this.unique = message.unique;
      return;
    }
    if (message.ev === 'error') {
      this.error = message.message;
      const waiters = [...this.waiting.values()];
      this.waiting.clear();
      for (const waiter of waiters) waiter.reject(new Error(this.describe(message.message)));
      return;
    }
    const waiter = this.waiting.get(message.ev);
    if (waiter) {
      this.waiting.delete(message.ev);
      waiter.resolve(message);
    }
  }

  request<E extends ChildMessage['ev']>(
    message: ParentMessage,
    ev: E,
    timeoutMs: number,
  ): Promise<Extract<ChildMessage, { ev: E }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(ev);
        reject(
          new Error(this.describe(`instance ${this.index}: no "${ev}" within ${timeoutMs} ms`)),
        );
      }, timeoutMs);
      this.waiting.set(ev, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<ChildMessage, { ev: E }>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      if (!this.process.connected) {
        this.waiting.get(ev)?.reject(new Error(this.describe(`instance ${this.index} is gone`)));
        this.waiting.delete(ev);
        return;
      }
      this.process.send(message);
    });
  }

  /** Asks the instance to close its connections and exit; kills it if it does not. */
  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    if (this.process.connected) this.process.send({ cmd: 'stop' } satisfies ParentMessage);
    const exited = await Promise.race([
      this.exited.then(() => true),
      delay(STOP_TIMEOUT_MS).then(() => false),
    ]);
    if (!exited) {
      this.process.kill('SIGKILL');
      await Promise.race([this.exited, delay(2000)]);
    }
  }

  describe(reason: string): string {
    const tail = this.output.trim().split('\n').slice(-8).join('\n');
    return tail ? `${reason}\n${tail}` : reason;
  }
}

const live = new Set<Instance>();

function killAll(): void {
  for (const instance of live) instance.process.kill('SIGKILL');
}

process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});
process.on('SIGTERM', () => {
  killAll();
  process.exit(143);
});
process.on('exit', killAll);

function redact(uri: string): string {
  try {
    const url = new URL(uri);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '<unparsable uri>';
  }
}

async function reachable(uri: string, fallbackPort: number): Promise<boolean> {
  const url = new URL(uri);
  const port = Number(url.port || fallbackPort);
  return new Promise((resolve) => {
    const socket = connect(port, url.hostname);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(2000, () => done(false));
  });
}

interface TrialSetup {
  run: number;
  broker: BrokerName;
  instances: number;
  payload: number;
  system: SystemId;
  runId: string;
}

let phaseCounter = 0;

async function runPhase(
  instances: Instance[],
  name: PhaseName,
  options: BenchOptions,
  settings: Partial<PhaseSpec> & { count: number },
  idleMs: number,
  /** The restart phase: each instance also reports its first arrival at or after this time. */
  reportAfter?: () => number | undefined,
): Promise<{ spec: PhaseSpec; sender: SenderReport; reports: InstanceReport[] }> {
  const spec: PhaseSpec = {
    id: ++phaseCounter,
    name,
    concurrency: options.concurrency,
    window: options.window,
    countBytes: false,
    sampleMs: 500,
    gcBeforeSample: false,
    ...settings,
  };
  await Promise.all(
    instances.map((i) => i.request({ cmd: 'arm', phase: spec }, 'armed', COMMAND_TIMEOUT_MS)),
  );
  for (const instance of instances) {
    instance.phase = spec.id;
    instance.unique = 0;
    instance.lastChange = Date.now();
  }
  const paced = spec.rate ? (spec.count / spec.rate) * 1000 : 0;
  const capMs = Math.max(120_000, paced * 2 + 60_000);
  let senderDone = false;
  let senderError: Error | undefined;
  const sending = instances[0].request({ cmd: 'drive' }, 'sent', capMs).then(
    (m) => {
      senderDone = true;
      return m.sender;
    },
    (error: Error) => {
      senderDone = true;
      senderError = error;
      return undefined;
    },
  );
  const started = Date.now();
  for (;;) {
    if (instances.every((i) => i.unique >= spec.count)) break;
    const lastChange = Math.max(...instances.map((i) => i.lastChange));
    if (senderDone && Date.now() - lastChange > idleMs) break;
    if (Date.now() - started > capMs) break;
    await delay(20);
  }
  const sender = await sending;
  if (senderError || !sender) throw senderError ?? new Error('the sender did not report');
  const reports = await Promise.all(
    instances.map((i) =>
      i
        .request({ cmd: 'report', after: reportAfter?.() }, 'report', COMMAND_TIMEOUT_MS)
        .then((m) => m.report),
    ),
  );
  return { spec, sender, reports };
}

async function runTrial(setup: TrialSetup, options: BenchOptions): Promise<TrialResult> {
  const { broker, system, payload } = setup;
  const result: TrialResult = {
    run: setup.run,
    broker,
    instances: setup.instances,
    payload,
    system,
    ok: false,
    bootMs: [],
    load: [round2(loadavg()[0]), 0],
    phases: {},
  };
  const soak = options.modes.includes('soak');
  const restart = options.modes.includes('restart');
  const variant = options.variants.find((v) => `ours:${v.name}` === system);
  let own: OwnBroker | undefined;
  const key =
    `bench-${setup.runId}-${broker}-${system.replace(/[^\w-]/g, '-')}-` +
    `${setup.instances}-${payload}-${setup.run}`;
  const instances: Instance[] = [];
  try {
    if (restart) own = await OwnBroker.start(broker);
    for (let index = 0; index < setup.instances; index++) {
      const instance = new Instance(index, soak ? ['--expose-gc'] : []);
      live.add(instance);
      instances.push(instance);
    }
    const profilePhases: PhaseName[] = options.cpuProf ? ['throughput'] : [];
    if (options.cpuProf) mkdirSync(options.profileDir, { recursive: true });
    const readies = await Promise.all(
      instances.map((instance) => {
        const config: InstanceConfig = {
          system: baseSystem(system),
          variant: variant?.name,
          broker,
          uri: own?.uri ?? options.uris[broker],
          key,
          index: instance.index,
          instances: setup.instances,
          payloadBytes: payload,
          params: options.params,
          moduleDir: options.moduleDir,
          // A variant's options go over --ours-options (shallowly).
          oursOptions: { ...options.oursOptions, ...variant?.options },
          profileDir: options.cpuProf ? options.profileDir : undefined,
          profilePhases,
          profileIntervalUs: options.profileIntervalUs,
        };
        return instance.request({ cmd: 'init', config }, 'ready', BOOT_TIMEOUT_MS);
      }),
    );
    result.bootMs = readies.map((r) => Math.round(r.bootMs));

    // Every subscription is live once a probe event reaches every instance.
    let probed = false;
    for (let attempt = 0; attempt < 40 && !probed; attempt++) {
      const probe = await runPhase(instances, 'probe', options, { count: 1 }, 250);
      probed = probe.reports.every((r) => r.unique === 1);
    }
    if (!probed) throw new Error('probe events never reached every instance');

    const record = (phase: MeasuredPhase, ran: Awaited<ReturnType<typeof runPhase>>) => {
      const entry: PhaseResult = {
        spec: ran.spec,
        sender: ran.sender,
        instances: ran.reports,
        summary: summarizePhase(ran.spec, ran.sender, ran.reports),
      };
      result.phases[phase] = entry;
      return entry;
    };
    const idleMs = options.idleSeconds * 1000;
    if (restart && own) {
      result.restart = await runRestart(instances, own, options, idleMs, (ran) =>
        record('restart', ran),
      );
    }
    if (!soak && !restart) {
      record(
        'bytes',
        await runPhase(
          instances,
          'bytes',
          options,
          // One event per event-loop turn: each event's own message, never a batch of several.
          { count: options.bytesEvents, concurrency: 1, countBytes: true },
          idleMs,
        ),
      );
    }
    if (!restart) {
      await runPhase(instances, 'warmup', options, { count: options.warmupEvents }, idleMs);
    }
    if (options.modes.includes('throughput')) {
      record(
        'throughput',
        await runPhase(
          instances,
          'throughput',
          options,
          { count: throughputEvents(options, payload) },
          idleMs,
        ),
      );
    }
    if (options.modes.includes('latency')) {
      record(
        'latency',
        await runPhase(
          instances,
          'latency',
          options,
          { count: Math.round(options.rate * options.latencySeconds), rate: options.rate },
          idleMs,
        ),
      );
    }
    if (soak) {
      const ran = await runPhase(
        instances,
        'soak',
        options,
        {
          count: Math.round(options.rate * options.soakSeconds),
          rate: options.rate,
          sampleMs: options.soakSampleSeconds * 1000,
          gcBeforeSample: true,
        },
        idleMs,
      );
      record('soak', ran);
      result.soak = summarizeSoak(ran.reports, options.soakWarmupSeconds);
    }
    result.ok = true;
  } catch (error) {
    result.error = error instanceof Error ? error.message : String(error);
  } finally {
    await Promise.all(instances.map((i) => i.stop()));
    for (const instance of instances) live.delete(instance);
    await own?.dispose();
    result.load[1] = round2(loadavg()[0]);
  }
  return result;
}

/** Events per second of the restart phase, and how long it runs after the port reopens. */
const RESTART_RATE = 100;
const RESTART_AFTER_S: Record<BrokerName, number> = { redis: 10, nats: 10, amqp: 25 };

/**
 * The restart phase: events at a fixed rate; 1 s in, the broker is killed, its port stays closed
 * for the down time, then it starts again on the same port. Each remote instance reports when the
 * first event reached it after the port reopened.
 */
async function runRestart(
  instances: Instance[],
  own: OwnBroker,
  options: BenchOptions,
  idleMs: number,
  record: (ran: Awaited<ReturnType<typeof runPhase>>) => PhaseResult,
): Promise<RestartResult> {
  const downMs = options.restartDownSeconds * 1000;
  const seconds = 1 + options.restartDownSeconds + RESTART_AFTER_S[own.broker];
  let reopenAt: number | undefined;
  const cycle = (async () => {
    await delay(1000);
    await own.kill();
    await delay(downMs);
    await own.run();
    reopenAt = now();
  })();
  const ran = await runPhase(
    instances,
    'restart',
    options,
    { count: Math.round(RESTART_RATE * seconds), rate: RESTART_RATE },
    idleMs,
    () => reopenAt,
  );
  await cycle;
  const entry = record(ran);
  return {
    downMs,
    firstEventMs: ran.reports
      .filter((report) => report.index >= 1)
      .map((report) =>
        report.firstAfter && reopenAt !== undefined
          ? Math.round(report.firstAfter - reopenAt)
          : null,
      ),
    lost: entry.summary.lost,
    duplicates: entry.summary.duplicates,
    outOfOrder: entry.summary.outOfOrder,
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function trialLine(trial: TrialResult): string {
  const busy = Math.max(...trial.load) > cpus().length ? ` [load ${trial.load.join('→')}]` : '';
  const head = `run ${trial.run} ${trial.broker} n=${trial.instances} ${bytesLabel(trial.payload)} ${trial.system}${busy}`;
  if (!trial.ok) return `${head}: FAILED ${trial.error?.split('\n')[0] ?? ''}`;
  const parts: string[] = [];
  const t = trial.phases.throughput?.summary;
  if (t)
    parts.push(
      `${Math.round(t.eventsPerSec).toLocaleString('en-US')} ev/s (lost ${t.lost}, dup ${t.duplicates}, ooo ${t.outOfOrder})`,
    );
  const l = trial.phases.latency?.summary.latencyRemote;
  if (l) parts.push(`p50 ${l.p50} ms p99 ${l.p99} ms`);
  const b = trial.phases.bytes?.summary;
  if (b?.bytesPerEvent !== undefined) parts.push(`${b.bytesPerEvent} B/ev`);
  const r = trial.restart;
  if (r) {
    const times = r.firstEventMs.map((t) => (t === null ? 'never' : `${t} ms`)).join(', ');
    parts.push(
      `first event ${times} after the port reopened (lost ${r.lost}, dup ${r.duplicates})`,
    );
  }
  const s = trial.soak;
  if (s)
    parts.push(
      s.map((x) => `i${x.index} heap ${x.heapGrowth >= 0 ? '+' : ''}${x.heapGrowth} MB`).join(', '),
    );
  return `${head}: ${parts.join(', ')}`;
}

/** Which source the module was built from, when the repository is a git checkout. */
function moduleSource(): { commit?: string; uncommittedChanges?: boolean } {
  const git = (args: string[]) =>
    execFileSync('git', args, {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  try {
    return {
      commit: git(['rev-parse', '--short', 'HEAD']).trim(),
      uncommittedChanges: git(['status', '--porcelain', '--', 'src']).trim() !== '',
    };
  } catch {
    return {};
  }
}

interface SavedResults {
  version?: number;
  command: string;
  label?: string;
  startedAt: string;
  machine: { cpus: number; node: string };
  options: {
    systems: SystemName[];
    /** Absent before version 2. */
    variants?: Variant[];
    oursOptions?: Record<string, unknown>;
    runs?: number;
    rate?: number;
    /** Absent before the fan-out row. */
    fanout?: boolean;
  };
  trials: TrialResult[];
}

/** Aggregates and prints the trials of an existing results file again, and redraws its chart. */
function reprint(file: string, chart: boolean): number {
  const saved = JSON.parse(readFileSync(file, 'utf8')) as SavedResults;
  const systems = runSystems(saved.options);
  const summary = aggregate(saved.trials, systems);
  const rendered = tables(summary, systems);
  const fanout = saved.options.fanout ? fanoutTable(summary, systems) : undefined;
  if (fanout) rendered.push(fanout);
  const soak = soakTable(saved.trials);
  if (soak) rendered.push(soak);
  for (const table of rendered) console.log(`${renderText(table)}\n`);
  console.log(
    `Command: \`${saved.command}\` (${saved.startedAt.slice(0, 10)}, ${saved.machine.cpus} CPUs, ` +
      `Node ${saved.machine.node})\n\n${rendered.map(renderMarkdown).join('\n\n')}`,
  );
  if (chart) writeChart(chartPath(file), saved, summary);
  return 0;
}

/** `x.json` → `x.svg`. */
function chartPath(resultsFile: string): string {
  return resultsFile.replace(/\.json$/i, '') + '.svg';
}

/** Writes the SVG chart of a run, when it has ratios to draw; says where. */
function writeChart(
  file: string,
  results: Pick<SavedResults, 'command' | 'label' | 'startedAt' | 'machine' | 'options'>,
  summary: ReturnType<typeof aggregate>,
): boolean {
  const svg = renderChart({
    summary,
    systems: runSystems(results.options),
    variants: results.options.variants,
    oursOptions: results.options.oursOptions,
    runs: results.options.runs,
    rate: results.options.rate,
    subtitle: [
      results.command,
      `${results.startedAt.slice(0, 10)} · ${results.machine.cpus} CPUs · Node ${results.machine.node}` +
        (results.label ? ` · ${results.label}` : ''),
    ],
  });
  if (!svg) return false;
  writeFileSync(file, svg);
  console.log(`chart: ${file}`);
  return true;
}

function withoutInstanceReports(trial: TrialResult): unknown {
  const phases = Object.fromEntries(
    Object.entries(trial.phases).map(([name, phase]) => [
      name,
      { spec: phase.spec, sender: phase.sender, summary: phase.summary },
    ]),
  );
  return { ...trial, phases };
}

/** Quotes an argument for a POSIX shell when it needs it, so the recorded command can be rerun. */
function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function rotate<T>(items: T[], by: number): T[] {
  const n = by % items.length;
  return [...items.slice(n), ...items.slice(0, n)];
}

async function main(): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseOptions(process.argv.slice(2), REPO_ROOT);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`bench: ${error.message}`);
      return 2;
    }
    throw error;
  }
  if (options === 'help') {
    console.log(HELP);
    return 0;
  }
  if (options.report !== undefined) return reprint(options.report, options.chart);
  const systems = runSystems(options);
  const runsOurs = systems.some((s) => s === 'ours' || isVariant(s));
  if (runsOurs && !existsSync(join(options.moduleDir, 'index.js'))) {
    console.error(`bench: ${options.moduleDir}/index.js is missing; run npm run build first.`);
    return 2;
  }
  const ports: Record<BrokerName, number> = { redis: 6379, amqp: 5672, nats: 4222 };
  for (const broker of options.brokers) {
    if (!(await reachable(options.uris[broker], ports[broker]))) {
      console.error(
        `bench: the ${broker} broker at ${redact(options.uris[broker])} is unreachable. ` +
          `Start it or set ${broker.toUpperCase()}_URI.`,
      );
      return 2;
    }
  }

  // The module was built just before this process started: record the source it came from now.
  const source = moduleSource();
  const runId = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const startedAt = new Date();
  const loadStart = loadavg();
  console.log(
    `bench ${runId}: ${options.brokers.join(',')} × ${options.instances.join(',')} instances × ` +
      `${options.payloads.map(bytesLabel).join(',')} × ${systems.join(',')}; ` +
      `${options.runs} run(s); modes ${options.modes.join(',')}; ` +
      `${cpus().length} CPUs, load ${loadStart.map((l) => l.toFixed(2)).join(' ')}`,
  );
  for (const variant of options.variants)
    console.log(`  ours:${variant.name} = ours + ${JSON.stringify(variant.options)}`);
  const trials: TrialResult[] = [];
  let order = 0;
  for (let run = 1; run <= options.runs; run++) {
    for (const broker of options.brokers) {
      for (const instances of options.instances) {
        for (const payload of options.payloads) {
          // Rotate the order of the systems so none always runs first (or last) on a noisy machine.
          for (const system of rotate(systems, order++)) {
            const trial = await runTrial(
              { run, broker, instances, payload, system, runId },
              options,
            );
            trials.push(trial);
            console.log(trialLine(trial));
          }
        }
      }
    }
  }

  const summary = aggregate(trials, systems);
  const rendered = tables(summary, systems);
  const fanout = options.fanout ? fanoutTable(summary, systems) : undefined;
  if (fanout) rendered.push(fanout);
  const soak = soakTable(trials);
  if (soak) rendered.push(soak);
  const restarts = restartTable(trials);
  if (restarts) rendered.push(restarts);
  console.log('');
  for (const table of rendered) console.log(`${renderText(table)}\n`);

  const profiles = trials.flatMap((t) =>
    Object.values(t.phases).flatMap((p) => p?.instances.map((i) => i.profile) ?? []),
  );
  const profileSummaries = [];
  for (const file of profiles) {
    if (!file) continue;
    const summaryOfProfile = summarizeProfile(file);
    profileSummaries.push(summaryOfProfile);
    console.log(summaryOfProfile.text);
  }

  const command = `npm run bench${options.argv.length ? ` -- ${options.argv.map(shellQuote).join(' ')}` : ''}`;
  const output = {
    // 2: variants of our module (`options.variants`, trials of system `ours:<name>`).
    version: 2,
    runId,
    command,
    label: options.label,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    module: source,
    machine: {
      node: process.version,
      platform: process.platform,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      loadStart,
      loadEnd: loadavg(),
    },
    options: {
      ...options,
      uris: Object.fromEntries(options.brokers.map((b) => [b, redact(options.uris[b])])),
      moduleDir: undefined,
      resultsDir: undefined,
      profileDir: undefined,
    },
    summary,
    tables: rendered,
    markdown: rendered.map(renderMarkdown).join('\n\n'),
    trials,
    profiles: profileSummaries.map((p) => ({ file: p.file, top: p.top, categories: p.categories })),
  };
  mkdirSync(options.resultsDir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const file = join(options.resultsDir, `${stamp}-${options.brokers.join('-')}.json`);
  writeFileSync(file, JSON.stringify(output, null, 2) + '\n');
  console.log(`results: ${file}`);
  const charted = options.chart && writeChart(chartPath(file), output, summary);
  if (options.writeLatest) {
    // The committed copy keeps every figure of the tables but not each instance's own report.
    const slim = { ...output, trials: trials.map(withoutInstanceReports) };
    writeFileSync(join(options.resultsDir, 'latest.json'), JSON.stringify(slim) + '\n');
    writeFileSync(
      join(options.resultsDir, 'latest.md'),
      `Command: \`${command}\` (${startedAt.toISOString().slice(0, 10)}, ` +
        `${cpus().length} CPUs, Node ${process.version})\n\n${output.markdown}\n`,
    );
    console.log(`results: ${join(options.resultsDir, 'latest.json')} (and latest.md)`);
    if (charted) writeChart(join(options.resultsDir, 'latest.svg'), output, summary);
  }
  return trials.every((t) => t.ok) ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
    killAll();
  },
  (error: unknown) => {
    console.error(error);
    killAll();
    process.exitCode = 1;
  },
);
