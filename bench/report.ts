import type {
  BrokerName,
  InstanceReport,
  LatencyStats,
  PhaseSpec,
  SenderReport,
  SystemId,
} from './protocol.js';

export type MeasuredPhase = 'bytes' | 'throughput' | 'latency' | 'soak' | 'restart';

/** Figures of one phase of one trial, computed from the instances' reports. */
export interface PhaseSummary {
  /** Delivered events per second at the slowest instance (first send to its last delivery). */
  eventsPerSec: number;
  perInstanceEventsPerSec: number[];
  /** Sums over instances. */
  lost: number;
  duplicates: number;
  outOfOrder: number;
  /** Send-to-delivery latency at the slowest remote instance (by p99); null with one instance. */
  latencyRemote: LatencyStats | null;
  /** Latency at the sender's own instance (our module emits there at once). */
  latencyOrigin: LatencyStats | null;
  /** CPU time (user + system) per 1,000 events: the sender, and the mean of the other instances. */
  cpuMsPer1kSender: number;
  cpuMsPer1kReceiver: number | null;
  /** CPU time of all instances together per 1,000 events: the cost of moving an event everywhere. */
  cpuMsPer1kTotal: number;
  rssPeakMbSender: number;
  rssPeakMbReceiver: number | null;
  heapPeakMbSender: number;
  /** Bytes the publisher handed to the broker per event, and the event's own serialized data. */
  bytesPerEvent?: number;
  dataBytesPerEvent?: number;
}

export interface PhaseResult {
  spec: PhaseSpec;
  sender: SenderReport;
  instances: InstanceReport[];
  summary: PhaseSummary;
}

export interface TrialResult {
  run: number;
  broker: BrokerName;
  instances: number;
  payload: number;
  /** `ours`, `feathers-sync`, `raw`, or a variant of our module, `ours:<name>`. */
  system: SystemId;
  ok: boolean;
  error?: string;
  bootMs: number[];
  /** 1-minute load average of the machine when the trial started and ended. */
  load: [number, number];
  phases: Partial<Record<MeasuredPhase, PhaseResult>>;
  soak?: SoakSummary[];
  restart?: RestartResult;
}

/** The restart phase of a trial: the broker's port closed `downMs`, then reopened. */
export interface RestartResult {
  downMs: number;
  /** Per remote instance (index 1 on): ms from the port reopening to its first event; null: none. */
  firstEventMs: Array<number | null>;
  lost: number;
  duplicates: number;
  outOfOrder: number;
}

export interface SoakSummary {
  index: number;
  /** MB, median of the samples in the first minute after warm-up, and of the last 3 samples. */
  heapAfterWarmup: number;
  heapEnd: number;
  heapGrowth: number;
  /** Least-squares slope of heapUsed after warm-up, MB per minute. */
  heapSlopePerMin: number;
  rssAfterWarmup: number;
  rssEnd: number;
  rssGrowth: number;
  rssSlopePerMin: number;
  samples: number;
}

const MB = 1024 * 1024;

export function summarizePhase(
  spec: PhaseSpec,
  sender: SenderReport,
  reports: InstanceReport[],
): PhaseSummary {
  const sorted = [...reports].sort((a, b) => a.index - b.index);
  const perInstance = sorted.map((r) => {
    const seconds = (r.lastAt - sender.startedAt) / 1000;
    return r.unique > 0 && seconds > 0 ? r.unique / seconds : 0;
  });
  const sum = (pick: (r: InstanceReport) => number) => sorted.reduce((a, r) => a + pick(r), 0);
  const remote = sorted.filter((r) => r.index !== 0);
  const worst = remote
    .map((r) => r.latency)
    .filter((l): l is LatencyStats => l !== null)
    .sort((a, b) => b.p99 - a.p99)[0];
  const cpuPer1k = (r: InstanceReport) =>
    ((r.cpu.userMs + r.cpu.systemMs) / Math.max(1, spec.count)) * 1000;
  const origin = sorted.find((r) => r.index === 0);
  const summary: PhaseSummary = {
    eventsPerSec: perInstance.length ? Math.min(...perInstance) : 0,
    perInstanceEventsPerSec: perInstance.map(Math.round),
    lost: sum((r) => r.lost),
    duplicates: sum((r) => r.duplicates),
    outOfOrder: sum((r) => r.outOfOrder),
    latencyRemote: worst ?? null,
    latencyOrigin: origin?.latency ?? null,
    cpuMsPer1kSender: origin ? round2(cpuPer1k(origin)) : 0,
    cpuMsPer1kReceiver: remote.length
      ? round2(remote.reduce((a, r) => a + cpuPer1k(r), 0) / remote.length)
      : null,
    cpuMsPer1kTotal: round2(sorted.reduce((a, r) => a + cpuPer1k(r), 0)),
    rssPeakMbSender: origin ? round1(origin.memory.rssPeak / MB) : 0,
    rssPeakMbReceiver: remote.length
      ? round1(Math.max(...remote.map((r) => r.memory.rssPeak)) / MB)
      : null,
    heapPeakMbSender: origin ? round1(origin.memory.heapPeak / MB) : 0,
  };
  const bytes = origin?.bytes;
  if (bytes && bytes.events > 0) {
    summary.bytesPerEvent = Math.round(bytes.bytes / bytes.events);
    summary.dataBytesPerEvent = Math.round(bytes.dataBytes / bytes.events);
  }
  return summary;
}

export function summarizeSoak(reports: InstanceReport[], warmupSeconds: number): SoakSummary[] {
  return [...reports]
    .sort((a, b) => a.index - b.index)
    .map((r) => {
      const after = r.memory.samples.filter((s) => s.t >= warmupSeconds);
      const early = after.filter((s) => s.t < warmupSeconds + 60);
      const last = after.slice(-3);
      const mb = (values: number[]) => (median(values) ?? Number.NaN) / MB;
      const heapA = mb(early.map((s) => s.heapUsed));
      const heapB = mb(last.map((s) => s.heapUsed));
      const rssA = mb(early.map((s) => s.rss));
      const rssB = mb(last.map((s) => s.rss));
      return {
        index: r.index,
        heapAfterWarmup: round1(heapA),
        heapEnd: round1(heapB),
        heapGrowth: round1(heapB - heapA),
        heapSlopePerMin: round2(slope(after.map((s) => [s.t / 60, s.heapUsed / MB]))),
        rssAfterWarmup: round1(rssA),
        rssEnd: round1(rssB),
        rssGrowth: round1(rssB - rssA),
        rssSlopePerMin: round2(slope(after.map((s) => [s.t / 60, s.rss / MB]))),
        samples: after.length,
      };
    });
}

// ---------------------------------------------------------------- aggregation over runs

export interface Aggregate {
  median: number | null;
  runs: Array<number | null>;
}

export interface ComparisonRow {
  broker: BrokerName;
  instances: number;
  payload: number;
  /** Median over runs of each system's figure. */
  systems: Partial<Record<SystemId, Aggregate>>;
  /** Ratios computed within each run, then the median over runs; keyed `a/b` (see ratioPairs). */
  ratios: Record<string, Aggregate>;
  /** Lost / duplicated / out-of-order events summed over runs, per system. */
  integrity: Partial<Record<SystemId, { lost: number; duplicates: number; outOfOrder: number }>>;
  /** Trials that failed, per system. */
  failures: Partial<Record<SystemId, string>>;
}

export interface Summary {
  throughput: ComparisonRow[];
  latencyP50: ComparisonRow[];
  latencyP99: ComparisonRow[];
  bytes: ComparisonRow[];
  dataBytes: ComparisonRow[];
  cpuSender: ComparisonRow[];
  cpuReceiver: ComparisonRow[];
  cpuTotal: ComparisonRow[];
  rssSender: ComparisonRow[];
  /** Peak RSS of the largest receiver (absent in results saved before it was recorded). */
  rssReceiver?: ComparisonRow[];
}

export function isVariant(id: SystemId): boolean {
  return id.startsWith('ours:');
}

/**
 * The ratios worth computing between the systems of a run: ours/raw, ours/feathers-sync,
 * feathers-sync/raw, then for each variant of our module v/ours, v/raw and v/feathers-sync.
 */
export function ratioPairs(systems: readonly SystemId[]): Array<[SystemId, SystemId]> {
  const pairs: Array<[SystemId, SystemId]> = [
    ['ours', 'raw'],
    ['ours', 'feathers-sync'],
    ['feathers-sync', 'raw'],
  ];
  for (const variant of systems.filter(isVariant))
    pairs.push([variant, 'ours'], [variant, 'raw'], [variant, 'feathers-sync']);
  return pairs.filter(([a, b]) => systems.includes(a) && systems.includes(b));
}

export function aggregate(trials: TrialResult[], systems: SystemId[]): Summary {
  const build = (
    phase: MeasuredPhase,
    pick: (s: PhaseSummary) => number | null | undefined,
  ): ComparisonRow[] => {
    const groups = new Map<string, TrialResult[]>();
    for (const trial of trials) {
      const id = `${trial.broker}|${trial.instances}|${trial.payload}`;
      groups.set(id, [...(groups.get(id) ?? []), trial]);
    }
    const rows: ComparisonRow[] = [];
    for (const group of groups.values()) {
      const first = group[0];
      const runs = [...new Set(group.map((t) => t.run))].sort((a, b) => a - b);
      const value = (system: SystemId, run: number): number | null => {
        const trial = group.find((t) => t.system === system && t.run === run);
        const summary = trial?.ok ? trial.phases[phase]?.summary : undefined;
        const picked = summary ? pick(summary) : undefined;
        return picked === undefined || picked === null || Number.isNaN(picked) ? null : picked;
      };
      const row: ComparisonRow = {
        broker: first.broker,
        instances: first.instances,
        payload: first.payload,
        systems: {},
        ratios: {},
        integrity: {},
        failures: {},
      };
      for (const system of systems) {
        const perRun = runs.map((run) => value(system, run));
        row.systems[system] = { median: median(perRun), runs: perRun };
        const measured = group
          .filter((t) => t.system === system && t.ok)
          .map((t) => t.phases[phase]?.summary)
          .filter((s): s is PhaseSummary => s !== undefined);
        row.integrity[system] = {
          lost: measured.reduce((a, s) => a + s.lost, 0),
          duplicates: measured.reduce((a, s) => a + s.duplicates, 0),
          outOfOrder: measured.reduce((a, s) => a + s.outOfOrder, 0),
        };
        const failed = group.find((t) => t.system === system && !t.ok);
        if (failed) row.failures[system] = failed.error ?? 'failed';
      }
      for (const [a, b] of ratioPairs(systems)) {
        const perRun = runs.map((run) => {
          const x = value(a, run);
          const y = value(b, run);
          return x !== null && y !== null && y !== 0 ? x / y : null;
        });
        row.ratios[`${a}/${b}`] = { median: median(perRun), runs: perRun };
      }
      rows.push(row);
    }
    return rows;
  };
  return {
    throughput: build('throughput', (s) => s.eventsPerSec),
    latencyP50: build('latency', (s) => s.latencyRemote?.p50),
    latencyP99: build('latency', (s) => s.latencyRemote?.p99),
    bytes: build('bytes', (s) => s.bytesPerEvent),
    dataBytes: build('bytes', (s) => s.dataBytesPerEvent),
    cpuSender: build('throughput', (s) => s.cpuMsPer1kSender),
    cpuReceiver: build('throughput', (s) => s.cpuMsPer1kReceiver),
    cpuTotal: build('throughput', (s) => s.cpuMsPer1kTotal),
    rssSender: build('throughput', (s) => s.rssPeakMbSender),
    rssReceiver: build('throughput', (s) => s.rssPeakMbReceiver),
  };
}

// ---------------------------------------------------------------- tables

export interface Table {
  title: string;
  headers: string[];
  rows: string[][];
  notes?: string[];
}

const SHORT: Record<string, string> = { 'feathers-sync': 'f-sync' };

/** A system's name in column headers: feathers-sync is `f-sync`, variants keep `ours:<name>`. */
export function shortName(system: SystemId): string {
  return SHORT[system] ?? system;
}

export function tables(summary: Summary, systems: SystemId[]): Table[] {
  const out: Table[] = [];
  const key = (row: ComparisonRow) => [row.broker, String(row.instances), bytesLabel(row.payload)];
  // A variant's columns compare it with ours and with raw; its ratio to feathers-sync is in the
  // summary and the chart, not in the (already wide) tables.
  const ratioCols = ratioPairs(systems)
    .filter(([a, b]) => !isVariant(a) || b !== 'feathers-sync')
    .map(([a, b]) => `${a}/${b}`);
  const ratioHead = (r: string) =>
    r
      .split('/')
      .map((s) => shortName(s as SystemId))
      .join('/');
  const cell = (row: ComparisonRow, system: SystemId, format: (n: number) => string) => {
    if (row.failures[system] && row.systems[system]?.median === null) return 'failed';
    const value = row.systems[system]?.median;
    return value === null || value === undefined ? '-' : format(value);
  };
  const ratio = (row: ComparisonRow, r: string) => {
    const value = row.ratios[r]?.median;
    return value === null || value === undefined ? '-' : `${value.toFixed(2)}x`;
  };
  const integrity = (row: ComparisonRow, system: SystemId) => {
    const i = row.integrity[system];
    return i ? `${i.lost}/${i.duplicates}/${i.outOfOrder}` : '-';
  };
  const variants = systems.filter(isVariant);

  if (summary.throughput.some((r) => Object.values(r.systems).some((a) => a?.median !== null))) {
    out.push({
      title: 'Throughput: delivered events/s at the slowest instance (median of runs)',
      headers: [
        'broker',
        'inst',
        'payload',
        ...systems.map((s) => `${shortName(s)} ev/s`),
        ...ratioCols.map(ratioHead),
        ...systems.map((s) => `${shortName(s)} lost/dup/ooo`),
      ],
      rows: summary.throughput.map((row) => [
        ...key(row),
        ...systems.map((s) => cell(row, s, thousands)),
        ...ratioCols.map((r) => ratio(row, r)),
        ...systems.map((s) => integrity(row, s)),
      ]),
      notes: [
        'Ratios are computed within each run, then the median is taken.',
        'lost/dup/ooo: events lost, duplicated and out of order, summed over instances and runs.',
      ],
    });
  }
  if (summary.latencyP99.some((r) => Object.values(r.systems).some((a) => a?.median !== null))) {
    out.push({
      title: 'Latency at a fixed rate: p50 / p99 ms at the slowest remote instance',
      headers: [
        'broker',
        'inst',
        'payload',
        ...systems.map((s) => `${shortName(s)} p50/p99`),
        ...ratioCols.filter((r) => r.startsWith('ours')).map((r) => `p99 ${ratioHead(r)}`),
        ...systems.map((s) => `${shortName(s)} lost/dup/ooo`),
      ],
      rows: summary.latencyP99.map((row, i) => {
        const p50 = summary.latencyP50[i];
        return [
          ...key(row),
          ...systems.map((s) => `${cell(p50, s, ms)} / ${cell(row, s, ms)}`),
          ...ratioCols.filter((r) => r.startsWith('ours')).map((r) => ratio(row, r)),
          ...systems.map((s) => integrity(row, s)),
        ];
      }),
    });
  }
  if (summary.bytes.some((r) => Object.values(r.systems).some((a) => a?.median !== null))) {
    // Bytes do not depend on the broker's speed or the number of instances: one row per
    // broker and payload.
    const seen = new Set<string>();
    const rows: string[][] = [];
    summary.bytes.forEach((row, i) => {
      const id = `${row.broker}|${row.payload}`;
      if (seen.has(id)) return;
      seen.add(id);
      const data = summary.dataBytes[i];
      const dataValue = median(systems.map((s) => data.systems[s]?.median ?? null));
      const of = (s: SystemId) => row.systems[s]?.median ?? null;
      const over = (a: number | null, b: number | null) =>
        a !== null && b ? `${(a / b).toFixed(2)}x` : '-';
      rows.push([
        row.broker,
        bytesLabel(row.payload),
        dataValue === null ? '-' : String(Math.round(dataValue)),
        ...systems.map((s) => cell(row, s, (n) => String(Math.round(n)))),
        over(of('ours'), of('feathers-sync')),
        over(of('ours'), dataValue),
        ...variants.flatMap((v) => [over(of(v), of('ours')), over(of(v), dataValue)]),
      ]);
    });
    out.push({
      title: 'Bytes on the wire per event (what the publisher hands to the broker)',
      headers: [
        'broker',
        'payload',
        'data B',
        ...systems.map((s) => `${shortName(s)} B/ev`),
        'ours/f-sync',
        'ours/data',
        ...variants.flatMap((v) => [`${v}/ours`, `${v}/data`]),
      ],
      rows,
      notes: ['data B: JSON.stringify of the event data (the service result) alone.'],
    });
  }
  if (summary.cpuSender.some((r) => Object.values(r.systems).some((a) => a?.median !== null))) {
    out.push({
      title:
        'CPU ms per 1,000 events in the throughput phase (sender | one receiver), CPU ratios, sender peak RSS',
      headers: [
        'broker',
        'inst',
        'payload',
        ...systems.map((s) => `${shortName(s)} cpu snd|rcv`),
        ...ratioCols.map((r) => `cpu ${ratioHead(r)}`),
        ...systems.map((s) => `${shortName(s)} RSS MB`),
      ],
      rows: summary.cpuSender.map((row, i) => [
        ...key(row),
        ...systems.map(
          (s) =>
            `${cell(row, s, (n) => n.toFixed(0))} | ${cell(summary.cpuReceiver[i], s, (n) => n.toFixed(0))}`,
        ),
        ...ratioCols.map((r) => ratio(summary.cpuTotal[i], r)),
        ...systems.map((s) => cell(summary.rssSender[i], s, (n) => n.toFixed(0))),
      ]),
      notes: [
        'cpu a/b: CPU time of all instances together per event, a over b (below 1: a is cheaper).',
        'It moves less than ev/s when other work loads the machine.',
      ],
    });
  }
  return out;
}

/**
 * The fan-out row: for each broker and payload, one line per instance count, so what one instance
 * costs can be read as N grows: throughput at the slowest instance, CPU per 1,000 events of one
 * receiver and of the sender, the largest receiver's and the sender's peak RSS, ours beside raw.
 */
export function fanoutTable(summary: Summary, systems: SystemId[]): Table | undefined {
  const shown = systems.filter((s) => s === 'ours' || s === 'raw' || isVariant(s));
  const rows = [...summary.throughput]
    .map((row, i) => ({ row, i }))
    .sort(
      (a, b) =>
        a.row.broker.localeCompare(b.row.broker) ||
        a.row.payload - b.row.payload ||
        a.row.instances - b.row.instances,
    );
  if (!rows.length || !shown.length) return undefined;
  const value = (rows: ComparisonRow[] | undefined, i: number, system: SystemId, digits = 0) => {
    const v = rows?.[i]?.systems[system]?.median;
    return v === null || v === undefined ? '-' : v.toFixed(digits);
  };
  const ratio = (row: ComparisonRow) => {
    const v = row.ratios['ours/raw']?.median;
    return v === null || v === undefined ? '-' : `${v.toFixed(2)}x`;
  };
  return {
    title:
      'Fan-out: one sender, N instances (throughput phase; CPU ms per 1,000 events, peak RSS MB)',
    headers: [
      'broker',
      'inst',
      'payload',
      ...shown.map((s) => `${shortName(s)} ev/s`),
      ...(shown.includes('ours') && shown.includes('raw') ? ['ours/raw'] : []),
      ...shown.map((s) => `${shortName(s)} cpu rcv|snd`),
      ...shown.map((s) => `${shortName(s)} RSS rcv|snd`),
      ...shown.map((s) => `${shortName(s)} lost/dup/ooo`),
    ],
    rows: rows.map(({ row, i }) => [
      row.broker,
      String(row.instances),
      bytesLabel(row.payload),
      ...shown.map((s) => {
        const v = summary.throughput[i]?.systems[s]?.median;
        return v === null || v === undefined ? '-' : thousands(v);
      }),
      ...(shown.includes('ours') && shown.includes('raw') ? [ratio(row)] : []),
      ...shown.map(
        (s) => `${value(summary.cpuReceiver, i, s)} | ${value(summary.cpuSender, i, s)}`,
      ),
      ...shown.map(
        (s) => `${value(summary.rssReceiver, i, s)} | ${value(summary.rssSender, i, s)}`,
      ),
      ...shown.map((s) => {
        const integrity = row.integrity[s];
        return integrity
          ? `${integrity.lost}/${integrity.duplicates}/${integrity.outOfOrder}`
          : '-';
      }),
    ]),
    notes: [
      'cpu rcv: mean CPU of one receiving instance per 1,000 events sent; snd: the sending instance.',
      'RSS rcv: peak RSS of the largest receiving instance; snd: of the sender.',
      'A flat cpu rcv and RSS rcv as N grows: what one instance does does not grow with the fleet.',
    ],
  };
}

export function soakTable(trials: TrialResult[]): Table | undefined {
  const rows: string[][] = [];
  for (const trial of trials) {
    if (!trial.soak) continue;
    const phase = trial.phases.soak?.summary;
    for (const s of trial.soak) {
      rows.push([
        trial.system,
        trial.broker,
        String(s.index),
        `${s.heapAfterWarmup} → ${s.heapEnd}`,
        `${signed(s.heapGrowth)} (${signed(s.heapSlopePerMin)}/min)`,
        `${s.rssAfterWarmup} → ${s.rssEnd}`,
        `${signed(s.rssGrowth)} (${signed(s.rssSlopePerMin)}/min)`,
        phase ? `${phase.lost}/${phase.duplicates}/${phase.outOfOrder}` : '-',
      ]);
    }
  }
  if (!rows.length) return undefined;
  return {
    title: 'Soak: memory after warm-up → end (MB; heap sampled after a full GC)',
    headers: [
      'system',
      'broker',
      'instance',
      'heap MB',
      'heap growth',
      'RSS MB',
      'RSS growth',
      'lost/dup/ooo',
    ],
    rows,
  };
}

export function renderText(table: Table): string {
  const widths = table.headers.map((h, i) =>
    Math.max(h.length, ...table.rows.map((r) => (r[i] ?? '').length)),
  );
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [
    table.title,
    line(table.headers),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...table.rows.map(line),
    ...(table.notes ?? []).map((n) => `  ${n}`),
  ].join('\n');
}

export function renderMarkdown(table: Table): string {
  const escape = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `**${table.title}**`,
    '',
    `| ${table.headers.map(escape).join(' | ')} |`,
    `| ${table.headers.map((_, i) => (i < 3 ? '---' : '---:')).join(' | ')} |`,
    ...table.rows.map((r) => `| ${r.map(escape).join(' | ')} |`),
    ...(table.notes?.length ? ['', ...table.notes.map((n) => `- ${n}`)] : []),
  ].join('\n');
}

// ---------------------------------------------------------------- numbers

export function median(values: Array<number | null>): number | null {
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (!present.length) return null;
  const sorted = [...present].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function slope(points: Array<[number, number]>): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export function bytesLabel(bytes: number): string {
  return bytes >= 1024 && bytes % 1024 === 0 ? `${bytes / 1024} KB` : `${bytes} B`;
}

function thousands(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function ms(value: number): string {
  return value < 10 ? value.toFixed(2) : value.toFixed(1);
}

function signed(value: number): string {
  return `${value >= 0 ? '+' : ''}${value}`;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
