import { serialize as v8Serialize, deserialize as v8Deserialize } from 'node:v8';
import { Codec, type CodecOptions } from '../../src/core/codec';
import type { SyncEnvelope } from '../../src';

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

const hookContext = {
  toJSON: () => ({
    event: 'created',
    result: { id: 1 },
    params: { user: { id: 7 }, authentication: { accessToken: 'secret' } },
    path: 'todos',
    method: 'create',
    type: 'around',
    data: { text: 'input copy' },
    arguments: [{ text: 'input copy' }],
  }),
};

describe('Codec', () => {
  it('writes the feathers-sync envelope with our stamp first, without input copies or redacted params', () => {
    const text = codec().encode(3, 'todos', 'created', { id: 1 }, hookContext) as string;
    expect(text.startsWith('{"sync":{"v":1,"origin":"origin-a","seq":3}')).toBe(true);
    expect(JSON.parse(text)).toEqual({
      sync: { v: 1, origin: 'origin-a', seq: 3 },
      event: 'created',
      path: 'todos',
      data: { id: 1 },
      context: {
        event: 'created',
        result: { id: 1 },
        params: { user: { id: 7 } },
        path: 'todos',
        method: 'create',
        type: 'around',
      },
    });
  });

  it('recognises its own compatible, lean and batch messages from their first bytes, as text and bytes', () => {
    const compatible = codec();
    const lean = codec({ envelope: 'lean' });
    const own = [
      compatible.encode(1, 'todos', 'created', { id: 1 }, hookContext) as string,
      lean.encode(2, 'todos', 'created', { id: 1 }, hookContext) as string,
      lean.frame([
        lean.encode(3, 'todos', 'created', { id: 1 }, undefined) as string,
        lean.encode(4, 'todos', 'created', { id: 2 }, undefined) as string,
      ]),
    ];
    for (const message of own) {
      expect(compatible.isOwnEcho(message)).toBe(true);
      expect(compatible.isOwnEcho(Buffer.from(message))).toBe(true);
      expect(compatible.isOwnEcho(Uint8Array.from(Buffer.from(message)))).toBe(true);
    }
  });

  it('never takes another instance for itself: an id that prefixes another, or equals a field name', () => {
    for (const [mine, theirs] of [
      ['ab', 'abc'],
      ['sync', 'other'],
      ['e', 'p'],
      ['o', 'x'],
    ]) {
      const sender = codec({ instanceId: theirs });
      const senderLean = codec({ instanceId: theirs, envelope: 'lean' });
      const receiver = codec({ instanceId: mine });
      const messages = [
        sender.encode(1, 'e', 'e', null, undefined) as string,
        senderLean.encode(1, 'p', 'e', null, undefined) as string,
        senderLean.frame(['{"s":["x",1],"e":"e","p":"p"}', '{"s":["x",2],"e":"e","p":"p"}']),
      ];
      for (const message of messages) expect(receiver.isOwnEcho(message)).toBe(false);
    }
  });

  it('has no echo marks with a custom serializer (the origin is checked after decoding)', () => {
    const custom = codec({
      serialize: (value) => v8Serialize(value),
      deserialize: (payload) => v8Deserialize(Buffer.from(payload as Uint8Array)),
      jsonSerializer: false,
      jsonDeserializer: false,
    });
    const message = custom.encode(1, 'todos', 'created', { id: 1 }, undefined);
    expect(custom.isOwnEcho(message)).toBe(false);
    const decoded = custom.decode(message);
    expect(decoded.ok && decoded.items[0].ok && decoded.items[0].envelope.sync?.origin).toBe(
      'origin-a',
    );
  });

  it('frames lean envelopes only when the serializer writes JSON', () => {
    expect(codec({ envelope: 'lean' }).canFrame).toBe(true);
    expect(codec({ envelope: 'compatible' }).canFrame).toBe(false);
    expect(
      codec({ envelope: 'lean', serialize: (v) => `x${JSON.stringify(v)}`, jsonSerializer: false })
        .canFrame,
    ).toBe(false);
  });

  it('decodes a batch into its events, each checked on its own', () => {
    const lean = codec({ envelope: 'lean', instanceId: 'b' });
    const frame = lean.frame([
      lean.encode(1, 'todos', 'created', { id: 1 }, undefined) as string,
      '{"s":["b",2],"e":42,"p":"todos"}',
      lean.encode(3, 'todos', 'custom', { id: 3 }, undefined) as string,
    ]);
    const decoded = codec().decode(Buffer.from(frame));
    if (!decoded.ok) throw new Error(decoded.detail);
    expect(decoded.items.map((item) => item.ok)).toEqual([true, false, true]);
    expect(decoded.items[1]).toEqual(expect.objectContaining({ reason: 'shape' }));
  });

  it('refuses what is too large, undecodable or holds a forbidden key, naming the reason', () => {
    const small = codec({ maxMessageSize: 64 });
    expect(small.decode('x'.repeat(65))).toEqual(expect.objectContaining({ reason: 'tooLarge' }));
    expect(codec().decode('{not json')).toEqual(expect.objectContaining({ reason: 'decode' }));
    expect(codec().decode('{"event":"created","path":"t","data":{"\\u005f_proto__":{}}}')).toEqual(
      expect.objectContaining({ reason: 'forbiddenKey' }),
    );
  });

  it('hands a custom deserializer a Buffer, whatever Uint8Array the broker client produced', () => {
    const seen: unknown[] = [];
    const custom = codec({
      deserialize: (payload) => {
        seen.push(payload);
        return JSON.parse(String(payload));
      },
      jsonDeserializer: false,
    });
    const bytes = Uint8Array.from(Buffer.from('{"event":"created","path":"t","data":1}'));
    const decoded = custom.decode(bytes);
    expect(decoded.ok).toBe(true);
    expect(Buffer.isBuffer(seen[0])).toBe(true);
  });

  it('stamps the epoch of a fixed instance id in both envelopes, and reads it back', () => {
    for (const envelope of ['compatible', 'lean'] as const) {
      const fixed = codec({ envelope, epoch: 1_700_000_000_000 });
      const text = fixed.encode(7, 'todos', 'created', { id: 1 }, hookContext) as string;
      const decoded = codec({ instanceId: 'other' }).decode(text);
      const sync = decoded.ok && decoded.items[0].ok ? decoded.items[0].envelope.sync : undefined;
      expect(sync).toEqual({ v: 1, origin: 'origin-a', seq: 7, epoch: 1_700_000_000_000 });
      expect(fixed.isOwnEcho(text)).toBe(true);
    }
    // Without one (a random id), nothing more travels.
    expect(codec().encode(1, 'todos', 'created', 1, undefined)).not.toContain('epoch');
    expect(codec({ envelope: 'lean' }).encode(1, 'todos', 'created', 1, undefined)).toMatch(
      /^\{"s":\["origin-a",1\],/,
    );
  });
});
