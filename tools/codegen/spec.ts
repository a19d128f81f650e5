// Reads Apache Kafka's JSON message definitions (common/message/*.json) into a typed model.
// The format is described in Kafka's generator sources and summarised in shared/notes/protocol.md.

/** An inclusive version range; `hi` is MAX_VERSION for open ranges ("3+"). Empty when lo > hi. */
export interface Versions {
  lo: number;
  hi: number;
}

export const MAX_VERSION = 32767;
export const NO_VERSIONS: Versions = { lo: 1, hi: 0 };

export function parseVersions(s: string | undefined, fallback: Versions = NO_VERSIONS): Versions {
  if (s === undefined) return fallback;
  const t = s.trim();
  if (t === 'none') return NO_VERSIONS;
  let m = /^(\d+)\+$/.exec(t);
  if (m) return { lo: Number(m[1]), hi: MAX_VERSION };
  m = /^(\d+)-(\d+)$/.exec(t);
  if (m) return { lo: Number(m[1]), hi: Number(m[2]) };
  m = /^(\d+)$/.exec(t);
  if (m) return { lo: Number(m[1]), hi: Number(m[1]) };
  throw new Error(`invalid version range ${JSON.stringify(s)}`);
}

export function isEmpty(v: Versions): boolean {
  return v.lo > v.hi;
}

export function intersect(a: Versions, b: Versions): Versions {
  const r = { lo: Math.max(a.lo, b.lo), hi: Math.min(a.hi, b.hi) };
  return isEmpty(r) ? NO_VERSIONS : r;
}

/** a minus b, when the result is one range (always true for Kafka's specs: tagged versions are a suffix). */
export function subtract(a: Versions, b: Versions): Versions {
  if (isEmpty(b) || isEmpty(intersect(a, b))) return a;
  if (b.lo <= a.lo && b.hi >= a.hi) return NO_VERSIONS;
  if (b.lo <= a.lo) return { lo: b.hi + 1, hi: a.hi };
  if (b.hi >= a.hi) return { lo: a.lo, hi: b.lo - 1 };
  throw new Error(`cannot subtract ${fmt(b)} from ${fmt(a)}: result is not one range`);
}

export function contains(a: Versions, b: Versions): boolean {
  return isEmpty(b) || (a.lo <= b.lo && a.hi >= b.hi);
}

export function fmt(v: Versions): string {
  if (isEmpty(v)) return 'none';
  if (v.hi === MAX_VERSION) return `${v.lo}+`;
  return v.lo === v.hi ? `${v.lo}` : `${v.lo}-${v.hi}`;
}

export type PrimitiveType = 'bool' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'float64' | 'string' | 'bytes' | 'uuid' | 'records';

export const PRIMITIVES: ReadonlySet<string> = new Set([
  'bool',
  'int8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'float64',
  'string',
  'bytes',
  'uuid',
  'records',
]);

/** A field's type: a primitive, a struct (by name), or an array of either. */
export type FieldType = { kind: 'primitive'; name: PrimitiveType } | { kind: 'struct'; name: string } | { kind: 'array'; element: FieldType };

export interface FieldSpec {
  name: string;
  type: FieldType;
  versions: Versions;
  nullableVersions: Versions;
  taggedVersions: Versions;
  tag: number | undefined;
  /** Per-field override of the message's flexible versions (only RequestHeader.ClientId uses it). */
  flexibleVersions: Versions | undefined;
  ignorable: boolean;
  /** The raw `default` from the JSON, as a string ('' when absent). */
  default: string;
  about: string;
  entityType: string | undefined;
  mapKey: boolean;
}

export interface StructSpec {
  name: string;
  fields: FieldSpec[];
  /** Versions in which the struct can appear (the defining field's versions, or the message's). */
  versions: Versions;
}

export interface MessageSpec {
  /** e.g. "MetadataRequest" */
  name: string;
  type: 'request' | 'response' | 'header' | 'data';
  apiKey: number | undefined;
  validVersions: Versions;
  flexibleVersions: Versions;
  latestVersionUnstable: boolean;
  listeners: string[];
  fields: FieldSpec[];
  /** Every named struct of the message (inline ones and commonStructs), by name. */
  structs: Map<string, StructSpec>;
  /** Struct names in the order they are first defined (for stable output). */
  structOrder: string[];
  sourceFile: string;
}

/** Kafka's JSON files carry // comments, which JSON.parse does not accept. */
export function stripComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out;
}

interface RawField {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  flexibleVersions?: string;
  ignorable?: boolean;
  default?: string | number | boolean;
  about?: string;
  entityType?: string;
  mapKey?: boolean;
  fields?: RawField[];
}

interface RawMessage {
  name: string;
  type: MessageSpec['type'];
  apiKey?: number;
  validVersions: string;
  flexibleVersions?: string;
  latestVersionUnstable?: boolean;
  listeners?: string[];
  fields?: RawField[];
  commonStructs?: { name: string; versions: string; fields: RawField[] }[];
}

function parseType(t: string): FieldType {
  if (t.startsWith('[]')) return { kind: 'array', element: parseType(t.slice(2)) };
  if (PRIMITIVES.has(t)) return { kind: 'primitive', name: t as PrimitiveType };
  return { kind: 'struct', name: t };
}

export function parseMessage(text: string, sourceFile: string): MessageSpec {
  const raw = JSON.parse(stripComments(text)) as RawMessage;
  const validVersions = parseVersions(raw.validVersions);
  const structs = new Map<string, StructSpec>();
  const structOrder: string[] = [];

  const parseFields = (fields: RawField[] | undefined, parentVersions: Versions): FieldSpec[] =>
    (fields ?? []).map((f) => {
      const type = parseType(f.type);
      const versions = parseVersions(f.versions);
      if (f.versions === undefined) throw new Error(`${sourceFile}: field ${f.name} has no versions`);
      const spec: FieldSpec = {
        name: f.name,
        type,
        versions,
        nullableVersions: parseVersions(f.nullableVersions),
        taggedVersions: parseVersions(f.taggedVersions),
        tag: f.tag,
        flexibleVersions: f.flexibleVersions === undefined ? undefined : parseVersions(f.flexibleVersions),
        ignorable: f.ignorable === true,
        default: f.default === undefined ? '' : String(f.default),
        about: f.about ?? '',
        entityType: f.entityType,
        mapKey: f.mapKey === true,
      };
      if (spec.tag !== undefined && isEmpty(spec.taggedVersions)) {
        throw new Error(`${sourceFile}: field ${f.name} has a tag but no taggedVersions`);
      }
      if (f.fields !== undefined) {
        const structType = type.kind === 'array' ? type.element : type;
        if (structType.kind !== 'struct') throw new Error(`${sourceFile}: field ${f.name} has fields but type ${f.type}`);
        const structVersions = intersect(versions, parentVersions);
        const nested = parseFields(f.fields, structVersions);
        if (structs.has(structType.name)) throw new Error(`${sourceFile}: struct ${structType.name} defined twice`);
        structs.set(structType.name, { name: structType.name, fields: nested, versions: structVersions });
        structOrder.push(structType.name);
      }
      return spec;
    });

  const fields = parseFields(raw.fields, validVersions);
  for (const cs of raw.commonStructs ?? []) {
    const v = intersect(parseVersions(cs.versions), validVersions);
    const nested = parseFields(cs.fields, v);
    structs.set(cs.name, { name: cs.name, fields: nested, versions: v });
    structOrder.push(cs.name);
  }

  return {
    name: raw.name,
    type: raw.type,
    apiKey: raw.apiKey,
    validVersions,
    flexibleVersions: parseVersions(raw.flexibleVersions),
    latestVersionUnstable: raw.latestVersionUnstable === true,
    listeners: raw.listeners ?? [],
    fields,
    structs,
    structOrder,
    sourceFile,
  };
}
