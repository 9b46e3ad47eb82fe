/** A Buffer view of bytes, without copying. */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function byteLength(payload: string | Uint8Array): number {
  return typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
}

/** A UTF-8 string is at most 3 bytes per UTF-16 unit: the exact count is skipped for small strings. */
export function exceedsBytes(payload: string | Uint8Array, max: number): boolean {
  if (typeof payload === 'string' && payload.length * 3 <= max) return false;
  return byteLength(payload) > max;
}

/** Bytes as UTF-8 text (what JSON.parse wants). */
export function toText(bytes: Uint8Array): string {
  return toBuffer(bytes).toString('utf8');
}

/**
 * Compared from the end: prefixes that differ only near their end (our echo marks: a shared start,
 * then an instance id) tell a mismatch on the first bytes looked at.
 */
export function startsWithBytes(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.byteLength < prefix.byteLength) return false;
  for (let i = prefix.byteLength - 1; i >= 0; i--) if (bytes[i] !== prefix[i]) return false;
  return true;
}
