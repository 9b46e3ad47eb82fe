import { BadRequest } from '@feathersjs/errors';
import type { HookContext } from '@feathersjs/feathers';
import { DEFAULT_PAGE, MAX_PAGE, MAX_TEXT_LENGTH, type MessageQuery } from './message';

/**
 * `find` takes `$limit` and `id[$gt]` (what a page needs to catch up after a reconnect). Query
 * values arrive as strings over REST and as numbers over socket.io; both end up numbers here.
 */
export function normalizeFindQuery(context: HookContext): void {
  const raw: Record<string, unknown> = { ...(context.params.query as object | undefined) };
  for (const key of Object.keys(raw)) {
    if (key !== '$limit' && key !== 'id') {
      throw new BadRequest(`Unknown query parameter "${key}"; use $limit and id[$gt].`);
    }
  }
  const query: MessageQuery = {
    $limit: Math.min(wholeNumber(raw.$limit ?? DEFAULT_PAGE, '$limit', 1), MAX_PAGE),
  };
  if (raw.id !== undefined) {
    const id = raw.id as Record<string, unknown> | null;
    if (id === null || typeof id !== 'object' || Object.keys(id).some((k) => k !== '$gt')) {
      throw new BadRequest('The id query takes one operator: id[$gt]=<number>.');
    }
    query.id = { $gt: wholeNumber(id.$gt, 'id[$gt]', 0) };
  }
  context.params.query = query;
}

/** A message is one trimmed, non-empty text of at most MAX_TEXT_LENGTH characters; nothing else. */
export function validateMessage(context: HookContext): void {
  const data = context.data as unknown;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new BadRequest('Send one message as { "text": "…" }.');
  }
  const text = (data as { text?: unknown }).text;
  const trimmed = typeof text === 'string' ? text.trim() : '';
  if (trimmed === '') {
    throw new BadRequest('A message needs some text.', { errors: { text: 'required' } });
  }
  if (trimmed.length > MAX_TEXT_LENGTH) {
    throw new BadRequest(`A message has at most ${MAX_TEXT_LENGTH} characters.`, {
      errors: { text: 'too long' },
    });
  }
  context.data = { text: trimmed };
}

function wholeNumber(value: unknown, name: string, min: number): number {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < min) {
    throw new BadRequest(`${name} must be a whole number ≥ ${min}.`);
  }
  return number;
}

export const messageHooks = {
  before: {
    find: [normalizeFindQuery],
    create: [validateMessage],
  },
};
