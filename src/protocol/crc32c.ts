// CRC-32C (Castagnoli), the checksum of Kafka record batches (magic v2): table-driven, one byte
// at a time, which is plenty for the small batches Turnout writes and reads itself.
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of `buf` as an unsigned 32-bit number. */
export function crc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC32C_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// ---- changing a few bytes of a checksummed region without reading the rest ----
// CRC-32C is affine over GF(2): for two messages of the same length, crc(a) ^ crc(b) is the
// plain (zero-initialised, unreflected-output-free) CRC of a ^ b. A message that differs in a few
// bytes differs by a short run of bytes followed by zeros, and the CRC of "bytes then n zeros"
// is the CRC of the bytes multiplied by x^(8n) modulo the polynomial: O(log n) work however large
// the record batch is.
const POLY = 0x82f63b78;

/** a * b modulo the CRC-32C polynomial (bit-reflected representation, as the table uses). */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** X2N[k] = x^(2^k) modulo the polynomial. */
const X2N = (() => {
  const t = new Uint32Array(32);
  let p = 0x40000000; // x^1
  t[0] = p;
  for (let k = 1; k < 32; k++) t[k] = p = multModP(p, p);
  return t;
})();

/** x^(8 * bytes) modulo the polynomial. */
function shiftFactor(bytes: number): number {
  let p = 0x80000000; // x^0
  let k = 3; // 2^3 bits per byte
  for (let n = bytes; n > 0; n = Math.floor(n / 2), k++) {
    if (n & 1) p = multModP(X2N[k & 31], p);
  }
  return p;
}

/**
 * The CRC-32C of a region after `oldBytes` at some position were replaced by `newBytes` (same
 * length), given the region's old CRC and how many bytes of the region follow the changed ones.
 */
export function crc32cAfterChange(oldCrc: number, oldBytes: Uint8Array, newBytes: Uint8Array, bytesAfter: number): number {
  let c = 0;
  for (let i = 0; i < oldBytes.length; i++) c = CRC32C_TABLE[(c ^ oldBytes[i] ^ newBytes[i]) & 0xff] ^ (c >>> 8);
  return (oldCrc ^ multModP(shiftFactor(bytesAfter), c >>> 0)) >>> 0;
}
