// The committed offsets of many groups are read with one FindCoordinator (v4, many keys) and one
// OffsetFetch (v8, many groups) per coordinator for up to MAX_GROUPS_PER_REQUEST groups, not a
// pair of requests per group; a group that answers a retriable error is asked again, alone.
// ClusterAdmin is driven through a fake that answers those two APIs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StreamingDomainConfig } from '../../../src/config/types.ts';
import { ClusterAdmin, MAX_GROUPS_PER_REQUEST } from '../../../src/control/cluster-admin.ts';
import { ApiKey } from '../../../src/protocol/index.ts';

const domain: StreamingDomainConfig = {
  name: 'blue',
  type: 'kafka',
  kafkaCluster: { name: 'blue', bootstrapServers: [{ id: 'plaintext', endpoints: [{ host: '127.0.0.1', port: 1 }], security: { protocol: 'PLAINTEXT' } }] },
};

/** A ClusterAdmin whose groups live on `coordinators` brokers (by the group's number); `fail` answers a group's first OffsetFetch with that error. */
function adminOver(coordinators: number, fail = new Map<string, number>()) {
  const admin = new ClusterAdmin(domain, domain.kafkaCluster.bootstrapServers[0], 2000);
  const calls: { api: number; port: number; keys: string[] }[] = [];
  const home = (g: string) => 100 + (Number(g.split('-')[1]) % coordinators);
  Object.assign(admin as unknown as object, {
    anyBroker: async () => ({ host: 'b', port: 0 }),
    call: async (address: { port: number }, api: number, body: (v: number) => { coordinatorKeys?: string[]; groups?: { groupId: string }[] }) => {
      const req = body(api === ApiKey.FindCoordinator ? 4 : 8);
      if (api === ApiKey.FindCoordinator) {
        calls.push({ api, port: address.port, keys: req.coordinatorKeys! });
        return { coordinators: req.coordinatorKeys!.map((key) => ({ key, nodeId: home(key), host: 'b', port: home(key), errorCode: 0, errorMessage: null })) };
      }
      const groups = req.groups!.map((g) => g.groupId);
      calls.push({ api, port: address.port, keys: groups });
      return {
        groups: groups.map((groupId) => {
          const error = fail.get(groupId);
          fail.delete(groupId);
          if (error !== undefined) return { groupId, errorCode: error, topics: [] };
          assert.equal(address.port, home(groupId), `${groupId} asked of its coordinator`);
          return {
            groupId,
            errorCode: 0,
            topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: BigInt(groupId.split('-')[1]), errorCode: 0 }] }],
          };
        }),
      };
    },
  });
  return { admin, calls };
}

test("250 groups on 2 coordinators: 3 FindCoordinator and 4 OffsetFetch requests, every group's offsets", async () => {
  const { admin, calls } = adminOver(2);
  const ids = Array.from({ length: 250 }, (_, i) => `g-${i}`);
  const offsets = await admin.groupOffsetsMany(ids);
  assert.equal(offsets.size, 250);
  for (const id of ids) assert.deepEqual([...offsets.get(id)!], [['orders:0', BigInt(id.split('-')[1])]]);
  const find = calls.filter((c) => c.api === ApiKey.FindCoordinator);
  const fetch = calls.filter((c) => c.api === ApiKey.OffsetFetch);
  assert.deepEqual(
    find.map((c) => c.keys.length),
    [100, 100, 50],
  );
  assert.equal(fetch.length, 4, 'two requests of at most 100 groups per coordinator');
  assert.ok(fetch.every((c) => c.keys.length <= MAX_GROUPS_PER_REQUEST));
  // Coordinators are remembered: reading again costs one OffsetFetch per coordinator batch, no FindCoordinator.
  calls.length = 0;
  await admin.groupOffsetsMany(ids);
  assert.deepEqual(
    calls.map((c) => c.api),
    [ApiKey.OffsetFetch, ApiKey.OffsetFetch, ApiKey.OffsetFetch, ApiKey.OffsetFetch],
  );
});

test('a group answering COORDINATOR_LOAD_IN_PROGRESS is asked again alone (its coordinator looked up again); the others are not', async () => {
  const { admin, calls } = adminOver(1, new Map([['g-3', 14]]));
  const offsets = await admin.groupOffsetsMany(['g-1', 'g-2', 'g-3']);
  assert.equal(offsets.get('g-3')?.get('orders:0'), 3n);
  assert.deepEqual(
    calls.map((c) => [c.api, c.keys]),
    [
      [ApiKey.FindCoordinator, ['g-1', 'g-2', 'g-3']],
      [ApiKey.OffsetFetch, ['g-1', 'g-2', 'g-3']],
      [ApiKey.FindCoordinator, ['g-3']],
      [ApiKey.OffsetFetch, ['g-3']],
    ],
  );
});

test('a group answering a non-retriable error fails the read, naming the group', async () => {
  const { admin } = adminOver(1, new Map([['g-2', 30]]));
  await assert.rejects(admin.groupOffsetsMany(['g-1', 'g-2']), /streaming domain "blue": OffsetFetch for group g-2 failed: GROUP_AUTHORIZATION_FAILED \(30\)/);
});
