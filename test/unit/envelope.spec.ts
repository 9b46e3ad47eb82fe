import { feathers } from '@feathersjs/feathers';
import { validateEnvelope } from '../../src/core/envelope-shape';
import { contextForWire } from '../../src/core/wire-context';
import { findForbiddenKey, hasForbiddenKey } from '../../src/core/forbidden-keys';
import { redactUri } from '../../src/shared/redact';

describe('contextForWire', () => {
  it('keeps what receivers use and drops the app, the service and the copies of the input', async () => {
    const app = feathers();
    app.use('todos', {
      async create(data: Record<string, unknown>) {
        return { id: 1, ...data };
      },
    });
    let captured: unknown;
    app.service('todos').on('created', (_data: unknown, context: unknown) => (captured = context));
    await app.service('todos').create({ text: 'a' }, {
      provider: 'rest',
      user: { id: 7 },
      authentication: { strategy: 'jwt', accessToken: 'SECRET' },
      headers: { authorization: 'Bearer SECRET' },
    } as never);
    const wire = contextForWire(captured, new Set(['authentication', 'headers', 'connection']));
    expect(wire).toEqual({
      event: 'created',
      result: { id: 1, text: 'a' },
      params: { provider: 'rest', user: { id: 7 } },
      path: 'todos',
      method: 'create',
      type: 'around',
    });
    expect(JSON.stringify(wire)).not.toContain('SECRET');
  });

  it('passes a plain custom context through, minus app/service/self', () => {
    const wire = contextForWire({ data: 1, app: {}, service: {}, self: {}, extra: 'x' }, new Set());
    expect(wire).toEqual({ data: 1, extra: 'x' });
    expect(contextForWire(undefined, new Set())).toBeUndefined();
    expect(contextForWire('str', new Set())).toBeUndefined();
  });
});

describe('validateEnvelope', () => {
  it.each([
    [null, 'not an object'],
    [[1], 'not an object'],
    [{ path: 'x' }, '`event`'],
    [{ event: 'created', path: 1 }, '`path`'],
    [{ event: 'created', path: 'x', context: [] }, '`context`'],
    [{ event: 'created', path: 'x', sync: { origin: 1, seq: 1 } }, '`sync`'],
    [{ event: 'created', path: 'x', sync: { origin: 'a', seq: 1.5 } }, '`sync`'],
  ])('refuses %j', (value, detail) => {
    const result = validateEnvelope(value);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toBe('shape');
      expect(result.detail).toContain(detail);
    }
  });

  it('accepts feathers-sync envelopes and unknown extra fields', () => {
    expect(validateEnvelope({ event: 'custom', path: 'todos', data: 1 }).ok).toBe(true);
    expect(
      validateEnvelope({ event: 'created', path: 'todos', data: {}, context: {}, future: 1 }).ok,
    ).toBe(true);
  });
});

describe('forbidden keys', () => {
  it('finds __proto__, constructor and prototype at any depth', () => {
    expect(findForbiddenKey(JSON.parse('{"a":[{"b":{"__proto__":{"x":1}}}]}'))).toBe(
      '.a[0].b.__proto__',
    );
    expect(findForbiddenKey({ a: { constructor: { prototype: {} } } })).toBe('.a.constructor');
    expect(findForbiddenKey(new Map([['prototype', 1]]))).toBe('.prototype');
    expect(
      findForbiddenKey({ text: '__proto__ constructor prototype as values are fine' }),
    ).toBeUndefined();
  });

  it('checks parsed JSON fast, escapes included', () => {
    expect(hasForbiddenKey(JSON.parse('{"a":[1,{"b":2}]}'))).toBe(false);
    expect(hasForbiddenKey(JSON.parse('{"a":[1,{"__proto__":2}]}'))).toBe(true);
    // An escaped key is still the key once parsed: a text search would miss it.
    expect(hasForbiddenKey(JSON.parse('{"d":{"\\u005f_proto__":{"isAdmin":true}}}'))).toBe(true);
    expect(hasForbiddenKey(JSON.parse('{"c":{"construct\\u006fr":1}}'))).toBe(true);
  });

  it('survives cycles and refuses absurd nesting', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(findForbiddenKey(cyclic)).toBeUndefined();
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 300; i++) deep = deep.next = {} as Record<string, unknown>;
    expect(findForbiddenKey(root)).toMatch(/nested deeper than/);
  });
});

describe('redactUri', () => {
  it('hides passwords, user tokens and secret query parameters', () => {
    expect(redactUri('redis://user:pw@host:6379/0')).toBe('redis://user:***@host:6379/0');
    expect(redactUri('nats://token@host:4222')).toBe('nats://***@host:4222');
    expect(redactUri('amqps://h/vhost?password=x&heartbeat=5')).toBe(
      'amqps://h/vhost?password=***&heartbeat=5',
    );
    expect(redactUri('garbage :// with secret')).toBe('…');
    expect(redactUri(undefined)).toBe('(no uri)');
  });
});
