import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Codec, type CodecOptions } from '../../src/core/codec';
import type { SyncEnvelope, SyncOrigin } from '../../src';
import type { SyncObserver } from '../../src/core/sync-observer';
import { PACKAGE_VERSION } from '../../src/telemetry/package-version';

/** An observer that stamps as the OpenTelemetry one does: a send time and a trace carrier. */
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const stamping: SyncObserver = {
  publishing(stamp: SyncOrigin) {
    stamp.ts = 1_700_000_000_000;
    stamp.tc = { traceparent: TRACEPARENT };
  },
  emitRemote: () => undefined,
};

function codec(overrides: Partial<CodecOptions>): Codec {
  return new Codec({
    instanceId: 'origin-a',
    serialize: JSON.stringify as (envelope: SyncEnvelope) => string,
    deserialize: JSON.parse as (payload: string | Uint8Array) => unknown,
    jsonSerializer: true,
    jsonDeserializer: true,
    envelope: 'compatible',
    redactParams: new Set(),
    maxMessageSize: 1024 * 1024,
    ...overrides,
  });
}

describe('the stamp of an observed event', () => {
  for (const envelope of ['compatible', 'lean'] as const) {
    it(`carries the send time and the trace context through the ${envelope} envelope`, () => {
      const sender = codec({ envelope, observer: stamping, epoch: 5 });
      const payload = sender.encode(3, 'todos', 'created', { id: 1 }, undefined);
      const decoded = codec({ instanceId: 'b' }).decode(payload);
      expect(decoded.ok && decoded.items[0]).toEqual({
        ok: true,
        envelope: expect.objectContaining({
          sync: {
            v: 1,
            origin: 'origin-a',
            seq: 3,
            epoch: 5,
            ts: 1_700_000_000_000,
            tc: { traceparent: TRACEPARENT },
          },
        }),
      });
      // Our own echo is still recognised from its first bytes.
      expect(sender.isOwnEcho(payload)).toBe(true);
    });
  }

  it('without an observer, the stamp is as before', () => {
    const text = codec({}).encode(1, 'todos', 'created', {}, undefined) as string;
    expect(JSON.parse(text).sync).toEqual({ v: 1, origin: 'origin-a', seq: 1 });
  });
});

it("the meter's version is the package's", () => {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
  expect(PACKAGE_VERSION).toBe(pkg.version);
});
