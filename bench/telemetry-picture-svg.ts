/**
 * The picture of telemetry-picture.ts: three dashboard panels over time, in plain SVG text (it
 * renders in a browser and on GitHub as an image).
 */

/** One collection interval. Counts are for the interval (deltas of the cumulative metrics). */
export interface PictureSample {
  /** Seconds since the start. */
  t: number;
  published: number;
  emitted: number;
  pending: number;
  /** The latency histogram's bucket bounds (s) and the interval's count per bucket. */
  boundaries: number[];
  buckets: number[];
}

const FONT = `system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif`;
const W = 960;
const LEFT = 70;
const RIGHT = 24;
const PANEL_H = 150;
const HEAD = 28;
const GAP = 34;
const TOP = 62;
const BG = '#111217';
const PANEL = '#181b1f';
const GRID = '#2c3235';
const TEXT = '#ccccdc';
const MUTED = '#8e8e9c';
const GREEN = '#73bf69';
const YELLOW = '#fade2a';
const BLUE = '#5794f2';
const RED = '#f2495c';

export function renderTelemetryPicture(
  samples: PictureSample[],
  labels: { title: string; subtitle: string },
): string {
  const tMax = Math.max(1, ...samples.map((s) => s.t));
  const x = (t: number) => LEFT + (t / tMax) * (W - LEFT - RIGHT);
  const parts: string[] = [];
  const panelTop = (i: number) => TOP + i * (PANEL_H + HEAD + GAP);
  const h = panelTop(3) + 10;
  parts.push(`<rect width="${W}" height="${h}" fill="${BG}"/>`);
  parts.push(text(16, 24, labels.title, 15, TEXT, 'bold'));
  parts.push(text(16, 44, labels.subtitle, 11, MUTED));

  // 1. events/s
  const rates = samples.flatMap((s) => [s.published, s.emitted]);
  const rateMax = niceMax(Math.max(1, ...rates));
  const y1 = panel(
    parts,
    panelTop(0),
    'feathers_sync.published and feathers_sync.emitted: events/s',
    [
      [GREEN, 'published (instance 0)'],
      [YELLOW, 'emitted (instance 1)'],
    ],
  );
  axis(parts, y1, rateMax, (v) => `${Math.round(v)}`);
  parts.push(
    polyline(
      samples.map((s) => [x(s.t), y1 + PANEL_H - (s.published / rateMax) * PANEL_H]),
      GREEN,
    ),
  );
  parts.push(
    polyline(
      samples.map((s) => [x(s.t), y1 + PANEL_H - (s.emitted / rateMax) * PANEL_H]),
      YELLOW,
      '4 3',
    ),
  );

  // 2. latency heatmap (bucket index on the y axis) with p50 and p99
  const y2 = panel(
    parts,
    panelTop(1),
    'feathers_sync.delivery.latency: histogram buckets per second, p50 and p99',
    [
      [BLUE, 'events per bucket'],
      [GREEN, 'p50'],
      [RED, 'p99'],
    ],
  );
  const boundaries = samples.find((s) => s.boundaries.length > 0)?.boundaries ?? [];
  const used = samples.reduce((hi, s) => Math.max(hi, lastNonZero(s.buckets)), 0);
  const rows = Math.max(4, Math.min(boundaries.length + 1, used + 2));
  const rowH = PANEL_H / rows;
  const colW = (W - LEFT - RIGHT) / Math.max(1, samples.length);
  const cellMax = Math.max(1, ...samples.flatMap((s) => s.buckets));
  for (let r = 0; r <= rows; r++) {
    const yy = y2 + PANEL_H - r * rowH;
    parts.push(
      `<line x1="${LEFT}" y1="${f(yy)}" x2="${W - RIGHT}" y2="${f(yy)}" stroke="${GRID}"/>`,
    );
    if (r < rows && r <= boundaries.length && r > 0) {
      parts.push(text(LEFT - 6, yy + 4, ms(boundaries[r - 1]), 10, MUTED, undefined, 'end'));
    }
  }
  parts.push(text(LEFT - 6, y2 + PANEL_H + 4, '0', 10, MUTED, undefined, 'end'));
  samples.forEach((s) => {
    s.buckets.slice(0, rows).forEach((count, r) => {
      if (count <= 0) return;
      const alpha = 0.15 + 0.85 * (Math.log1p(count) / Math.log1p(cellMax));
      parts.push(
        `<rect x="${f(x(s.t) - colW)}" y="${f(y2 + PANEL_H - (r + 1) * rowH)}" width="${f(colW - 1)}" height="${f(rowH - 1)}" fill="${BLUE}" fill-opacity="${alpha.toFixed(2)}"/>`,
      );
    });
  });
  for (const [q, color] of [
    [0.5, GREEN],
    [0.99, RED],
  ] as const) {
    const points = samples
      .map((s) => [x(s.t) - colW / 2, quantileRow(s.buckets, q)] as const)
      .filter((p): p is readonly [number, number] => p[1] !== undefined)
      .map(([px, row]) => [px, y2 + PANEL_H - Math.min(rows, row) * rowH] as [number, number]);
    parts.push(polyline(points, color));
  }
  parts.push(text(12, y2 + PANEL_H / 2, 'ms', 10, MUTED));

  // 3. pending
  const pendingMax = niceMax(Math.max(1, ...samples.map((s) => s.pending)));
  const y3 = panel(
    parts,
    panelTop(2),
    'feathers_sync.pending (gauge, instance 0): events not yet taken by the broker',
    [[GREEN, 'pending']],
  );
  axis(parts, y3, pendingMax, (v) => `${Math.round(v)}`);
  parts.push(
    polyline(
      samples.map((s) => [x(s.t), y3 + PANEL_H - (s.pending / pendingMax) * PANEL_H]),
      GREEN,
    ),
  );

  // time axis under each panel
  for (const yy of [y1, y2, y3]) {
    for (let t = 0; t <= tMax; t += 5) {
      parts.push(text(x(t), yy + PANEL_H + 14, `${t} s`, 10, MUTED, undefined, 'middle'));
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="${FONT}">\n${parts.join('\n')}\n</svg>\n`;
}

/** Draws a panel's frame, title and legend; returns the top of its plot area. */
function panel(
  parts: string[],
  top: number,
  title: string,
  legend: Array<[string, string]>,
): number {
  parts.push(
    `<rect x="8" y="${top}" width="${W - 16}" height="${PANEL_H + HEAD + 22}" rx="3" fill="${PANEL}" stroke="${GRID}"/>`,
  );
  parts.push(text(16, top + 18, title, 12, TEXT, 'bold'));
  let lx = W - RIGHT;
  for (const [color, label] of [...legend].reverse()) {
    const width = 18 + label.length * 6.2;
    lx -= width;
    parts.push(`<rect x="${f(lx)}" y="${top + 10}" width="10" height="10" fill="${color}"/>`);
    parts.push(text(lx + 14, top + 19, label, 11, MUTED));
  }
  return top + HEAD;
}

function axis(parts: string[], top: number, max: number, label: (v: number) => string): void {
  for (let i = 0; i <= 4; i++) {
    const yy = top + PANEL_H - (i / 4) * PANEL_H;
    parts.push(
      `<line x1="${LEFT}" y1="${f(yy)}" x2="${W - RIGHT}" y2="${f(yy)}" stroke="${GRID}"/>`,
    );
    parts.push(text(LEFT - 6, yy + 4, label((i / 4) * max), 10, MUTED, undefined, 'end'));
  }
}

/** Where the q-quantile falls, in bucket rows (row r spans bucket r), interpolated within it. */
function quantileRow(buckets: number[], q: number): number | undefined {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const target = q * total;
  let seen = 0;
  for (let r = 0; r < buckets.length; r++) {
    if (seen + buckets[r] >= target)
      return r + (buckets[r] === 0 ? 0 : (target - seen) / buckets[r]);
    seen += buckets[r];
  }
  return buckets.length;
}

/** The q-quantile in ms, interpolated within its bucket (the last bucket: its lower bound). */
export function quantileMs(sample: PictureSample, q: number): number | undefined {
  const row = quantileRow(sample.buckets, q);
  if (row === undefined) return undefined;
  const index = Math.floor(row);
  const lower = index === 0 ? 0 : sample.boundaries[index - 1];
  const upper = sample.boundaries[index] ?? lower;
  return (lower + (upper - lower) * (row - index)) * 1000;
}

function lastNonZero(values: number[]): number {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] > 0) return i;
  return 0;
}

function niceMax(value: number): number {
  const step = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / step) * step;
}

function ms(seconds: number): string {
  const value = seconds * 1000;
  return value >= 1000 ? `${value / 1000} s` : `${value}`;
}

function polyline(points: Array<[number, number]>, color: string, dash?: string): string {
  const d = points.map(([px, py]) => `${f(px)},${f(py)}`).join(' ');
  return `<polyline points="${d}" fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`;
}

function text(
  x: number,
  y: number,
  content: string,
  size: number,
  fill: string,
  weight?: string,
  anchor?: 'middle' | 'end',
): string {
  const escaped = content.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<text x="${f(x)}" y="${f(y)}" font-size="${size}" fill="${fill}"${weight ? ` font-weight="${weight}"` : ''}${anchor ? ` text-anchor="${anchor}"` : ''}>${escaped}</text>`;
}

function f(value: number): string {
  return (Math.round(value * 10) / 10).toString();
}
