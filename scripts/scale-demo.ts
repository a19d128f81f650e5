// The measurement of issue 25, repeatable: against a running `./turnout demo`, creates TOPICS
// topics of 6 partitions through the gateway, writes to every partition and commits offsets for
// GROUPS groups (so all of them are "in use" through the route), then keeps one producer writing
// while planned switches go back and forth, and prints per switch the outcome, the writes-held
// window (from the fence to the flip or the release, from the switch's phases) and the duration.
//
//   node scripts/scale-demo.ts [--topics 1000] [--groups 50] [--switches 4] [--rate 2000] [--skip-setup] [--first green]
//
// Needs the demo's defaults: gateway on 127.0.0.1:19092, admin on :19090, user kafka.

import { parseArgs } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';

const { values } = parseArgs({
  options: {
    topics: { type: 'string', default: '1000' },
    groups: { type: 'string', default: '50' },
    switches: { type: 'string', default: '4' },
    rate: { type: 'string', default: '2000' },
    'skip-setup': { type: 'boolean', default: false },
    first: { type: 'string', default: 'green' },
    bootstrap: { type: 'string', default: '127.0.0.1:19092' },
    admin: { type: 'string', default: 'http://127.0.0.1:19090' },
  },
});
const TOPICS = Number(values.topics);
const GROUPS = Number(values.groups);
const PARTITIONS = 6;
const topicName = (i: number) => `big-${String(i).padStart(4, '0')}`;
const topics = Array.from({ length: TOPICS }, (_, i) => topicName(i));

const kafka = new Kafka({
  clientId: 'scale-demo',
  brokers: [values.bootstrap],
  logLevel: logLevel.NOTHING,
  sasl: { mechanism: 'plain', username: 'kafka', password: 'kafka-secret' },
  requestTimeout: 60_000,
  retry: { retries: 20 },
});
const log = (s: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

async function setup(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  for (let i = 0; i < topics.length; i += 200) {
    await admin.createTopics({
      topics: topics.slice(i, i + 200).map((topic) => ({ topic, numPartitions: PARTITIONS, replicationFactor: 1 })),
      waitForLeaders: false,
    });
  }
  await new Promise((r) => setTimeout(r, 3000));
  log(`${topics.length} topics x ${PARTITIONS} partitions created`);
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  for (let i = 0; i < topics.length; i += 100) {
    await producer.sendBatch({
      acks: -1,
      topicMessages: topics.slice(i, i + 100).map((topic) => ({
        topic,
        messages: Array.from({ length: PARTITIONS * 3 }, (_, j) => ({ partition: j % PARTITIONS, key: `k${j}`, value: `setup ${topic} ${j} ${Date.now()}` })),
      })),
    });
  }
  await producer.disconnect();
  log(`3 records written to each of ${topics.length * PARTITIONS} partitions`);
  // Groups with committed offsets (each on 2 topics), committed through the gateway.
  // (kafkajs asks for the metadata of every topic it knows before each commit: a few at a time.)
  for (let g0 = 0; g0 < GROUPS; g0 += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, GROUPS - g0) }, async (_, j) => {
        const g = g0 + j;
        for (const topic of [topicName((g * 2) % TOPICS), topicName((g * 2 + 1) % TOPICS)]) {
          await admin.setOffsets({
            groupId: `scale-group-${g}`,
            topic,
            partitions: Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, offset: '2' })),
          });
        }
      }),
    );
  }
  log(`${GROUPS} groups with committed offsets`);
  await admin.disconnect();
}

/** Writes `rate` records per second to random partitions until stopped; counts acknowledgements. */
function load(rate: number): { stop: () => Promise<{ acked: number; failed: number }> } {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  let running = true;
  let acked = 0;
  let failed = 0;
  const done = (async () => {
    await producer.connect();
    while (running) {
      const started = Date.now();
      const batch = Array.from({ length: Math.max(1, Math.round(rate / 10)) }, (_, i) => ({
        topic: topics[Math.floor(Math.random() * topics.length)],
        messages: [{ partition: Math.floor(Math.random() * PARTITIONS), value: `load ${Date.now()} ${i}` }],
      }));
      try {
        await producer.sendBatch({ acks: -1, topicMessages: batch });
        acked += batch.length;
      } catch {
        failed += batch.length;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - started))));
    }
    await producer.disconnect();
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return { acked, failed };
    },
  };
}

interface Phase {
  phase: string;
  ms: number;
  detail?: string;
}

async function switchTo(to: string): Promise<{ outcome: string; heldMs: number | null; durationMs: number; message: string; phases: Phase[] }> {
  const res = await fetch(`${values.admin}/routes/demo/switch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer demo-admin-token' },
    body: JSON.stringify({ to, by: 'scale-demo', mode: 'planned' }),
  });
  const r = (await res.json()) as { outcome: string; durationMs: number; message: string; phases: Phase[]; fencedMs?: number };
  const at = (name: string) => r.phases.find((p) => p.phase === name)?.ms;
  // The fence goes up right after "checked" (or the last phase before "fenced"); it is down at "flipped" or "released".
  const fencedIdx = r.phases.findIndex((p) => p.phase === 'fenced');
  const before = fencedIdx > 0 ? r.phases[fencedIdx - 1].ms : undefined;
  const end = at('flipped') ?? at('released');
  const heldMs = r.fencedMs ?? (before !== undefined && end !== undefined ? end - before : null);
  return { outcome: r.outcome, heldMs, durationMs: r.durationMs, message: r.message, phases: r.phases };
}

if (!values['skip-setup']) await setup();
const writer = load(Number(values.rate));
await new Promise((r) => setTimeout(r, 5000));
const rows: string[] = [];
let to = values.first;
for (let i = 0; i < Number(values.switches); i++) {
  if (i === 0) {
    // What preflight predicts for the fenced window (Turnout from issue 25 on; older ones report no "fence").
    const pf = await fetch(`${values.admin}/routes/demo/preflight?to=${to}`, { headers: { authorization: 'Bearer demo-admin-token' } });
    const body = (await pf.json()) as { fence?: { expectedFencedMs: number; preReadMs: number }; warnings?: string[]; blockers?: string[]; error?: string };
    log(
      `preflight (HTTP ${pf.status}): expected fenced window ${body.fence?.expectedFencedMs ?? '?'} ms (pre-read ${body.fence?.preReadMs ?? '?'} ms); ${body.error ?? ''} ${(body.blockers ?? []).length} blocker(s), warnings: ${(body.warnings ?? []).join(' | ').slice(0, 300)}`,
    );
  }
  const r = await switchTo(to);
  log(`switch to ${to}: ${r.outcome}, writes held ${r.heldMs ?? '?'} ms, took ${r.durationMs} ms: ${r.message.slice(0, 300)}`);
  for (const p of r.phases) log(`    ${String(p.ms).padStart(6)} ${p.phase.padEnd(18)} ${(p.detail ?? '').slice(0, 160)}`);
  rows.push(`| ${i + 1} | ${to} | ${r.outcome} | ${r.heldMs ?? '?'} | ${r.durationMs} |`);
  if (r.outcome === 'switched') to = to === 'green' ? 'blue' : 'green';
  await new Promise((r2) => setTimeout(r2, 5000));
}
const w = await writer.stop();
log(`producer: ${w.acked} acknowledged, ${w.failed} failed sends`);
process.stdout.write(`${['| try | to | outcome | writes held (ms) | duration (ms) |', '|---|---|---|---|---|', ...rows].join('\n')}\n`);
