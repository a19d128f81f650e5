// Where topic ids are in Kafka's messages, derived from the generated message definitions: every
// uuid field named TopicId, at any depth, with the versions it exists in and, where the same
// struct names the topic too, that field. Code that rewrites topic ids walks decoded messages
// with this instead of a hand-kept list, so a new Kafka version's fields are covered by
// regenerating the codec.
import { type FieldSchema, MESSAGE_SCHEMAS, type MessageSchema } from './generated/schema.ts';
import { ZERO_UUID } from './reader.ts';

/** A struct that holds a topic id: the property names of the id and, if present, of the topic's name. */
export interface TopicIdHolder {
  /** The decoded object (a struct of the message). */
  readonly holder: Record<string, unknown>;
  readonly idProp: string;
  /** The property holding the topic's name in the same struct (null: the struct has none at this version). */
  readonly nameProp: string | null;
}

type Kind = 'request' | 'response';

const inVersion = (range: [number, number] | null, version: number): boolean => range !== null && version >= range[0] && version <= range[1];

function schemaOf(apiKey: number, kind: Kind): MessageSchema | undefined {
  return BY_KEY.get(`${kind}:${apiKey}`);
}

const BY_KEY = new Map<string, MessageSchema>();
for (const m of Object.values(MESSAGE_SCHEMAS)) {
  if (m.apiKey !== null && (m.type === 'request' || m.type === 'response')) BY_KEY.set(`${m.type}:${m.apiKey}`, m);
}

function elementType(type: string): string {
  return type.startsWith('[]') ? type.slice(2) : type;
}

function isTopicId(f: FieldSchema): boolean {
  return f.type === 'uuid' && f.name === 'TopicId';
}

/** Whether `fields` (of `schema`) contain a topic id at `version`, at any depth. */
function containsTopicId(schema: MessageSchema, fields: FieldSchema[], version: number, seen: Set<string>): boolean {
  for (const f of fields) {
    if (!inVersion(f.versions, version)) continue;
    if (isTopicId(f)) return true;
    const struct = schema.structs[elementType(f.type)];
    if (struct !== undefined && !seen.has(elementType(f.type))) {
      seen.add(elementType(f.type));
      if (containsTopicId(schema, struct, version, seen)) return true;
    }
  }
  return false;
}

/** (kind, api key, version) -> 1 carries, 2 does not, 0 not computed yet; looked up on the data path. */
const CARRIES = new Uint8Array(2 << 16);

/** Whether the request or response of (apiKey, version) has a topic id field. */
export function carriesTopicIds(apiKey: number, kind: Kind, version: number): boolean {
  if (apiKey < 0 || apiKey > 0x3ff || version < 0 || version > 0x3f) return false;
  const slot = ((kind === 'request' ? 0 : 1) << 16) | (apiKey << 6) | version;
  let v = CARRIES[slot];
  if (v === 0) {
    const schema = schemaOf(apiKey, kind);
    v = schema !== undefined && inVersion(schema.validVersions, version) && containsTopicId(schema, schema.fields, version, new Set()) ? 1 : 2;
    CARRIES[slot] = v;
  }
  return v === 1;
}

/** Api keys whose requests (or responses) carry topic ids in some version. */
export function apiKeysCarryingTopicIds(kind: Kind): number[] {
  const out: number[] = [];
  for (const m of BY_KEY.values()) {
    if (m.type !== kind || m.apiKey === null || m.validVersions === null) continue;
    for (let v = m.validVersions[0]; v <= m.validVersions[1]; v++) {
      if (carriesTopicIds(m.apiKey, kind, v)) {
        out.push(m.apiKey);
        break;
      }
    }
  }
  return out.sort((a, b) => a - b);
}

/** Calls `visit` for every struct holding a non-zero topic id in a decoded message body. */
export function forEachTopicId(apiKey: number, kind: Kind, version: number, body: object, visit: (h: TopicIdHolder) => void): void {
  const schema = schemaOf(apiKey, kind);
  if (schema === undefined) return;
  walk(schema, schema.fields, version, body as Record<string, unknown>, visit);
}

function walk(schema: MessageSchema, fields: FieldSchema[], version: number, obj: Record<string, unknown>, visit: (h: TopicIdHolder) => void): void {
  let idProp: string | null = null;
  let nameProp: string | null = null;
  for (const f of fields) {
    if (!inVersion(f.versions, version)) continue;
    if (isTopicId(f)) {
      idProp = f.prop;
      continue;
    }
    if (f.entityType === 'topicName' && f.type === 'string') nameProp = f.prop;
    const struct = schema.structs[elementType(f.type)];
    if (struct === undefined) continue;
    const value = obj[f.prop];
    if (value === null || value === undefined) continue;
    if (Array.isArray(value)) {
      for (const item of value) walk(schema, struct, version, item as Record<string, unknown>, visit);
    } else {
      walk(schema, struct, version, value as Record<string, unknown>, visit);
    }
  }
  if (idProp !== null) {
    const id = obj[idProp];
    if (typeof id === 'string' && id !== ZERO_UUID) visit({ holder: obj, idProp, nameProp });
  }
}
