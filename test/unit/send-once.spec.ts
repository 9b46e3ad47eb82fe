import { createSecretKey } from 'node:crypto';
import { Codec, type CodecOptions } from '../../src/core/codec';
import type { SigningSettings } from '../../src/core/signer';
import { sentTwice, stringifyOnce, worthSplicing } from '../../src/core/send-once';
import type { SyncEnvelope } from '../../src';

/**
 * With the default JSON serializer the compatible envelope stringifies the event's data once when
 * it travels twice (`data` and `context.result`); the text must be byte for byte what
 * `JSON.stringify` of the envelope gives, which is what a custom serializer (or feathers-sync) sees.
 */
function codec(overrides: Partial<CodecOptions> = {}): Codec {
  return new Codec({
    instanceId: 'origin-a',
    serialize: JSON.stringify as (envelope: SyncEnvelope) => string,
    deserialize: JSON.parse as (payload: string | Uint8Array) => unknown,
    jsonSerializer: true,
    jsonDeserializer: true,
    envelope: 'compatible',
    redactParams: new Set(['authentication']),
    maxMessageSize: 1024 * 1024,
    ...overrides,
  });
}

/** A HookContext whose result is `result` (the same object the event emits). */
function hookWith(result: unknown, extra: Record<string, unknown> = {}) {
  return {
    toJSON: () => ({
      event: 'created',
      result,
      params: { user: { id: 7 }, authentication: { accessToken: 'secret' } },
      path: 'todos',
      method: 'create',
      data: { copy: true },
      ...extra,
    }),
  };
}

/** What the codec sends, and what the plain `serialize(envelope)` path sends for the same event. */
function both(data: unknown, context: unknown): [string, string] {
  const spliced = codec().encode(1, 'todos', 'created', data, context) as string;
  // Same codec, the serializer seen as custom: the envelope goes through JSON.stringify whole.
  const whole = codec({ jsonSerializer: false }).encode(1, 'todos', 'created', data, context);
  return [spliced, whole as string];
}

/** Enough text for the splice to be used (small data takes the one-stringify path anyway). */
const PAD = 'p'.repeat(600);

class Money {
  readonly note = PAD;
  constructor(readonly cents: number) {}
  toJSON() {
    return { amount: this.cents / 100, currency: 'EUR', note: this.note };
  }
}

describe('send once: the compatible envelope with data and context.result the same object', () => {
  const cases: Array<[string, unknown]> = [
    ['a plain object', { id: 1, text: PAD, tags: ['a', 'b'], nested: { n: null } }],
    ['an array', Array.from({ length: 10 }, (_, id) => ({ id }))],
    [
      'strings with unicode, escapes and lone surrogates',
      {
        text: 'héllo wörld ✓ 😀 \u2028 \n "quoted" \\ \u0000 \ud800 end'.repeat(20),
        ключ: 'значение',
      },
    ],
    ['a Date inside', { id: 1, at: new Date(Date.UTC(2024, 0, 2)), text: PAD }],
    ['a class with toJSON at the top', new Money(1234)],
    ['undefined and function values inside', { id: 1, gone: undefined, fn: () => 1, text: PAD }],
    ['small data (no splice)', { id: 1 }],
    ['an empty object', {}],
  ];

  it.each(cases)('%s: the same bytes as JSON.stringify of the envelope', (name, data) => {
    const small = name.startsWith('small') || name.startsWith('an empty');
    expect(worthSplicing(data as object)).toBe(!small);
    const [spliced, whole] = both(data, hookWith(data));
    expect(spliced).toBe(whole);
    const decoded = JSON.parse(spliced) as SyncEnvelope;
    expect(decoded.context?.result).toEqual(decoded.data);
  });

  it('stringifies the data once: a top-level toJSON runs once, with the key "data"', () => {
    const keys: string[] = [];
    const data = {
      id: 1,
      text: PAD,
      toJSON(key: string) {
        keys.push(key);
        return { id: 1 };
      },
    };
    const text = codec().encode(1, 'todos', 'created', data, hookWith(data)) as string;
    expect(keys).toEqual(['data']);
    expect(JSON.parse(text)).toMatchObject({ data: { id: 1 }, context: { result: { id: 1 } } });
  });

  it('a toJSON that returns undefined: both keys left out, as JSON.stringify does', () => {
    const data = { text: PAD, toJSON: () => undefined };
    const [spliced, whole] = both(data, hookWith(data));
    expect(spliced).toBe(whole);
    expect(JSON.parse(spliced)).not.toHaveProperty('data');
  });

  it('is used for data whose text is likely over about 512 characters', () => {
    expect(worthSplicing({ id: 1, text: 'short' })).toBe(false);
    expect(worthSplicing({ id: 1, text: PAD })).toBe(true);
    expect(worthSplicing(Array.from({ length: 10 }, () => ({})))).toBe(true);
    expect(worthSplicing([1, 2])).toBe(false);
    expect(worthSplicing({ a: {}, b: {}, c: {}, d: {}, e: {}, f: {}, g: {}, h: {} })).toBe(true);
  });

  it('applies only when the same object travels twice', () => {
    const data = { id: 1 };
    expect(sentTwice(data, { result: data })).toBe(true);
    expect(sentTwice(data, { result: { id: 1 } })).toBe(false);
    expect(sentTwice(data, { result: undefined })).toBe(false);
    expect(sentTwice(data, undefined)).toBe(false);
    expect(sentTwice('text', { result: 'text' })).toBe(false);
    expect(sentTwice(null, { result: null })).toBe(false);
  });

  it('undefined result, a different result, a plain context: unchanged envelopes', () => {
    const data = { id: 1 };
    for (const context of [
      hookWith(undefined),
      hookWith({ id: 1 }),
      { result: data, path: 'todos' },
      undefined,
    ]) {
      const [spliced, whole] = both(data, context);
      expect(spliced).toBe(whole);
    }
  });

  it('a custom serializer gets the envelope object, with data in both places', () => {
    const seen: SyncEnvelope[] = [];
    const custom = codec({
      jsonSerializer: false,
      serialize: (envelope) => {
        seen.push(envelope);
        return JSON.stringify(envelope);
      },
    });
    const data = { id: 1 };
    custom.encode(1, 'todos', 'created', data, hookWith(data));
    expect(seen).toHaveLength(1);
    expect(seen[0].data).toBe(data);
    expect(seen[0].context?.result).toBe(data);
  });

  it('the data holding the stand-in text it is spliced at still comes out right', () => {
    // Whatever the data holds, its text is written after the envelope was split.
    const data = { text: '"\\u0000send-once:', pad: PAD };
    const [spliced, whole] = both(data, hookWith(data));
    expect(spliced).toBe(whole);
  });

  it('falls back to one JSON.stringify when the stand-in shows up elsewhere', () => {
    // A builder that puts what it is given a third time: the splice must not be trusted.
    const text = stringifyOnce({ id: 1 }, { result: { id: 1 } }, (data, context) => ({
      data,
      context,
      again: data,
    }));
    expect(JSON.parse(text)).toEqual({
      data: { id: 1 },
      context: { result: { id: 1 } },
      again: { id: 1 },
    });
  });

  it('a signed message signs the spliced text, and decodes with data in both places', () => {
    const keys = new Map([
      ['k1', createSecretKey(Buffer.from('a-test-only-secret-0123456789abcdef'))],
    ]);
    const signing: SigningSettings = {
      keys,
      current: 'k1',
      acceptUnsigned: false,
      scope: 'feathers-sync',
    };
    const sender = codec({ signing });
    const receiver = new Codec({
      instanceId: 'origin-b',
      serialize: JSON.stringify as (envelope: SyncEnvelope) => string,
      deserialize: JSON.parse as (payload: string | Uint8Array) => unknown,
      jsonSerializer: true,
      jsonDeserializer: true,
      envelope: 'compatible',
      redactParams: new Set(),
      maxMessageSize: 1024 * 1024,
      signing,
    });
    const data = { id: 1, text: 'é', pad: PAD };
    const decoded = receiver.decode(sender.encode(1, 'todos', 'created', data, hookWith(data)));
    expect(decoded.ok).toBe(true);
    if (!decoded.ok) return;
    expect(decoded.items).toHaveLength(1);
    expect(JSON.stringify(decoded.items[0])).toContain('"text":"é"');
  });
});
