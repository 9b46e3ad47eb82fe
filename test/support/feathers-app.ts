import { feathers, type Application, type Params } from '@feathersjs/feathers';

export interface Todo {
  id: number;
  text: string;
  [key: string]: unknown;
}

/** A small in-memory service with the four standard methods and a declared custom event. */
export class TodoService {
  events = ['custom'];
  private store = new Map<number, Todo>();
  private nextId = 1;

  async find(): Promise<Todo[]> {
    return [...this.store.values()];
  }
  async get(id: number): Promise<Todo> {
    const todo = this.store.get(Number(id));
    if (!todo) throw new Error(`no todo ${id}`);
    return todo;
  }
  async create(data: Omit<Todo, 'id'>, _params?: Params): Promise<Todo> {
    const todo = { ...data, id: this.nextId++ } as Todo;
    this.store.set(todo.id, todo);
    return todo;
  }
  async update(id: number, data: Omit<Todo, 'id'>): Promise<Todo> {
    const todo = { ...data, id: Number(id) } as Todo;
    this.store.set(todo.id, todo);
    return todo;
  }
  async patch(id: number, data: Partial<Todo>): Promise<Todo> {
    const todo = {
      ...(this.store.get(Number(id)) ?? { id: Number(id), text: '' }),
      ...data,
      id: Number(id),
    };
    this.store.set(todo.id, todo);
    return todo;
  }
  async remove(id: number): Promise<Todo> {
    const todo = this.store.get(Number(id)) ?? { id: Number(id), text: '' };
    this.store.delete(Number(id));
    return todo;
  }
}

export type TestApp = Application<Record<string, any>>;

/** A Feathers app with a `todos` service; `beforeServices` runs first (feathers-sync needs that). */
export function createFeathersApp(beforeServices?: (app: TestApp) => void): TestApp {
  const app = feathers<Record<string, any>>();
  beforeServices?.(app);
  app.use('todos', new TodoService());
  return app;
}

export interface Received {
  event: string;
  data: any;
  context: any;
}

/** Records every event a service emits on one app. */
export function recordEvents(app: TestApp, path: string, events: string[]): Received[] {
  const received: Received[] = [];
  const service = app.service(path);
  for (const event of events) {
    service.on(event, (data: unknown, context: unknown) => received.push({ event, data, context }));
  }
  return received;
}

/** Waits until `check` holds, polling; fails with `what` after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
