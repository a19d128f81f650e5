// The fleet key that signs state records: what verifies, what does not, and what is never
// printed. The StateLog side (records signed on append, ignored on read) runs against a real
// broker in test/integration/control/state-log-signing.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { Secret } from '../../../src/config/index.ts';
import { keyId, MAC_HEADER, StateSigner } from '../../../src/control/state-signing.ts';

const K1 = 'k1-0123456789abcdef0123456789abcdef';
const K2 = 'k2-fedcba9876543210fedcba9876543210';
const TOPIC = '_turnout_state';
const value = Buffer.from('{"type":"route","route":"orders","epoch":3}');

function signer(key: string | null, previous: string[] = [], acceptUnsigned = false, topic = TOPIC): StateSigner {
  return new StateSigner(topic, { key: key === null ? null : new Secret(key), previousKeys: previous.map((p) => new Secret(p)), acceptUnsigned });
}

test('a record signed with the fleet key verifies; changed in key, value or topic it does not', () => {
  const s = signer(K1);
  const mac = s.sign('route/orders', value)!;
  assert.deepEqual(s.verify('route/orders', value, mac), { ok: true, keyId: keyId(K1) });
  assert.equal(s.verify('route/payments', value, mac).reason, 'bad-signature');
  assert.equal(s.verify('route/orders', Buffer.from(value.toString().replace('3', '4')), mac).reason, 'bad-signature');
  assert.equal(signer(K1, [], false, 'other_state').verify('route/orders', value, mac).reason, 'bad-signature');
});

test('a tombstone and an empty value have different signatures', () => {
  const s = signer(K1);
  assert.equal(s.verify('prepare/orders', Buffer.alloc(0), s.sign('prepare/orders', null)).reason, 'bad-signature');
  assert.equal(s.verify('prepare/orders', null, s.sign('prepare/orders', null)).ok, true);
});

test('with a key, unsigned records are ignored unless acceptUnsigned; without a key everything is taken', () => {
  assert.equal(signer(K1).verify('route/orders', value, undefined).reason, 'unsigned');
  assert.equal(signer(K1, [], true).verify('route/orders', value, undefined).ok, true);
  assert.equal(
    signer(K1, [], true).verify('route/orders', value, Buffer.from('v1.00000000.AAAA')).reason,
    'unknown-key',
    'acceptUnsigned does not accept a bad signature',
  );
  assert.equal(signer(null).verify('route/orders', value, undefined).ok, true);
  assert.equal(signer(null).sign('route/orders', value), null);
  assert.equal(signer(null).enabled, false);
});

test('rotation: the previous key is accepted while reading and never signs', () => {
  const old = signer(K1);
  const rotating = signer(K2, [K1]);
  const byOld = old.sign('route/orders', value)!;
  assert.equal(rotating.verify('route/orders', value, byOld).ok, true);
  const byNew = rotating.sign('route/orders', value)!;
  assert.ok(byNew.toString().includes(`.${keyId(K2)}.`));
  assert.equal(old.verify('route/orders', value, byNew).reason, 'unknown-key', 'an instance without the new key ignores records signed with it');
  assert.equal(signer(K2).verify('route/orders', value, byOld).reason, 'unknown-key', 'once the old key is dropped its records no longer count');
});

test('malformed signatures are rejected, not thrown', () => {
  const s = signer(K1);
  for (const h of ['', 'v1', 'v2.abcdef01.AAAA', `v1.${keyId(K1)}`, `v1.XYZ.AAAA`, `v1.${keyId(K1)}.`, '\u0000\u0001']) {
    const v = s.verify('route/orders', value, Buffer.from(h));
    assert.equal(v.ok, false, h);
  }
});

test('the key never appears in the signature, the key id or an inspected signer', () => {
  const s = signer(K1, [K2]);
  const printed = [s.sign('route/orders', value)!.toString(), keyId(K1), inspect(s, { depth: 5 }), JSON.stringify(s)].join('\n');
  assert.ok(!printed.includes(K1) && !printed.includes(K2));
});

test('signatures are a fixed format that every version of the fleet computes alike', () => {
  // HMAC-SHA256(key, "turnout-state/v1" 0 topic 0 record key 0 (0x00 value | 0x01 "null")), in the
  // header turnout-mac as v1.<key id>.<base64url>; the key id is SHA-256("turnout-state-key-id" 0 key).
  const s = signer(K1);
  assert.equal(MAC_HEADER, 'turnout-mac');
  assert.equal(keyId(K1), '84fcd638');
  assert.equal(s.signingKeyId, '84fcd638');
  assert.equal(s.sign('route/orders', Buffer.from('{"epoch":3}'))?.toString(), 'v1.84fcd638.GxusUfrSHDKqnJLVqsKwLUYleZaw8qpKUJ7O3VsDLZ4');
  assert.equal(s.sign('route/orders', null)?.toString(), 'v1.84fcd638.huyFdmNwyp_SbqPE6dEGQRU6jggU6kLN3GivWu3_7w0');
});

test('each rejection says why', () => {
  const s = signer(K1);
  const mac = s.sign('route/orders', value)!;
  const other = keyId(K2);
  assert.deepEqual(s.verify('route/orders', value, undefined), { ok: false, reason: 'unsigned' });
  assert.deepEqual(s.verify('route/orders', value, null), { ok: false, reason: 'unsigned' });
  assert.deepEqual(s.verify('route/orders', value, Buffer.from(`v1.${other}.AAAA`)), { ok: false, reason: 'unknown-key', keyId: other });
  assert.deepEqual(s.verify('route/payments', value, mac), { ok: false, reason: 'bad-signature', keyId: keyId(K1) });
  // A header that is not v1.<8 hex digits>.<mac> is malformed, even when the rest would name a known key.
  const [, id, sig] = mac.toString().split('.');
  for (const h of [`v2.${id}.${sig}`, `x${id}.${sig}`, `v1.x${id}.${sig}`, `v1.${id}x.${sig}`, `v1.${id.toUpperCase()}.${sig}`, `v1.${id}.${sig}.`]) {
    assert.deepEqual(s.verify('route/orders', value, Buffer.from(h)), { ok: false, reason: 'malformed' }, h);
  }
});

test('without any key a signed record is taken as written: there is nothing to check it against', () => {
  const signed = signer(K1).sign('route/orders', value)!;
  assert.deepEqual(signer(null).verify('route/orders', value, signed), { ok: true });
  assert.deepEqual(signer(null).verify('route/orders', value, Buffer.from('garbage')), { ok: true });
  assert.equal(signer(null).signingKeyId, null);
});
