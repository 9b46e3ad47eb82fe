import express, {
  type Application,
  errorHandler,
  json,
  notFound,
  rest,
  urlencoded,
} from '@feathersjs/express';
import { feathers } from '@feathersjs/feathers';
import socketio from '@feathersjs/socketio';
import type { Channel } from '@feathersjs/transport-commons';
import type { LoggerService } from '@nestjs/common';
import { messageHooks } from '../messages/messages.hooks';
import { MessageService } from '../messages/messages.service';
import type { MessageStore } from '../store/message-store';

export interface ServiceTypes {
  messages: MessageService;
}

/** The Feathers application: an Express 4 app of its own, served on Nest's HTTP server. */
export type SampleFeathersApp = Application<ServiceTypes>;

/**
 * Builds the Feathers side completely before Nest starts serving: services, hooks, channels,
 * and Feathers' own 404 and error handler, which only ever see requests for Feathers services
 * (see FeathersHttpBridge).
 */
export function createFeathersApp(
  store: MessageStore,
  instance: string,
  logger: LoggerService,
): SampleFeathersApp {
  const app: SampleFeathersApp = express(feathers<ServiceTypes>());

  app.use(json({ limit: '16kb' }));
  app.use(urlencoded({ extended: true, limit: '16kb' }));
  app.configure(rest());
  app.configure(socketio());

  app.use('messages', new MessageService(store, instance), {
    methods: ['find', 'get', 'create'],
  });
  app.service('messages').hooks(messageHooks);

  // Real time: every socket.io connection joins one channel, and `created` goes to it. Events
  // that the sync module re-emits from other instances take the same path.
  app.on('connection', (connection) => app.channel('everybody').join(connection));
  app.service('messages').publish('created', (): Channel => app.channel('everybody'));

  app.use(notFound());
  app.use(
    errorHandler({
      html: false,
      logger: { error: (error: unknown) => logger.error(error) },
    }),
  );
  return app;
}
