// Authentication of the state topic's records. Anyone who can write the state topic could
// otherwise switch every route of the fleet, with no admin token, no fence and an audit name of
// their choosing. With a fleet key configured, every record Turnout writes carries a header
//
//   turnout-mac: v1.<key id>.<base64url HMAC-SHA256(key, "turnout-state/v1" 0 topic 0 record key 0 value)>
//
// and a record whose header is missing or does not verify with a configured key is ignored by
// every reader. The topic name is part of what is signed, so a record copied from another fleet's
// state topic (same key, other topic) does not verify there; the record key is, so a value cannot
// be moved under another key. A verbatim copy of one of this topic's own records (a replay) does
// verify: it can only repeat what the fleet already wrote, and route state is decided by epoch,
// so an old record cannot move a route back.
//
// The key id is the first 8 hex digits of a SHA-256 of the key: enough to tell the current key
// from the previous one during a rotation, and safe to log (it reveals nothing usable about a
// key of 32 or more random characters).
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Secret, StateSigningConfig } from '../config/types.ts';

export const MAC_HEADER = 'turnout-mac';
const VERSION = 'v1';
const DOMAIN_TAG = 'turnout-state/v1';

/** Why a record was not accepted (for counting and logging, never with the key). */
export type Rejection = 'unsigned' | 'unknown-key' | 'bad-signature' | 'malformed';

export interface Verdict {
  ok: boolean;
  /** Set when !ok. */
  reason?: Rejection;
  /** The key id the record names, when it names one. */
  keyId?: string;
}

export type SigningKeys = StateSigningConfig;

interface Key {
  id: string;
  secret: Buffer;
}

export function keyId(secret: string): string {
  return createHash('sha256').update('turnout-state-key-id\0').update(secret, 'utf8').digest('hex').slice(0, 8);
}

export class StateSigner {
  readonly topic: string;
  private readonly signing: Key | null;
  private readonly accepted: Map<string, Key>;
  private readonly acceptUnsigned: boolean;

  constructor(topic: string, keys: SigningKeys) {
    this.topic = topic;
    const toKey = (s: Secret): Key => ({ id: keyId(s.reveal()), secret: Buffer.from(s.reveal(), 'utf8') });
    this.signing = keys.key === null ? null : toKey(keys.key);
    this.accepted = new Map([...(this.signing ? [this.signing] : []), ...keys.previousKeys.map(toKey)].map((k) => [k.id, k]));
    // Without any key nothing can be verified: every record is taken as written.
    this.acceptUnsigned = keys.acceptUnsigned || this.accepted.size === 0;
  }

  /** Whether records are signed and checked (a key is configured). */
  get enabled(): boolean {
    return this.accepted.size > 0;
  }

  /** The id of the key that signs, or null. */
  get signingKeyId(): string | null {
    return this.signing?.id ?? null;
  }

  /** The header value for one record, or null when no key is configured. */
  sign(key: string, value: Buffer | null): Buffer | null {
    if (this.signing === null) return null;
    return Buffer.from(`${VERSION}.${this.signing.id}.${this.mac(this.signing, key, value).toString('base64url')}`, 'utf8');
  }

  /** Whether a record read from the topic is to be believed. */
  verify(key: string, value: Buffer | null, header: Buffer | null | undefined): Verdict {
    if (header === undefined || header === null) return this.acceptUnsigned ? { ok: true } : { ok: false, reason: 'unsigned' };
    if (!this.enabled) return { ok: true }; // nothing to check against
    const parts = header.toString('utf8').split('.');
    if (parts.length !== 3 || parts[0] !== VERSION || !/^[0-9a-f]{8}$/.test(parts[1])) return { ok: false, reason: 'malformed' };
    const k = this.accepted.get(parts[1]);
    if (k === undefined) return { ok: false, reason: 'unknown-key', keyId: parts[1] };
    const given = Buffer.from(parts[2], 'base64url');
    const expected = this.mac(k, key, value);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'bad-signature', keyId: k.id };
    return { ok: true, keyId: k.id };
  }

  private mac(k: Key, key: string, value: Buffer | null): Buffer {
    const h = createHmac('sha256', k.secret);
    h.update(DOMAIN_TAG).update('\0').update(this.topic, 'utf8').update('\0').update(key, 'utf8').update('\0');
    // A tombstone and an empty value must not share a signature.
    if (value === null) h.update('\x01null');
    else h.update('\x00').update(value);
    return h.digest();
  }
}
