import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * The sample-app folder, found by walking up from this file so that the same code works from the
 * TypeScript sources and from the compiled output (dist/sample/sample-app/src).
 */
function findSampleRoot(): string {
  let dir = __dirname;
  for (;;) {
    if (basename(dir) === 'sample-app' && existsSync(join(dir, 'public', 'index.html'))) return dir;
    const child = join(dir, 'sample-app');
    if (existsSync(join(child, 'public', 'index.html'))) return child;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`sample-app/public not found above ${__dirname}`);
    dir = parent;
  }
}

export const SAMPLE_ROOT = findSampleRoot();
export const PUBLIC_DIR = join(SAMPLE_ROOT, 'public');
