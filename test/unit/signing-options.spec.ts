import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FeathersSyncConfigError, FeathersSyncModule, type SigningOptions } from '../../src';
import { resolveOptions } from '../../src/options/resolve-options';
import { resolveSigning } from '../../src/options/signing-options';
import { createFeathersApp } from '../support/feathers-app';

const GOOD = randomBytes(32).toString('base64');
const SHORT = 'too-short-a-secret-31-bytes-long'.slice(0, 31);

function refusal(signing: unknown, window?: number): Error {
  try {
    resolveSigning(signing as SigningOptions, 'feathers-sync', window);
  } catch (error) {
    return error as Error;
  }
  throw new Error('accepted but should have been refused');
}

describe('the signing option', () => {
  it('resolves keys into KeyObjects that never print their material', () => {
    const resolved = resolveSigning(
      { keys: { '2026-11': GOOD, '2026-08': Buffer.from(GOOD) }, current: '2026-11' },
      'feathers-sync',
    )!;
    expect([...resolved.keys.keys()]).toEqual(['2026-11', '2026-08']);
    expect(resolved).toEqual(
      expect.objectContaining({ current: '2026-11', acceptUnsigned: false, maxAgeMs: undefined }),
    );
    const printed = [JSON.stringify(resolved), inspect(resolved, { depth: 5, showHidden: true })];
    for (const text of printed) {
      expect(text).not.toContain(GOOD);
      expect(text).not.toContain(Buffer.from(GOOD).toString('hex'));
    }
    expect(resolveSigning(undefined, 'feathers-sync')).toBeUndefined();
  });

  it.each<[string, unknown, RegExp]>([
    ['a secret given as the whole option', GOOD, /`signing` must be an object.*got a string/],
    ['no keys', { current: 'a' }, /`signing.keys` must be an object.*got nothing/],
    ['keys as a string', { keys: GOOD, current: 'a' }, /`signing.keys`.*got a string/],
    ['an empty keyring', { keys: {}, current: 'a' }, /at least one key/],
    [
      'an empty key',
      { keys: { a: '' }, current: 'a' },
      /`signing.keys\['a'\]` is empty or missing/,
    ],
    [
      'an unset environment variable',
      { keys: { a: undefined }, current: 'a' },
      /is empty or missing: is the environment variable/,
    ],
    ['a short key', { keys: { a: SHORT }, current: 'a' }, /is 31 bytes long.*at least 32 bytes/],
    [
      'a key that is not a string or Buffer',
      { keys: { a: 12345 }, current: 'a' },
      /must be a string or a Buffer, got a number/,
    ],
    ['a bad key id', { keys: { 'has space': GOOD }, current: 'has space' }, /key id that is not/],
    [
      'a current key not in keys',
      { keys: { a: GOOD, b: GOOD }, current: GOOD },
      /`signing.current` \(a string of 44 characters\) is not one of the key ids.*\(a, b\)/,
    ],
    ['a bad maxAgeMs', { keys: { a: GOOD }, current: 'a', maxAgeMs: -5 }, /maxAgeMs` must be/],
    [
      'a bad acceptUnsigned',
      { keys: { a: GOOD }, current: 'a', acceptUnsigned: 'yes' },
      /acceptUnsigned` must be true or false/,
    ],
  ])('refuses %s, with the fix, without printing a key', (_name, signing, message) => {
    const error = refusal(signing);
    expect(error).toBeInstanceOf(FeathersSyncConfigError);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain(GOOD);
    expect(error.message).not.toContain(SHORT);
    if (!/key id|maxAgeMs|acceptUnsigned/.test(error.message)) {
      expect(error.message).toContain('openssl rand -base64 32');
    }
  });

  it('refuses a maxAgeMs shorter than the recoverable window it would cut into', () => {
    const error = refusal({ keys: { a: GOOD }, current: 'a', maxAgeMs: 60_000 }, 120_000);
    expect(error.message).toMatch(/shorter than `retention.maxAgeMs` \(120000 ms\)/);
    expect(
      resolveSigning({ keys: { a: GOOD }, current: 'a', maxAgeMs: 120_000 }, 'k', 120_000)
        ?.maxAgeMs,
    ).toBe(120_000);
  });

  it('gives a fixed instanceId an epoch per start, and a random one none', () => {
    const fixed = [1, 2].map(
      () => resolveOptions({ uri: 'memory://e', instanceId: 'web-1', logger: false }).engine.epoch,
    );
    expect(fixed[0]).toBeGreaterThan(0);
    expect(fixed[1]).toBeGreaterThan(fixed[0]!);
    expect(resolveOptions({ uri: 'memory://e', logger: false }).engine.epoch).toBeUndefined();
  });

  it('fails boot with the error', async () => {
    @Module({
      imports: [
        FeathersSyncModule.forRoot({
          uri: 'memory://signing-boot',
          logger: false,
          app: createFeathersApp() as never,
          signing: { keys: { a: SHORT }, current: 'a' },
        }),
      ],
    })
    class AppModule {}
    const boot = NestFactory.createApplicationContext(AppModule, {
      logger: false,
      abortOnError: false,
    });
    await expect(boot).rejects.toThrow(/at least 32 bytes/);
  });
});
