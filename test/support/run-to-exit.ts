import { spawn, type SpawnOptions } from 'node:child_process';

/**
 * Runs `node <args>` and waits for it to exit by itself: its exit code (null when it had to be
 * killed after `timeoutMs`: something kept it alive) and everything it printed.
 */
export async function runToExit(
  args: string[],
  options: SpawnOptions = {},
  timeoutMs = 20_000,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, timeoutMs);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  return { code, output };
}
