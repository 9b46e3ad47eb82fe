/**
 * Summarizes a V8 .cpuprofile (written by `--cpu-prof` runs of the bench): self time by function
 * and by package, and inclusive time of our module's functions.
 * Usage: node dist/bench/profile.js <file.cpuprofile>...
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  where: string;
  category: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  top: ProfileEntry[];
  inclusiveOurs: ProfileEntry[];
  categories: Array<{ category: string; ms: number; percent: number }>;
  text: string;
}

const CATEGORIES: Array<[RegExp, string]> = [
  [/\/dist\/cjs\//, 'our module'],
  [/\/dist\/bench\//, 'bench harness'],
  [/node_modules\/ioredis\//, 'ioredis'],
  [/node_modules\/(@redis|redis)\//, 'node-redis'],
  [/node_modules\/feathers-sync\/node_modules\/amqplib\//, 'amqplib (feathers-sync)'],
  [/node_modules\/amqplib\//, 'amqplib'],
  [/node_modules\/amqp-connection-manager\//, 'amqp-connection-manager'],
  [/node_modules\/nats\//, 'nats'],
  [/node_modules\/feathers-sync\//, 'feathers-sync'],
  [/node_modules\/@feathersjs\//, 'feathers'],
  [/node_modules\/@nestjs\//, 'nest'],
  [/node_modules\/(debug|ms)\//, 'debug'],
  [/node_modules\/redis-parser\/|node_modules\/@ioredis\//, 'ioredis'],
  [/^node:/, 'node core'],
];

function categorize(frame: ProfileNode['callFrame']): string {
  if (frame.functionName === '(garbage collector)') return 'GC';
  if (frame.functionName === '(idle)') return 'idle';
  if (frame.functionName === '(program)') return 'program (native)';
  if (frame.functionName === '(root)') return 'root';
  for (const [pattern, name] of CATEGORIES) if (pattern.test(frame.url)) return name;
  if (frame.url === '') return 'V8 builtins (JSON, Buffer…)';
  if (frame.url.includes('node_modules')) return 'other packages';
  return 'other';
}

function where(frame: ProfileNode['callFrame']): string {
  if (!frame.url) return '';
  const url = frame.url.replace(/^file:\/\//, '');
  const cut = url.lastIndexOf('node_modules/');
  const short =
    cut >= 0 ? url.slice(cut + 'node_modules/'.length) : url.split('/').slice(-3).join('/');
  return `${short}:${frame.lineNumber + 1}`;
}

export function summarizeProfile(file: string, limit = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<number, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the next delta to this sample.
    const delta = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0) / 1000;
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + delta);
    total += delta;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (!node || categorize(node.callFrame) !== 'our module') continue;
      const key = `${node.callFrame.functionName || '(anonymous)'}|${where(node.callFrame)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + delta);
    }
  }
  const functions = new Map<string, ProfileEntry>();
  const categories = new Map<string, number>();
  for (const [id, ms] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const frame = node.callFrame;
    const category = categorize(frame);
    categories.set(category, (categories.get(category) ?? 0) + ms);
    const name = frame.functionName || '(anonymous)';
    const key = `${name}|${where(frame)}`;
    const entry = functions.get(key) ?? { name, where: where(frame), category, ms: 0, percent: 0 };
    entry.ms += ms;
    functions.set(key, entry);
  }
  const busy = total - (categories.get('idle') ?? 0);
  const pct = (ms: number) => Math.round((ms / Math.max(busy, 1e-9)) * 1000) / 10;
  const top = [...functions.values()]
    .filter((e) => e.category !== 'idle')
    .sort((a, b) => b.ms - a.ms)
    .slice(0, limit)
    .map((e) => ({ ...e, ms: Math.round(e.ms), percent: pct(e.ms) }));
  const inclusiveOurs = [...inclusive.entries()]
    .map(([key, ms]) => {
      const [name, at] = key.split('|');
      return { name, where: at, category: 'our module', ms: Math.round(ms), percent: pct(ms) };
    })
    .sort((a, b) => b.ms - a.ms)
    .slice(0, limit);
  const categoryList = [...categories.entries()]
    .filter(([c]) => c !== 'idle')
    .map(([category, ms]) => ({ category, ms: Math.round(ms), percent: pct(ms) }))
    .sort((a, b) => b.ms - a.ms);
  const lines = [
    `profile ${basename(file)}: ${Math.round(busy)} ms busy of ${Math.round(total)} ms`,
    '  by package (self time, % of busy):',
    ...categoryList.map((c) => `    ${c.percent.toFixed(1).padStart(5)}%  ${c.category}`),
    '  top functions (self time):',
    ...top.map((e) => `    ${e.percent.toFixed(1).padStart(5)}%  ${e.name}  ${e.where}`),
  ];
  if (inclusiveOurs.length) {
    lines.push(
      '  our module, inclusive time:',
      ...inclusiveOurs.map(
        (e) => `    ${e.percent.toFixed(1).padStart(5)}%  ${e.name}  ${e.where}`,
      ),
    );
  }
  return {
    file,
    totalMs: Math.round(total),
    top,
    inclusiveOurs,
    categories: categoryList,
    text: lines.join('\n'),
  };
}

if (require.main === module) {
  for (const file of process.argv.slice(2)) console.log(`${summarizeProfile(file).text}\n`);
}
