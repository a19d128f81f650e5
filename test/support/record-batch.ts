// A minimal Kafka record batch (magic v2) writer for tests that send Produce requests by hand.
import { crc32c } from '../../src/protocol/crc32c.ts';

export { crc32c };

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
