/**
 * What the orchestrator (main.ts) and the instance processes (instance.ts) say to each other over
 * the fork IPC channel, and the shapes both sides share.
 */

export const SYSTEMS = ['ours', 'feathers-sync', 'raw'] as const;
export type SystemName = (typeof SYSTEMS)[number];

/**
 * A system of a run: one of SYSTEMS, or a named variant of our module (`--variants`), which runs
 * as `ours` with options of its own and is measured as a system of its own.
 */
export type SystemId = SystemName | `ours:${string}`;

export function variantId(name: string): SystemId {
  return `ours:${name}`;
}

/** What runs in the instances of a system: a variant runs our module. */
export function baseSystem(id: SystemId): SystemName {
  return id.startsWith('ours:') ? 'ours' : (id as SystemName);
}

export const BROKER_NAMES = ['redis', 'amqp', 'nats'] as const;
export type BrokerName = (typeof BROKER_NAMES)[number];

/** What each service call carries in `params` (the raw client sends the data alone). */
export const PARAMS_KINDS = ['none', 'user', 'auth'] as const;
export type ParamsKind = (typeof PARAMS_KINDS)[number];

export type PhaseName =
  'probe' | 'bytes' | 'warmup' | 'throughput' | 'latency' | 'soak' | 'restart';

/** Everything an instance process needs to set itself up. */
export interface InstanceConfig {
  system: SystemName;
  broker: BrokerName;
  uri: string;
  key: string;
  /** 0 is the sender; every instance (the sender included) records what it receives. */
  index: number;
  instances: number;
  /** Target size of `JSON.stringify(result)` of one event, in bytes. */
  payloadBytes: number;
  params: ParamsKind;
  /** Folder of the built module (`dist/cjs`). */
  moduleDir: string;
  /**
   * Extra options merged into `FeathersSyncModule.forRoot()` (e.g. an envelope setting): those of
   * `--ours-options`, with a variant's own on top.
   */
  oursOptions: Record<string, unknown>;
  /** The variant's name when the system is a variant of our module. */
  variant?: string;
  /** Where phase CPU profiles go when `profilePhases` is not empty. */
  profileDir?: string;
  profilePhases: PhaseName[];
  /** Profiler sampling interval in microseconds. */
  profileIntervalUs: number;
}

/** One measured stretch of events, armed on every instance before the sender starts. */
export interface PhaseSpec {
  /** Unique within a trial; events of any other phase are counted as strays. */
  id: number;
  name: PhaseName;
  /** Events the sender sends. */
  count: number;
  /** Service calls (or raw publishes) started per batch when not paced. */
  concurrency: number;
  /**
   * Most events the sender may have sent but not yet seen itself (systems that see their own
   * events only through the broker); 0 for no limit.
   */
  window: number;
  /** Events per second when paced (latency, soak); absent for as-fast-as-possible. */
  rate?: number;
  /** Count the bytes the publisher hands to the broker. */
  countBytes: boolean;
  /** Memory sampling interval (ms). */
  sampleMs: number;
  /** Run a full GC before each memory sample (soak; needs --expose-gc). */
  gcBeforeSample: boolean;
}

export type ParentMessage =
  | { cmd: 'init'; config: InstanceConfig }
  | { cmd: 'arm'; phase: PhaseSpec }
  | { cmd: 'drive' }
  /** `after`: also report the first arrival at or after this time (the restart phase). */
  | { cmd: 'report'; after?: number }
  | { cmd: 'stop' };

export type ChildMessage =
  | { ev: 'ready'; bootMs: number }
  | { ev: 'error'; message: string }
  | { ev: 'armed'; phase: number }
  | { ev: 'progress'; phase: number; unique: number }
  | { ev: 'sent'; phase: number; sender: SenderReport }
  | { ev: 'report'; report: InstanceReport }
  | { ev: 'stopped' };

export interface SenderReport {
  /** Time of the first send (ms since the epoch, sub-millisecond). */
  startedAt: number;
  endedAt: number;
  sent: number;
  /** Sends that rejected (service call or publish). */
  failed: number;
  /** Times the sender waited the full stall timeout for its own events (lost ones). */
  windowStalls: number;
}

export interface LatencyStats {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface MemorySample {
  /** Seconds since the phase was armed. */
  t: number;
  rss: number;
  heapUsed: number;
}

export interface InstanceReport {
  index: number;
  phase: number;
  expected: number;
  /** Distinct events of this phase received. */
  unique: number;
  lost: number;
  duplicates: number;
  /** Events that arrived after one with a higher sequence number. */
  outOfOrder: number;
  /** Events of another phase (or out of range) received while this phase was armed. */
  stray: number;
  firstAt: number;
  lastAt: number;
  /** Send-to-delivery latency in ms, over the events received. */
  latency: LatencyStats | null;
  cpu: { userMs: number; systemMs: number };
  memory: {
    rssStart: number;
    rssEnd: number;
    rssPeak: number;
    heapStart: number;
    heapEnd: number;
    heapPeak: number;
    samples: MemorySample[];
  };
  /** Sender only, when bytes were counted. */
  bytes?: { events: number; bytes: number; dataBytes: number };
  /** Unhandled rejections seen in this process since boot (feathers-sync's NATS adapter makes some). */
  unhandledRejections: number;
  /** Our module's `SyncService.stats()`, when the system is ours. */
  syncStats?: unknown;
  /** Path of the CPU profile written for this phase. */
  profile?: string;
  /** Restart phase: when the first event at or after the report's `after` arrived (0: none). */
  firstAfter?: number;
}

/** The data of one event; the service (or the raw sender) adds `id`. */
export interface BenchData {
  /** Phase id. */
  ph: number;
  /** 0-based sequence number within the phase. */
  seq: number;
  /** Send time, ms since the epoch with sub-millisecond precision. */
  t: number;
  title: string;
  body: string;
  id?: number;
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across local processes. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
