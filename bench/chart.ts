/**
 * The results as a picture: an SVG of the ratios within each run (throughput and p99 latency of
 * our module and its variants against the raw client and feathers-sync), one bar per system for
 * every broker × instance count × payload. Written by `npm run bench` next to the results JSON.
 * Plain SVG text, no library: it renders in a browser and on GitHub as an image.
 */
import type { Variant } from './options.js';
import type { SystemId } from './protocol.js';
import { bytesLabel, isVariant, type ComparisonRow, type Summary } from './report.js';

export interface ChartInput {
  summary: Pick<Summary, 'throughput' | 'latencyP99'>;
  /** Every system of the run; bars are drawn for `ours` and its variants. */
  systems: readonly SystemId[];
  variants?: readonly Variant[];
  /** `--ours-options`, shown in the legend when not empty. */
  oursOptions?: Record<string, unknown>;
  title?: string;
  /** Lines under the title: the command, the date and the machine. */
  subtitle?: string[];
  runs?: number;
  /** Events per second of the latency phase. */
  rate?: number;
}

/** What the bars of a panel are divided by: `ours` is the default options (variants only). */
type Baseline = 'raw' | 'feathers-sync' | 'ours';
const BASELINES: readonly Baseline[] = ['raw', 'feathers-sync', 'ours'];

interface Panel {
  metric: 'throughput' | 'latency';
  baseline: Baseline;
  rows: Map<string, ComparisonRow>;
}

const FONT = `system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif`;
/** Tableau 10: ours is blue, the variants take the next colours. */
const COLORS = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#7f7f7f',
  '#d62728',
];
const MARGIN = 16;
const LABEL_W = 118;
/** Panel width with one or two baselines, and with three (variants against ours too). */
const PANEL_W = [310, 310, 310, 256];
const MIN_WIDTH = 640;
const PANEL_GAP = 18;
/** Room either side of the plotted range for the value labels. */
const LABEL_ROOM = 44;
const BAR_H = 10;
const BAR_GAP = 2;
const ROW_PAD = 8;
const PANEL_HEAD = 50;
const PANEL_FOOT = 26;
/** Ratios beyond these are drawn to the edge with their value. */
const MIN_RATIO = 1 / 16;
const MAX_RATIO = 16;

/** Renders the chart, or returns undefined when the results hold no ratio to draw. */
export function renderChart(input: ChartInput): string | undefined {
  const bars = input.systems.filter((s) => s === 'ours' || isVariant(s));
  if (!bars.length) return undefined;
  const rowKey = (row: ComparisonRow) => `${row.broker}|${row.instances}|${row.payload}`;
  const keys: string[] = [];
  const labels = new Map<string, ComparisonRow>();
  for (const row of [...input.summary.throughput, ...input.summary.latencyP99]) {
    if (labels.has(rowKey(row))) continue;
    labels.set(rowKey(row), row);
    keys.push(rowKey(row));
  }
  const ratioOf = (row: ComparisonRow | undefined, system: SystemId, baseline: Baseline) =>
    row?.ratios[`${system}/${baseline}`]?.median ?? null;

  const panels: Panel[] = [];
  for (const metric of ['throughput', 'latency'] as const) {
    const source = metric === 'throughput' ? input.summary.throughput : input.summary.latencyP99;
    for (const baseline of BASELINES) {
      if (!input.systems.includes(baseline)) continue;
      const rows = new Map(source.map((row) => [rowKey(row), row]));
      // A panel with nothing but failures is drawn too, so that the failures show.
      const any = source.some((row) =>
        bars.some(
          (s) =>
            s !== baseline &&
            (ratioOf(row, s, baseline) !== null || !!row.failures[s] || !!row.failures[baseline]),
        ),
      );
      if (any) panels.push({ metric, baseline, rows });
    }
  }
  if (!panels.length || !keys.length) return undefined;

  const columns: Baseline[] = BASELINES.filter((b) => panels.some((p) => p.baseline === b));
  const metrics = (['throughput', 'latency'] as const).filter((m) =>
    panels.some((p) => p.metric === m),
  );
  const fixed = MARGIN * 2 + LABEL_W + (columns.length - 1) * PANEL_GAP;
  const panelWidth = Math.max(PANEL_W[columns.length], (MIN_WIDTH - fixed) / columns.length);
  const width = Math.round(fixed + columns.length * panelWidth);
  const rowHeight = bars.length * BAR_H + (bars.length - 1) * BAR_GAP + ROW_PAD;
  const brokerBreaks = keys.filter(
    (k, i) => i > 0 && k.split('|')[0] !== keys[i - 1].split('|')[0],
  );
  const rowsHeight = keys.length * rowHeight + brokerBreaks.length * 6;
  const blockHeight = PANEL_HEAD + rowsHeight + PANEL_FOOT;

  const out: string[] = [];
  let y = MARGIN;
  // ---- title, subtitle, legend
  const title = input.title ?? 'nestjs-feathers-sync benchmark: ratios within each run';
  out.push(text(MARGIN, y + 16, title, { size: 17, weight: 'bold' }));
  y += 24;
  for (const line of (input.subtitle ?? []).flatMap((l) => wrap(l, (width - 2 * MARGIN) / 6.1))) {
    out.push(text(MARGIN, y + 12, line, { size: 11, fill: '#555' }));
    y += 16;
  }
  y += 6;
  const describe = (system: SystemId): string => {
    if (system === 'ours') {
      const extra = input.oursOptions && Object.keys(input.oursOptions).length;
      return extra
        ? `ours: our module with ${clip(JSON.stringify(input.oursOptions), 70)}`
        : 'ours: our module, default options';
    }
    const variant = input.variants?.find((v) => `ours:${v.name}` === system);
    return `${system}: ${variant ? clip(JSON.stringify(variant.options), 70) : 'a variant of ours'}`;
  };
  let legendX = MARGIN;
  for (const [i, system] of bars.entries()) {
    const label = describe(system);
    const itemWidth = 22 + label.length * 6.4;
    if (legendX > MARGIN && legendX + itemWidth > width - MARGIN) {
      legendX = MARGIN;
      y += 18;
    }
    out.push(
      `<rect x="${legendX}" y="${y + 2}" width="12" height="12" rx="2" fill="${color(i)}"/>`,
      text(legendX + 17, y + 12, label, { size: 12 }),
    );
    legendX += itemWidth + 14;
  }
  y += 22;
  const caption = [
    `Each bar: the ratio between two systems measured in the same run` +
      `${input.runs && input.runs > 1 ? `, median of ${input.runs} runs` : ''} (log scale).`,
    `1x = parity; the green side is where our module${bars.length > 1 ? ' (or a variant of it)' : ''} does better.`,
  ];
  for (const line of caption) {
    out.push(text(MARGIN, y + 12, line, { size: 11, fill: '#555' }));
    y += 15;
  }
  y += 10;

  // ---- panels: one block of rows per metric, one column per baseline
  let flagged = false;
  for (const metric of metrics) {
    const top = y;
    const rowsTop = top + PANEL_HEAD;
    // Row labels and stripes, shared by the panels of this block.
    let rowY = rowsTop;
    const rowTops: number[] = [];
    for (const [i, key] of keys.entries()) {
      if (brokerBreaks.includes(key)) {
        out.push(line(MARGIN, rowY + 3, width - MARGIN, rowY + 3, { stroke: '#999', width: 1 }));
        rowY += 6;
      }
      rowTops.push(rowY);
      if (i % 2 === 1)
        out.push(
          `<rect x="${MARGIN}" y="${rowY}" width="${width - 2 * MARGIN}" height="${rowHeight}" fill="#f4f4f4"/>`,
        );
      const row = labels.get(key) as ComparisonRow;
      const middle = rowY + rowHeight / 2 + 4;
      out.push(
        text(MARGIN + 2, middle, row.broker, { size: 12, weight: 'bold' }),
        text(MARGIN + 46, middle, `${row.instances} inst · ${bytesLabel(row.payload)}`, {
          size: 12,
        }),
      );
      rowY += rowHeight;
    }
    for (const [c, baseline] of columns.entries()) {
      const panel = panels.find((p) => p.metric === metric && p.baseline === baseline);
      if (!panel) continue;
      const left = MARGIN + LABEL_W + c * (panelWidth + PANEL_GAP);
      const plotLeft = left + LABEL_ROOM;
      const plotRight = left + panelWidth - LABEL_ROOM;
      const values = keys.flatMap((key) =>
        bars.map((s) => ratioOf(panel.rows.get(key), s, baseline)),
      );
      const [lo, hi] = domain(values);
      const x = (v: number) =>
        plotLeft +
        ((Math.log2(clamp(v, lo, hi)) - Math.log2(lo)) / (Math.log2(hi) - Math.log2(lo))) *
          (plotRight - plotLeft);
      const higherIsBetter = metric === 'throughput';
      const vs = {
        raw: 'the raw client',
        'feathers-sync': 'feathers-sync',
        ours: 'ours (defaults)',
      }[baseline];
      const what = metric === 'throughput' ? `Throughput vs ${vs}` : `p99 latency vs ${vs}`;
      out.push(
        text(left + panelWidth / 2, top + 14, what, { size: 13, weight: 'bold', anchor: 'middle' }),
        text(
          left + panelWidth / 2,
          top + 28,
          higherIsBetter
            ? 'higher is better →'
            : `← lower is better${input.rate ? ` · at ${input.rate.toLocaleString('en-US')} ev/s` : ''}`,
          { size: 11, fill: '#555', anchor: 'middle' },
        ),
      );
      const x1 = x(1);
      const bottom = rowsTop + rowsHeight;
      // Tinted halves: green where our module does better, red where it does worse.
      const good = higherIsBetter ? [x1, plotRight] : [plotLeft, x1];
      const bad = higherIsBetter ? [plotLeft, x1] : [x1, plotRight];
      out.push(
        `<rect x="${r(good[0])}" y="${rowsTop}" width="${r(good[1] - good[0])}" height="${rowsHeight}" fill="#2ca02c" fill-opacity="0.09"/>`,
        `<rect x="${r(bad[0])}" y="${rowsTop}" width="${r(bad[1] - bad[0])}" height="${rowsHeight}" fill="#d62728" fill-opacity="0.06"/>`,
      );
      for (const tick of ticks(lo, hi, Math.floor((plotRight - plotLeft) / 34) + 1)) {
        const tx = x(tick);
        out.push(
          line(tx, rowsTop, tx, bottom, { stroke: '#ccc', width: 0.8 }),
          text(tx, rowsTop - 6, tickLabel(tick), { size: 10, fill: '#444', anchor: 'middle' }),
          text(tx, bottom + 13, tickLabel(tick), { size: 10, fill: '#444', anchor: 'middle' }),
        );
      }
      for (const [i, key] of keys.entries()) {
        const row = panel.rows.get(key);
        for (const [b, system] of bars.entries()) {
          if (system === baseline) continue;
          // Bars of the systems this panel divides by are absent: center the others.
          const drawn = bars.filter((s) => s !== baseline);
          const barY =
            rowTops[i] +
            ROW_PAD / 2 +
            ((bars.length - drawn.length) * (BAR_H + BAR_GAP)) / 2 +
            drawn.indexOf(system) * (BAR_H + BAR_GAP);
          const mid = barY + BAR_H / 2 + 3.5;
          const value = ratioOf(row, system, baseline);
          if (value === null) {
            const failed = row?.failures[system] || row?.failures[baseline];
            out.push(
              text(x1 + 4, mid, failed ? 'failed' : 'no data', {
                size: 9,
                fill: '#888',
                style: 'italic',
              }),
            );
            continue;
          }
          const end = x(value);
          const integrity = row?.integrity[system];
          const bad = !!integrity && integrity.lost + integrity.duplicates > 0;
          flagged ||= bad;
          const clipped = value < lo || value > hi;
          out.push(
            `<rect x="${r(Math.min(x1, end))}" y="${r(barY)}" width="${r(Math.max(1, Math.abs(end - x1)))}" height="${BAR_H}" fill="${color(b)}"><title>${escape(`${system}/${baseline} ${row?.broker} ${row?.instances} inst ${bytesLabel(row?.payload ?? 0)}: ${ratioLabel(value)}`)}</title></rect>`,
          );
          const right = value >= 1;
          out.push(
            text(
              right ? end + 3 : end - 3,
              mid,
              `${clipped ? (right ? '▸ ' : '◂ ') : ''}${ratioLabel(value)}${bad ? ' !' : ''}`,
              {
                size: 10,
                fill: bad ? '#c00' : '#222',
                anchor: right ? 'start' : 'end',
                weight: bad ? 'bold' : undefined,
              },
            ),
          );
        }
      }
      // The line at 1x, over everything else.
      out.push(line(x1, rowsTop - 2, x1, bottom + 2, { stroke: '#000', width: 1.6 }));
    }
    y += blockHeight;
  }
  if (flagged) {
    out.push(
      text(
        MARGIN,
        y + 4,
        '! red: that system lost or duplicated events in this row (see the tables)',
        {
          size: 11,
          fill: '#c00',
        },
      ),
    );
    y += 16;
  }
  const height = Math.ceil(y + MARGIN);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${escape(FONT)}">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    ...out,
    '</svg>',
    '',
  ].join('\n');
}

/** Log-2 domain covering the values and 1x, snapped to powers of 2, at least 0.5x–2x. */
function domain(values: Array<number | null>): [number, number] {
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v) && v > 0);
  const lo = Math.min(0.5, ...present.map((v) => v / 1.05));
  const hi = Math.max(2, ...present.map((v) => v * 1.05));
  return [
    clamp(2 ** Math.floor(Math.log2(lo)), MIN_RATIO, 1),
    clamp(2 ** Math.ceil(Math.log2(hi)), 1, MAX_RATIO),
  ];
}

/** Powers of 2 in the domain; every other one when there would be more than `max`. */
function ticks(lo: number, hi: number, max: number): number[] {
  const from = Math.round(Math.log2(lo));
  const to = Math.round(Math.log2(hi));
  const step = to - from + 1 > max ? 2 : 1;
  const out: number[] = [];
  // Keep 1x on the grid whatever the step.
  for (let e = 0; e >= from; e -= step) out.unshift(2 ** e);
  for (let e = step; e <= to; e += step) out.push(2 ** e);
  return out;
}

/** A ratio as the tables print it (two decimals), with one significant digit below 0.1x. */
export function ratioLabel(value: number): string {
  if (value >= 10) return `${value.toFixed(1)}x`;
  if (value >= 0.095) return `${value.toFixed(2)}x`;
  return `${Number(value.toPrecision(1))}x`;
}

/** A power of 2 on the axis: 4x, 0.5x, 0.25x, 1/8x. */
function tickLabel(value: number): string {
  return value >= 0.25 ? `${value}x` : `1/${Math.round(1 / value)}x`;
}

/** Splits a line at spaces (or anywhere, for a longer word) into lines of at most `max` characters. */
function wrap(line: string, max: number): string[] {
  const limit = Math.max(20, Math.floor(max));
  const out: string[] = [];
  let current = '';
  for (const word of line.split(' ')) {
    const candidate = current ? `${current} ${word}` : word;
    if (candidate.length <= limit) {
      current = candidate;
      continue;
    }
    if (current) out.push(current);
    current = word;
    while (current.length > limit) {
      out.push(current.slice(0, limit));
      current = current.slice(limit);
    }
  }
  if (current) out.push(current);
  return out;
}

function color(index: number): string {
  return COLORS[index % COLORS.length];
}

function clamp(value: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, value));
}

function clip(value: string, max: number): string {
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}

function r(value: number): number {
  return Math.round(value * 10) / 10;
}

function escape(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

function text(
  x: number,
  y: number,
  content: string,
  style: {
    size: number;
    weight?: string;
    fill?: string;
    anchor?: 'start' | 'middle' | 'end';
    style?: string;
  },
): string {
  const attributes = [
    `x="${r(x)}"`,
    `y="${r(y)}"`,
    `font-size="${style.size}"`,
    style.weight ? `font-weight="${style.weight}"` : '',
    style.fill ? `fill="${style.fill}"` : '',
    style.anchor && style.anchor !== 'start' ? `text-anchor="${style.anchor}"` : '',
    style.style ? `font-style="${style.style}"` : '',
  ].filter(Boolean);
  return `<text ${attributes.join(' ')}>${escape(content)}</text>`;
}

function line(
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  style: { stroke: string; width: number },
): string {
  return `<line x1="${r(x1)}" y1="${r(y1)}" x2="${r(x2)}" y2="${r(y2)}" stroke="${style.stroke}" stroke-width="${style.width}"/>`;
}
