import { createSecretKey, randomBytes } from 'node:crypto';
import type { SigningOptions } from '../../src';
import { Signer } from '../../src/core/signer';

/** A fresh secret as users make one: `openssl rand -base64 32`. */
export function newSecret(): string {
  return randomBytes(32).toString('base64');
}

/** Signing options for a keyring of `id → secret`, signing with `current`. */
export function signingWith(
  keys: Record<string, string>,
  current: string,
  extra: Partial<SigningOptions> = {},
): SigningOptions {
  return { keys, current, ...extra };
}

/**
 * Signs like an instance holding `secret` under `id` would, on channel `key`: what an attacker
 * who stole a key (since removed from the fleet) can produce.
 */
export function signAs(id: string, secret: string, key: string, payload: string): string {
  const signer = new Signer({
    keys: new Map([[id, createSecretKey(Buffer.from(secret))]]),
    current: id,
    acceptUnsigned: false,
    scope: key,
  });
  return signer.signJson(payload);
}
