import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { FEATHERS_APP } from '../nestjs-feathers-sync';
import type { SampleFeathersApp } from './feathers-app';

/**
 * Puts Feathers on the HTTP server Nest creates and listens on, without mixing the two Express
 * versions (Feathers 5 is built on Express 4, Nest 11 on Express 5):
 *
 * - each request goes to exactly one of the two apps, chosen by path: Feathers takes the paths
 *   its services answer (`app.lookup`), Nest everything else. Each app keeps its own body and
 *   query parsers, 404 and error handling, so neither framework's catch-all swallows the other's
 *   routes, and services registered later are found too;
 * - `setup(server)` is called with Nest's server, because Nest's `listen()` never calls Feathers'
 *   `listen()`; that is when socket.io attaches (it intercepts /socket.io/ itself);
 * - on shutdown, socket.io is closed before Nest closes the server: an open WebSocket would
 *   otherwise keep `server.close()`, and with it `app.close()`, waiting forever.
 */
@Injectable()
export class FeathersHttpBridge implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    @Inject(FEATHERS_APP) private readonly feathersApp: SampleFeathersApp,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  /** Runs in Nest's `init()`, after Nest registered its routes and before it listens. */
  async onApplicationBootstrap(): Promise<void> {
    const adapter = this.adapterHost.httpAdapter;
    const server = adapter.getHttpServer() as Server;
    const nest = adapter.getInstance<RequestListener>();
    routeByPath(server, nest, this.feathersApp);
    await this.feathersApp.setup(server);
  }

  async beforeApplicationShutdown(): Promise<void> {
    const io = this.feathersApp.io as { close(done: () => void): void } | undefined;
    // Also closes the HTTP server, which Nest then finds closed: its close() copes with that.
    if (io) await new Promise<void>((resolve) => io.close(() => resolve()));
    // Not `app.server`: it stays unset so teardown() does not close Nest's server a second time.
    await this.feathersApp.teardown();
  }
}

/** Replaces Nest's request listener on `server` by one that hands each request to one app. */
export function routeByPath(
  server: Server,
  nest: RequestListener,
  feathersApp: SampleFeathersApp,
): void {
  if (!server.listeners('request').includes(nest)) {
    throw new Error(
      'FeathersHttpBridge expects the HTTP server Nest created for its Express adapter; ' +
        'start Nest with NestFactory.create(AppModule) and let it create the server.',
    );
  }
  // The Feathers Express app is a request listener too; its typings drop the call signature.
  const feathers = feathersApp as unknown as RequestListener;
  server.removeListener('request', nest);
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (feathersApp.lookup(path)) feathers(req, res);
    else nest(req, res);
  });
}
