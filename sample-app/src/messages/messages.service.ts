import { NotFound } from '@feathersjs/errors';
import type { Id, Params, ServiceInterface } from '@feathersjs/feathers';
import type { MessageStore } from '../store/message-store';
import { DEFAULT_PAGE, type Message, type MessageData, type MessageQuery } from './message';

/**
 * The Feathers `messages` service. It emits `created` after a create succeeds; the sync module
 * carries that event to every other instance, and each instance's channels push it to its own
 * socket.io clients.
 */
export class MessageService implements ServiceInterface<
  Message,
  MessageData,
  Params<MessageQuery>
> {
  constructor(
    private readonly store: MessageStore,
    private readonly instance: string,
  ) {}

  async find(params?: Params<MessageQuery>): Promise<Message[]> {
    const query = params?.query;
    return this.store.list({
      afterId: query?.id?.$gt ?? 0,
      limit: query?.$limit ?? DEFAULT_PAGE,
    });
  }

  async get(id: Id): Promise<Message> {
    const message = Number.isSafeInteger(Number(id)) ? await this.store.get(Number(id)) : undefined;
    if (!message) throw new NotFound(`No message with id ${String(id)}`);
    return message;
  }

  async create(data: MessageData): Promise<Message> {
    return this.store.create({ text: data.text, instance: this.instance });
  }
}
