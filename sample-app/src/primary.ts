import cluster, { type Worker } from 'node:cluster';
import { setupClusterSyncPrimary } from './nestjs-feathers-sync';
import { isListeningNotice, type ShutdownRequest } from './protocol';

/** How long the instances get to close before the primary stops waiting for them. */
const SHUTDOWN_GRACE_MS = 10_000;

/**
 * The primary process: one worker per port, and the relay of the `cluster://` transport. It
 * serves nothing itself. With a broker uri the relay simply stays idle.
 */
export function runPrimary(): void {
  const ports = parsePorts(process.env.PORTS ?? '3030,3031');
  const relay = setupClusterSyncPrimary();
  const instances = new Map<Worker, { port: number; url?: string }>();
  let stopping = false;
  let forceTimer: NodeJS.Timeout | undefined;

  const stop = (exitCode: number) => {
    if (exitCode !== 0) process.exitCode = exitCode;
    if (stopping) return;
    stopping = true;
    console.log('Stopping the instances…');
    const request: ShutdownRequest = { sample: 'shutdown' };
    for (const worker of instances.keys()) {
      if (worker.isConnected()) worker.send(request, undefined, () => undefined);
    }
    forceTimer = setTimeout(() => {
      for (const [worker, { port }] of instances) {
        console.error(`Instance on port ${port} did not exit within ${SHUTDOWN_GRACE_MS} ms.`);
        worker.process.kill('SIGKILL');
      }
      process.exitCode = 1;
    }, SHUTDOWN_GRACE_MS);
  };
  const onSignal = () => stop(0);

  cluster.on('message', (worker, message) => {
    const instance = instances.get(worker);
    if (!instance || stopping || !isListeningNotice(message)) return;
    instance.url = message.url;
    console.log(`  ${message.url}  (sync: ${message.sync}; ${message.store} store)`);
    if ([...instances.values()].every((i) => i.url)) {
      console.log(
        `${instances.size} instance(s) running. Open the addresses above side by side and post ` +
          'a message on one: it shows up on the other. Ctrl+C stops.',
      );
    }
  });

  cluster.on('exit', (worker, code, signal) => {
    const instance = instances.get(worker);
    instances.delete(worker);
    if (!stopping) {
      console.error(
        `Instance on port ${instance?.port ?? '?'} exited (${signal ?? `code ${code}`}); stopping.`,
      );
      stop(1);
    } else if (code !== 0 && signal !== 'SIGKILL') {
      process.exitCode = 1;
    }
    if (instances.size === 0) {
      console.log('Stopped.');
      clearTimeout(forceTimer);
      relay.close();
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
  });

  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  console.log(`Starting ${ports.length} instance(s) of the Feathers-on-Nest sample…`);
  for (const port of ports) {
    instances.set(cluster.fork({ PORT: String(port) }), { port });
  }
}

function parsePorts(text: string): number[] {
  const ports = text.split(',').map((part) => Number(part.trim()));
  if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
    throw new Error(`PORTS must be a comma-separated list of port numbers, got "${text}".`);
  }
  if (new Set(ports).size !== ports.length) throw new Error(`PORTS lists a port twice: "${text}".`);
  return ports;
}
