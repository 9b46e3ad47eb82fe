import { createSecretKey, randomBytes } from 'node:crypto';
import { serialize as v8Serialize, deserialize as v8Deserialize } from 'node:v8';
import { Codec } from '../../src/core/codec';
import { Signer, safeEqual, type SigningSettings } from '../../src/core/signer';
import type { SyncEnvelope } from '../../src';

const SECRETS = {
  a: randomBytes(32).toString('base64'),
  b: randomBytes(32).toString('base64'),
  c: randomBytes(32).toString('base64'),
};

function settings(
  ids: Array<keyof typeof SECRETS>,
  current: keyof typeof SECRETS,
  extra: Partial<SigningSettings> = {},
): SigningSettings {
  return {
    keys: new Map(ids.map((id) => [id, createSecretKey(Buffer.from(SECRETS[id]))])),
    current,
    acceptUnsigned: false,
    scope: 'feathers-sync',
    ...extra,
  };
}

const signer = (...args: Parameters<typeof settings>) => new Signer(settings(...args));

const ENVELOPE = {
  sync: { v: 1, origin: 'o1', seq: 3, ts: 1_700_000_000_000 },
  event: 'created',
  path: 'todos',
  data: { id: 1, text: 'héllo ✓' },
  context: { path: 'todos', method: 'create', result: { id: 1, text: 'héllo ✓' } },
};
const TEXT = JSON.stringify(ENVELOPE);

/** A copy of `bytes` with the byte at `index` changed. */
function flip(bytes: Buffer, index: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[index] ^= 0x01;
  return copy;
}

describe('Signer: JSON form', () => {
  it('appends the signature as the last top-level field: JSON.parse (feathers-sync) reads the same envelope', () => {
    const signed = signer(['a'], 'a').sign(TEXT, true) as string;
    expect(typeof signed).toBe('string');
    expect(signed.startsWith(TEXT.slice(0, -1))).toBe(true);
    expect(signed).toMatch(/,"sig":"a\.[A-Za-z0-9_-]{43}"\}$/);
    const { sig, ...rest } = JSON.parse(signed);
    expect(rest).toEqual(ENVELOPE);
    expect(typeof sig).toBe('string');
  });

  it('verifies what it signed, as text, as a Buffer and as a plain Uint8Array, without copying the body', () => {
    const s = signer(['a'], 'a');
    const signed = s.sign(TEXT, true) as string;
    const bytes = Buffer.from(signed);
    for (const raw of [signed, bytes, Uint8Array.from(bytes)]) {
      const verified = s.verify(raw);
      expect(verified).toEqual({ ok: true, body: raw, signed: true });
    }
  });

  it('refuses an unsigned message, or lets it through unsigned with acceptUnsigned', () => {
    expect(signer(['a'], 'a').verify(TEXT)).toEqual(
      expect.objectContaining({ ok: false, reason: 'unsigned' }),
    );
    expect(new Signer(settings(['a'], 'a', { acceptUnsigned: true })).verify(TEXT)).toEqual({
      ok: true,
      body: TEXT,
      signed: false,
    });
  });

  it('refuses every altered byte: in the body, the key id, the signature', () => {
    const s = signer(['a', 'b'], 'a');
    const signed = Buffer.from(s.sign(TEXT, true) as string);
    const reasons = new Set<string>();
    for (let i = 0; i < signed.length; i++) {
      const verified = s.verify(flip(signed, i));
      expect(verified.ok).toBe(false);
      if (!verified.ok) reasons.add(verified.reason);
    }
    // Altering the tail's syntax makes it look unsigned; altering the id, unknown.
    expect([...reasons].sort()).toEqual(['badSignature', 'unknownKey', 'unsigned']);
  });

  it('refuses a message with a byte added or removed, and a signature moved onto another message', () => {
    const s = signer(['a'], 'a');
    const signed = s.sign(TEXT, true) as string;
    const sig = signed.slice(signed.indexOf(',"sig":'));
    const other = JSON.stringify({ ...ENVELOPE, event: 'removed' });
    for (const forged of [
      signed.replace('"todos"', '"todos" '),
      signed.replace('"todos"', '"todo"'),
      other.slice(0, -1) + sig,
    ]) {
      expect(s.verify(forged)).toEqual(
        expect.objectContaining({ ok: false, reason: 'badSignature' }),
      );
    }
  });

  it('binds a signature to its channel: the same keys on another key name refuse it', () => {
    const here = signer(['a'], 'a');
    const elsewhere = new Signer(settings(['a'], 'a', { scope: 'other-channel' }));
    expect(elsewhere.verify(here.sign(TEXT, true))).toEqual(
      expect.objectContaining({ ok: false, reason: 'badSignature' }),
    );
  });

  it('names a well-formed unknown key id, never a malformed one', () => {
    const signed = signer(['a'], 'a').sign(TEXT, true) as string;
    const unknown = signer(['b'], 'b').verify(signed);
    expect(unknown).toEqual(expect.objectContaining({ ok: false, reason: 'unknownKey' }));
    expect(!unknown.ok && unknown.detail).toContain('"a"');
    const malformed = signed.replace('"sig":"a.', '"sig":"a\n<script>.');
    const refused = signer(['b'], 'b').verify(malformed);
    expect(refused).toEqual(expect.objectContaining({ ok: false, reason: 'unknownKey' }));
    expect(!refused.ok && refused.detail).not.toContain('script');
  });

  it('never throws on a signature of another length (timingSafeEqual would), nor on odd bytes', () => {
    const s = signer(['a'], 'a');
    const signed = s.sign(TEXT, true) as string;
    // Multi-byte characters in the signature: other byte lengths once encoded.
    const wide = signed.slice(0, -45) + '✓'.repeat(43) + '"}';
    expect(s.verify(wide)).toEqual(expect.objectContaining({ ok: false }));
    expect(s.verify(Buffer.from(wide))).toEqual(expect.objectContaining({ ok: false }));
    for (const raw of ['', '}', '"}', ',"sig":"a.', Buffer.alloc(0), Buffer.from([0, 0x46])]) {
      expect(s.verify(raw)).toEqual(expect.objectContaining({ ok: false }));
    }
    expect(safeEqual(Buffer.alloc(32), Buffer.alloc(31))).toBe(false);
    expect(safeEqual(Buffer.alloc(32, 1), Buffer.alloc(32, 1))).toBe(true);
    expect(safeEqual(Buffer.alloc(32, 1), Buffer.alloc(32, 2))).toBe(false);
  });
});

describe('Signer: binary form', () => {
  const body = v8Serialize(ENVELOPE);

  it('frames the bytes as magic, version, key id, body, MAC, and hands back the body as a view', () => {
    const s = signer(['a'], 'a');
    const signed = s.sign(body, false) as Buffer;
    expect(Buffer.isBuffer(signed)).toBe(true);
    expect([...signed.subarray(0, 7)]).toEqual([0x00, 0x46, 0x53, 0x53, 1, 1, 'a'.charCodeAt(0)]);
    expect(signed.length).toBe(7 + body.length + 32);
    const verified = s.verify(signed);
    expect(verified.ok && verified.signed).toBe(true);
    if (verified.ok) {
      expect(Buffer.compare(verified.body as Buffer, body)).toBe(0);
      expect((verified.body as Buffer).buffer).toBe(signed.buffer);
      expect(v8Deserialize(verified.body as Buffer)).toEqual(ENVELOPE);
    }
  });

  it('signs a text payload of a custom serializer as bytes', () => {
    const s = signer(['a'], 'a');
    const signed = s.sign('not json at all', false) as Buffer;
    const verified = s.verify(signed);
    expect(verified.ok && Buffer.from(verified.body as Buffer).toString()).toBe('not json at all');
  });

  it('refuses every altered byte and a truncated frame', () => {
    const s = signer(['a', 'b'], 'a');
    const signed = s.sign(body, false) as Buffer;
    for (let i = 0; i < signed.length; i++) {
      expect(s.verify(flip(signed, i)).ok).toBe(false);
    }
    for (const length of [0, 7, 38, signed.length - 1]) {
      expect(s.verify(signed.subarray(0, length)).ok).toBe(false);
    }
    expect(signer(['b'], 'b').verify(signed)).toEqual(
      expect.objectContaining({ ok: false, reason: 'unknownKey' }),
    );
    // A key id length pointing past the MAC.
    const long = Buffer.from(signed);
    long[5] = 200;
    expect(s.verify(long)).toEqual(expect.objectContaining({ ok: false, reason: 'badSignature' }));
  });
});

describe('Signer: rotation', () => {
  it('accepts every listed key, signs with the current one, refuses a removed one', () => {
    const onlyA = signer(['a'], 'a');
    const bothSignA = signer(['a', 'b'], 'a');
    const bothSignB = signer(['a', 'b'], 'b');
    const onlyB = signer(['b'], 'b');
    const fromA = onlyA.sign(TEXT, true);
    const fromB = bothSignB.sign(TEXT, true);
    expect(bothSignA.sign(TEXT, true)).toBe(fromA);
    for (const reader of [onlyA, bothSignA, bothSignB]) expect(reader.verify(fromA).ok).toBe(true);
    for (const reader of [bothSignA, bothSignB, onlyB]) expect(reader.verify(fromB).ok).toBe(true);
    expect(onlyB.verify(fromA)).toEqual(expect.objectContaining({ reason: 'unknownKey' }));
    expect(onlyA.verify(fromB)).toEqual(expect.objectContaining({ reason: 'unknownKey' }));
  });

  it('tells two secrets under the same key id apart', () => {
    const mine = signer(['a'], 'a');
    const impostor = new Signer({
      ...settings(['a'], 'a'),
      keys: new Map([['a', createSecretKey(Buffer.from(SECRETS.c))]]),
    });
    expect(mine.verify(impostor.sign(TEXT, true))).toEqual(
      expect.objectContaining({ reason: 'badSignature' }),
    );
  });
});

describe('Codec with signing', () => {
  function codec(envelope: 'compatible' | 'lean', binary = false): Codec {
    return new Codec({
      instanceId: 'origin-a',
      serialize: binary
        ? (value: SyncEnvelope) => v8Serialize(value)
        : (JSON.stringify as (value: SyncEnvelope) => string),
      deserialize: binary
        ? (payload: string | Uint8Array) => v8Deserialize(payload as Buffer)
        : (JSON.parse as (payload: string | Uint8Array) => unknown),
      jsonSerializer: !binary,
      jsonDeserializer: !binary,
      envelope,
      redactParams: new Set(),
      maxMessageSize: 1024 * 1024,
      epoch: 1234,
      signing: settings(['a'], 'a'),
    });
  }

  it('stamps the epoch and the send time inside the signed part, in both envelopes and a batch', () => {
    const before = Date.now();
    const compatible = codec('compatible');
    const text = compatible.encode(1, 'todos', 'created', { id: 1 }, undefined) as string;
    expect(text).toMatch(/^\{"sync":\{"v":1,"origin":"origin-a","seq":1,"epoch":1234,"ts":\d+\}/);
    expect(text).toMatch(/,"sig":"a\.[A-Za-z0-9_-]{43}"\}$/);
    const decoded = compatible.decode(text);
    expect(decoded.ok && decoded.trusted).toBe(true);
    const sync = decoded.ok && decoded.items[0].ok ? decoded.items[0].envelope.sync : undefined;
    expect(sync?.epoch).toBe(1234);
    expect(sync?.ts).toBeGreaterThanOrEqual(before);

    const lean = codec('lean');
    const parts = [1, 2].map((seq) => lean.encode(seq, 'todos', 'custom', { seq }, undefined));
    // Parts of a batch are signed once, as a frame.
    expect(parts[0]).not.toContain('"sig"');
    const frame = lean.frame(parts as string[]);
    const batch = lean.decode(Buffer.from(frame));
    expect(batch.ok && batch.items.map((item) => item.ok && item.envelope.sync)).toEqual([
      { v: 1, origin: 'origin-a', seq: 1, epoch: 1234, ts: expect.any(Number) },
      { v: 1, origin: 'origin-a', seq: 2, epoch: 1234, ts: expect.any(Number) },
    ]);
    expect(lean.decode(frame.replace('"seq":1', '"seq":9'))).toEqual(
      expect.objectContaining({ ok: false, reason: 'badSignature' }),
    );
    expect(lean.decode(frame.replace('"origin-a",1,', '"origin-a",7,'))).toEqual(
      expect.objectContaining({ ok: false, reason: 'badSignature' }),
    );
  });

  it('signs a binary serializer in the binary form and decodes it', () => {
    const binary = codec('compatible', true);
    const payload = binary.encode(5, 'todos', 'created', { when: new Date(0) }, undefined);
    expect(Buffer.isBuffer(payload)).toBe(true);
    const decoded = binary.decode(payload);
    expect(decoded.ok && decoded.items[0].ok && decoded.items[0].envelope.sync?.seq).toBe(5);
  });

  it('checks the signature before deserializing anything', () => {
    const deserialize = jest.fn((payload: string | Uint8Array): unknown =>
      JSON.parse(String(payload)),
    );
    const strict = new Codec({
      instanceId: 'b',
      serialize: JSON.stringify as (value: SyncEnvelope) => string,
      deserialize,
      jsonSerializer: true,
      jsonDeserializer: false,
      envelope: 'compatible',
      redactParams: new Set(),
      maxMessageSize: 1024,
      signing: settings(['a'], 'a'),
    });
    expect(strict.decode(TEXT)).toEqual(expect.objectContaining({ ok: false, reason: 'unsigned' }));
    expect(strict.decode('{"__proto__":1}')).toEqual(
      expect.objectContaining({ ok: false, reason: 'unsigned' }),
    );
    expect(deserialize).not.toHaveBeenCalled();
  });
});
