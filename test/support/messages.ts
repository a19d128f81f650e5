// Builds populated Kafka messages from the generated schema, for round-trip and fuzz tests.
// Deterministic: every value comes from a seeded PRNG, so a failure names a reproducible seed.
import { type FieldSchema, MESSAGE_SCHEMAS, type MessageSchema } from '../../src/protocol/generated/schema.ts';
import type { Reader } from '../../src/protocol/reader.ts';
import type { Writer } from '../../src/protocol/writer.ts';

export { MESSAGE_SCHEMAS };

/** Mulberry32: small, fast, good enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function moduleFile(messageName: string): string {
  return `${messageName
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1-$2')
    .toLowerCase()}.ts`;
}

export function typeName(message: string, struct: string): string {
  return struct.startsWith(message) ? struct : message + struct;
}

export interface MessageModule {
  schema: MessageSchema;
  mod: Record<string, unknown>;
  read(r: Reader, v: number): object;
  write(w: Writer, v: number, o: object): void;
  create(name: string): Record<string, unknown>;
}

export async function loadMessage(name: string): Promise<MessageModule> {
  const schema = MESSAGE_SCHEMAS[name];
  const mod = (await import(`../../src/protocol/generated/messages/${moduleFile(name)}`)) as Record<string, unknown>;
  const fn = <T>(n: string): T => {
    const f = mod[n];
    if (typeof f !== 'function') throw new Error(`${moduleFile(name)} has no function ${n}`);
    return f as T;
  };
  return {
    schema,
    mod,
    read: fn(`read${name}`),
    write: fn(`write${name}`),
    create: (struct: string) => fn<() => Record<string, unknown>>(`default${typeName(name, struct)}`)(),
  };
}

const inRange = (r: [number, number] | null, v: number): boolean => r !== null && v >= r[0] && v <= r[1];

const SAMPLE_STRINGS = ['', 'a', 'topic-1', 'Grüße', 'ключ', '日本語', 'x'.repeat(40)];

/** A message of version `v` whose every field present in `v` holds a non-trivial value. */
export function populate(m: MessageModule, v: number, rand: () => number, opts: { unknownTags?: boolean } = {}): Record<string, unknown> {
  const flexible = inRange(m.schema.flexibleVersions, v);
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(0, 255)));

  const value = (type: string, f: FieldSchema, depth: number): unknown => {
    if (type.startsWith('[]')) {
      const el = type.slice(2);
      const n = depth > 3 ? 0 : int(0, 3);
      return Array.from({ length: n }, () => value(el, f, depth + 1));
    }
    switch (type) {
      case 'bool':
        return rand() < 0.5;
      case 'int8':
        return int(-128, 127);
      case 'int16':
        return int(-32768, 32767);
      case 'uint16':
        return int(0, 65535);
      case 'int32':
        return int(-2147483648, 2147483647);
      case 'uint32':
        return int(0, 4294967295);
      case 'int64':
        return BigInt.asIntN(64, (BigInt(int(0, 0xffffffff)) << 32n) | BigInt(int(0, 0xffffffff)));
      case 'float64':
        return (rand() - 0.5) * 1e6;
      case 'string':
        return SAMPLE_STRINGS[int(0, SAMPLE_STRINGS.length - 1)];
      case 'uuid':
        return bytes(16).toString('base64url');
      case 'bytes':
        return bytes(int(0, 20));
      case 'records':
        return rand() < 0.1 ? bytes(int(1100, 1500)) : bytes(int(0, 60));
      default:
        return struct(type, depth + 1);
    }
  };

  const fill = (target: Record<string, unknown>, fields: FieldSchema[], depth: number): void => {
    for (const f of fields) {
      if (!inRange(f.versions, v)) continue;
      if (inRange(f.nullableVersions, v) && rand() < 0.2) {
        target[f.prop] = null;
      } else {
        target[f.prop] = value(f.type, f, depth);
      }
    }
    if (flexible && opts.unknownTags && rand() < 0.3) {
      target._unknownTaggedFields = [{ tag: 9000 + int(0, 10), data: bytes(int(0, 5)) }];
    }
  };

  const struct = (name: string, depth: number): Record<string, unknown> => {
    const o = m.create(name);
    fill(o, m.schema.structs[name], depth);
    return o;
  };

  const top = m.create(m.schema.name);
  fill(top, m.schema.fields, 0);
  return top;
}

/** Every (message, version) pair the codec covers. */
export function allMessageVersions(): { name: string; version: number }[] {
  const out: { name: string; version: number }[] = [];
  for (const s of Object.values(MESSAGE_SCHEMAS)) {
    if (s.validVersions === null) continue;
    for (let v = s.validVersions[0]; v <= s.validVersions[1]; v++) out.push({ name: s.name, version: v });
  }
  return out;
}
