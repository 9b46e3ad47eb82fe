/**
 * One instance of the system under test, in its own process (forked by main.ts). Every instance
 * records what it receives; instance 0 also sends. Commands arrive over the IPC channel.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { payloadFactory } from './payload.js';
import {
  now,
  type BenchData,
  type ChildMessage,
  type InstanceConfig,
  type InstanceReport,
  type MemorySample,
  type ParentMessage,
  type PhaseSpec,
  type SenderReport,
} from './protocol.js';
import { createSystem, type BenchSystem } from './systems.js';
import { Tracker } from './tracker.js';

/** How long the sender waits for its own events before presuming the missing ones lost. */
const STALL_MS = 2000;
const PROGRESS_MS = 200;
const CLOSE_TIMEOUT_MS = 5000;

let config: InstanceConfig | undefined;
let system: BenchSystem | undefined;
let tracker: Tracker | undefined;
let phase: PhaseState | undefined;
let unhandledRejections = 0;

interface PhaseState {
  spec: PhaseSpec;
  cpu: NodeJS.CpuUsage;
  armedAt: number;
  memory: InstanceReport['memory'];
  sampler: NodeJS.Timeout;
  progress: NodeJS.Timeout;
  lastPushed: number;
  profiler?: Session;
  sender?: Promise<SenderReport>;
}

function send(message: ChildMessage): void {
  if (process.connected) process.send?.(message);
}

process.on('unhandledRejection', () => {
  unhandledRejections++;
});
process.on('uncaughtException', (error) => {
  send({ ev: 'error', message: `uncaught exception: ${error.stack ?? String(error)}` });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100).unref();
});
// The orchestrator is gone: never linger.
process.on('disconnect', () => process.exit(1));

process.on('message', (message: ParentMessage) => {
  handle(message).catch((error: unknown) => {
    send({ ev: 'error', message: error instanceof Error ? error.message : String(error) });
  });
});

async function handle(message: ParentMessage): Promise<void> {
  switch (message.cmd) {
    case 'init':
      return init(message.config);
    case 'arm':
      return arm(message.phase);
    case 'drive':
      return startDriving();
    case 'report':
      return report(message.after);
    case 'stop':
      return stop();
  }
}

async function init(received: InstanceConfig): Promise<void> {
  config = received;
  const started = now();
  system = await createSystem(received, deliver);
  send({ ev: 'ready', bootMs: now() - started });
}

function deliver(data: BenchData): void {
  if (tracker) tracker.record(data?.ph, data?.seq, data?.t);
}

function arm(spec: PhaseSpec): void {
  if (!system || !config) throw new Error('not initialised');
  if (phase) finishPhase();
  const start = process.memoryUsage();
  const memory: InstanceReport['memory'] = {
    rssStart: start.rss,
    rssEnd: start.rss,
    rssPeak: start.rss,
    heapStart: start.heapUsed,
    heapEnd: start.heapUsed,
    heapPeak: start.heapUsed,
    samples: [],
  };
  const armedAt = now();
  const gc = (globalThis as { gc?: () => void }).gc;
  const sampler = setInterval(() => {
    if (spec.gcBeforeSample && gc) gc();
    const usage = process.memoryUsage();
    memory.rssPeak = Math.max(memory.rssPeak, usage.rss);
    memory.heapPeak = Math.max(memory.heapPeak, usage.heapUsed);
    if (spec.name === 'soak') {
      const sample: MemorySample = {
        t: Math.round((now() - armedAt) / 100) / 10,
        rss: usage.rss,
        heapUsed: usage.heapUsed,
      };
      memory.samples.push(sample);
    }
  }, spec.sampleMs);
  const state: PhaseState = {
    spec,
    cpu: process.cpuUsage(),
    armedAt,
    memory,
    sampler,
    progress: setInterval(() => pushProgress(false), PROGRESS_MS),
    lastPushed: -1,
  };
  phase = state;
  tracker = new Tracker(spec, () => pushProgress(true));
  system.countBytes(spec.countBytes);
  if (config.profilePhases.includes(spec.name) && config.profileDir && config.index <= 1) {
    state.profiler = startProfiler(config.profileIntervalUs);
  }
  send({ ev: 'armed', phase: spec.id });
}

function pushProgress(force: boolean): void {
  if (!phase || !tracker) return;
  if (!force && tracker.unique === phase.lastPushed) return;
  phase.lastPushed = tracker.unique;
  send({ ev: 'progress', phase: tracker.phase, unique: tracker.unique });
}

function startDriving(): void {
  const state = phase;
  if (!state || !system || !config || !tracker) throw new Error('no phase armed');
  const run = drive(state.spec, system, tracker, payloadFactory(config.payloadBytes));
  state.sender = run;
  run.then(
    (sender) => send({ ev: 'sent', phase: state.spec.id, sender }),
    (error: unknown) => send({ ev: 'error', message: `sender: ${String(error)}` }),
  );
}

/** Instance 0: sends the phase's events, as fast as the limits allow or at a fixed rate. */
async function drive(
  spec: PhaseSpec,
  target: BenchSystem,
  own: Tracker,
  makeData: (ph: number, seq: number) => BenchData,
): Promise<SenderReport> {
  let sent = 0;
  let failed = 0;
  let windowStalls = 0;
  let outstanding = 0;
  let settled: (() => void) | undefined;
  const startedAt = now();
  const fire = (): Promise<void> => {
    const data = makeData(spec.id, sent++);
    data.t = now();
    outstanding++;
    return target.send(data).then(
      () => {
        if (--outstanding === 0) settled?.();
      },
      () => {
        failed++;
        if (--outstanding === 0) settled?.();
      },
    );
  };

  if (spec.rate) {
    const interval = 1000 / spec.rate;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const due = Math.min(spec.count, Math.floor((now() - startedAt) / interval) + 1);
        while (sent < due) void fire();
        if (sent >= spec.count) resolve();
        else setTimeout(tick, 1);
      };
      tick();
    });
  } else {
    // Events presumed lost after a stall, so that the window does not wait for them again.
    let presumedLost = 0;
    while (sent < spec.count) {
      if (spec.window > 0 && sent - own.unique - presumedLost >= spec.window) {
        const reached = await own.waitFor(sent - presumedLost - spec.window + 1, STALL_MS);
        if (!reached) {
          windowStalls++;
          presumedLost = sent - own.unique;
        }
      }
      const batch = Math.min(spec.concurrency, spec.count - sent);
      const calls: Array<Promise<void>> = [];
      for (let i = 0; i < batch; i++) calls.push(fire());
      await Promise.all(calls);
      // Let I/O run between batches, as it would between requests in an app.
      await yieldToLoop();
    }
  }
  const endedAt = now();
  if (outstanding > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 30_000);
      settled = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  return { startedAt, endedAt, sent, failed, windowStalls };
}

function finishPhase(): PhaseState | undefined {
  const state = phase;
  if (!state) return undefined;
  clearInterval(state.sampler);
  clearInterval(state.progress);
  phase = undefined;
  return state;
}

async function report(after?: number): Promise<void> {
  const state = finishPhase();
  const own = tracker;
  if (!state || !own || !system || !config) throw new Error('no phase armed');
  const cpu = process.cpuUsage(state.cpu);
  const end = process.memoryUsage();
  state.memory.rssEnd = end.rss;
  state.memory.heapEnd = end.heapUsed;
  state.memory.rssPeak = Math.max(state.memory.rssPeak, end.rss);
  state.memory.heapPeak = Math.max(state.memory.heapPeak, end.heapUsed);
  let profile: string | undefined;
  if (state.profiler && config.profileDir) {
    profile = join(
      config.profileDir,
      `${config.system}${config.variant ? `-${config.variant}` : ''}-${config.broker}-` +
        `n${config.instances}-${config.payloadBytes}B-` +
        `${state.spec.name}-i${config.index}-${process.pid}.cpuprofile`,
    );
    await stopProfiler(state.profiler, profile);
  }
  const bytes = config.index === 0 && state.spec.countBytes ? system.bytes() : undefined;
  system.countBytes(false);
  const result: InstanceReport = {
    index: config.index,
    phase: own.phase,
    expected: own.expected,
    unique: own.unique,
    lost: own.expected - own.unique,
    duplicates: own.duplicates,
    outOfOrder: own.outOfOrder,
    stray: own.stray,
    firstAt: own.firstAt,
    lastAt: own.lastAt,
    latency: own.latency(),
    cpu: { userMs: cpu.user / 1000, systemMs: cpu.system / 1000 },
    memory: state.memory,
    bytes,
    unhandledRejections,
    syncStats: system.stats(),
    profile,
    firstAfter: after === undefined ? undefined : own.firstArrivalAfter(after),
  };
  tracker = undefined;
  send({ ev: 'report', report: result });
}

async function stop(): Promise<void> {
  finishPhase();
  tracker = undefined;
  const closing = system?.close() ?? Promise.resolve();
  await Promise.race([
    closing.catch(() => undefined),
    new Promise((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref()),
  ]);
  send({ ev: 'stopped' });
  // Give the IPC message a moment, then leave even if a client library keeps a handle open.
  setTimeout(() => process.exit(0), 50);
}

function startProfiler(intervalUs: number): Session {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  session.post('Profiler.start');
  return session;
}

function stopProfiler(session: Session, file: string): Promise<void> {
  return new Promise((resolve) => {
    session.post('Profiler.stop', (error, result) => {
      if (!error && result) writeFileSync(file, JSON.stringify(result.profile));
      session.disconnect();
      resolve();
    });
  });
}
