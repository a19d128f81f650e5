// A minimal Kafka record batch (magic v2) writer for tests that send Produce requests by hand.
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32c(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC32C_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function varint(n: number): Buffer {
  let z = (n << 1) ^ (n >> 31);
  const out: number[] = [];
  z >>>= 0;
  while (z > 0x7f) {
    out.push((z & 0x7f) | 0x80);
    z >>>= 7;
  }
  out.push(z);
  return Buffer.from(out);
}

/** One batch of records with string values (no keys, no headers). */
export function recordBatch(values: string[], timestamp = Date.now()): Buffer {
  const records = values.map((v, i) => {
    const value = Buffer.from(v);
    const body = Buffer.concat([Buffer.from([0]), varint(0), varint(i), varint(-1), varint(value.length), value, varint(0)]);
    return Buffer.concat([varint(body.length), body]);
  });
  const tail = Buffer.alloc(2 + 4 + 8 + 8 + 8 + 2 + 4 + 4);
  let o = 0;
  o = tail.writeInt16BE(0, o);
  o = tail.writeInt32BE(values.length - 1, o);
  o = tail.writeBigInt64BE(BigInt(timestamp), o);
  o = tail.writeBigInt64BE(BigInt(timestamp), o);
  o = tail.writeBigInt64BE(-1n, o);
  o = tail.writeInt16BE(-1, o);
  o = tail.writeInt32BE(-1, o);
  tail.writeInt32BE(values.length, o);
  const afterCrc = Buffer.concat([tail, ...records]);
  const head = Buffer.alloc(8 + 4 + 4 + 1 + 4);
  head.writeBigInt64BE(0n, 0);
  head.writeInt32BE(4 + 1 + 4 + afterCrc.length, 8);
  head.writeInt32BE(-1, 12);
  head.writeInt8(2, 16);
  head.writeUInt32BE(crc32c(afterCrc), 17);
  return Buffer.concat([head, afterCrc]);
}
