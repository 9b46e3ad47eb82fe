import cluster from 'node:cluster';
import { ConsoleLogger, type LogLevel } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AppModule } from './app.module';
import { type SampleConfig, validateConfig } from './config';
import { SyncService } from './nestjs-feathers-sync';
import { PUBLIC_DIR } from './paths';
import { isShutdownRequest, type ListeningNotice } from './protocol';

const LEVELS: LogLevel[] = ['verbose', 'debug', 'log', 'warn', 'error'];
const READY_WAIT_MS = 3000;
/** How long open HTTP connections may take to end once the instance closes. */
const CLOSE_GRACE_MS = 2000;

/** One instance: a Nest application serving the page, /health, Feathers REST and socket.io. */
export async function runInstance(): Promise<void> {
  // Read once more here only to name the logger; ConfigModule validates the same values.
  const early = validateConfig(process.env);
  const logger = new ConsoleLogger({
    prefix: early.INSTANCE_NAME,
    logLevels: LEVELS.slice(LEVELS.indexOf(early.LOG_LEVEL)),
  });
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { logger });
  app.useStaticAssets(PUBLIC_DIR);

  // Shutdown is ours rather than enableShutdownHooks(): Ctrl+C reaches the primary and every
  // worker at once, and the primary asks again over IPC; one close must absorb all of that.
  let closing: Promise<void> | undefined;
  const shutdown = () => {
    closing ??= close();
    return closing;
  };
  const onMessage = (message: unknown) => {
    if (isShutdownRequest(message)) void shutdown();
  };
  const close = async () => {
    process.removeListener('message', onMessage);
    // app.close() waits for every open HTTP connection to end. A page that reconnects while the
    // instance closes can open one (a socket.io polling request is held for up to 25 s): after a
    // grace period, whatever is still open is cut, so shutdown stays bounded.
    const server = app.getHttpServer() as { closeAllConnections?: () => void };
    const cut = setTimeout(() => server.closeAllConnections?.(), CLOSE_GRACE_MS);
    cut.unref();
    try {
      await app.close();
    } catch (error) {
      logger.error(`Closing failed: ${(error as Error).message}`);
      process.exitCode = 1;
    } finally {
      clearTimeout(cut);
    }
    // A worker leaves the cluster cleanly; it then exits by itself once nothing is left open.
    cluster.worker?.disconnect();
    // If it does not, say what keeps it (the primary stops waiting after 10 s).
    setTimeout(() => {
      logger.warn(
        `Still running after close; open: ${process.getActiveResourcesInfo().join(', ')}`,
      );
    }, 5000).unref();
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
  process.on('message', onMessage);

  const config = app.get<ConfigService<SampleConfig, true>>(ConfigService);
  const port = config.get('PORT', { infer: true });
  const host = config.get('HOST', { infer: true });
  try {
    if (host === undefined) await app.listen(port);
    else await app.listen(port, host);
  } catch (error) {
    if ((error as { code?: string }).code !== 'EADDRINUSE') throw error;
    logger.error(`Port ${port} is in use. Free it, or pick other ports: PORTS=4030,4031 npm start`);
    process.exitCode = 1;
    await shutdown();
    return;
  }

  // Boot never waits for the broker; the address is printed once sync is up, or after a moment.
  const sync = app.get(SyncService);
  await within(sync.ready, READY_WAIT_MS);
  if (closing) return;
  const notice: ListeningNotice = {
    sample: 'listening',
    port,
    url: `http://localhost:${port}`,
    sync: `${sync.type}, ${sync.status}`,
    store: config.get('DATABASE', { infer: true }).kind,
  };
  if (process.send) process.send(notice);
  else console.log(`${notice.url} (sync: ${notice.sync}; ${notice.store} store)`);
}

/** Settles when `promise` does or after `ms`, whichever comes first; never rejects. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}
