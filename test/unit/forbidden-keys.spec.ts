import { Codec } from '../../src/core/codec';
import { hasForbiddenKeyInJson, mayHoldForbiddenKey } from '../../src/core/forbidden-keys';
import type { SyncEnvelope } from '../../src';

/**
 * The forbidden-key check of JSON messages: short texts are searched for the words (and for any
 * `\u` escape, which could spell them) before their parsed value is walked; whatever the path, a
 * `__proto__`, `constructor` or `prototype` key anywhere drops the message.
 */
const codec = () =>
  new Codec({
    instanceId: 'me',
    serialize: JSON.stringify as (envelope: SyncEnvelope) => string,
    deserialize: JSON.parse as (payload: string | Uint8Array) => unknown,
    jsonSerializer: true,
    jsonDeserializer: true,
    envelope: 'compatible',
    redactParams: new Set(),
    maxMessageSize: 1024 * 1024,
  });

const envelope = (data: string) =>
  `{"sync":{"v":1,"origin":"peer","seq":1},"event":"created","path":"todos","data":${data}}`;

describe('forbidden keys in JSON messages', () => {
  const hidden = [
    ['__proto__ as a key', '{"__proto__":{"polluted":true}}'],
    ['an escaped __proto__', '{"\\u005f_proto__":{"polluted":true}}'],
    ['an escaped, upper-case hex __proto__', '{"\\u005F\\u005Fproto\\u005F_":{"x":1}}'],
    ['an escaped constructor', '{"a":[{"\\u0063onstructor":{"prototype":{}}}]}'],
    ['prototype deep inside', '{"a":{"b":{"c":[1,{"prototype":1}]}}}'],
  ];

  it.each(hidden)('drops %s, short or long', (_name, data) => {
    for (const pad of ['', 'x'.repeat(5000)]) {
      const text = envelope(data.replace(/^\{/, `{"pad":"${pad}",`));
      expect(hasForbiddenKeyInJson(text, JSON.parse(text))).toBe(true);
      const decoded = codec().decode(text);
      expect(decoded).toMatchObject({ ok: false, reason: 'forbiddenKey' });
    }
  });

  it('lets through the words as values, and escapes that spell nothing forbidden', () => {
    for (const data of [
      '{"text":"the constructor of a prototype: __proto__"}',
      '{"text":"caf\\u00e9","\\u0061":1}',
    ]) {
      const text = envelope(data);
      expect(mayHoldForbiddenKey(text)).toBe(true);
      expect(hasForbiddenKeyInJson(text, JSON.parse(text))).toBe(false);
      expect(codec().decode(text).ok).toBe(true);
    }
  });

  it('a short text without the words or escapes needs no walk', () => {
    const text = envelope('{"id":1,"text":"héllo 😀"}');
    expect(mayHoldForbiddenKey(text)).toBe(false);
    expect(hasForbiddenKeyInJson(text, JSON.parse(text))).toBe(false);
    expect(codec().decode(text).ok).toBe(true);
  });
});
