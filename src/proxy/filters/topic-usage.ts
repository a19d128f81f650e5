// Which topics clients use through a route: the ones they produce to, fetch from or commit
// offsets for. A planned switch waits for exactly these to be replicated, and preflight checks
// them; topics a client only listed (sarama and kcat ask for all topics) are not in use, and
// internal topics of Kafka, MirrorMaker 2 and the gateway never are (Route.noteTopic).
//
// Every Produce request is read for its topic names, cut-through ones too, as their bytes pass:
// a topic missed here would be one whose last records a switch did not wait for. Fetch and
// OffsetCommit requests repeat the same topics over and over, so a connection reads at most one
// of each per second.

import type { FetchRequest } from '../../protocol/generated/messages/fetch-request.ts';
import type { OffsetCommitRequest } from '../../protocol/generated/messages/offset-commit-request.ts';
import type { TxnOffsetCommitRequest } from '../../protocol/generated/messages/txn-offset-commit-request.ts';
import { ApiKey, decodeRequest } from '../../protocol/index.ts';
import { ProduceTopicScanner, produceTopicNames } from '../../protocol/produce-scan.ts';
import type { FilterContext, ProxyFilter } from '../filter.ts';

const KEY = 'topic-usage';
const READ_EVERY_MS = 1_000;
/** A connection tells the route again that it uses a topic this often, so the topic's last-use
 *  time stays current and it does not age out while clients keep using it (Route.topicUsage). */
const RENOTE_EVERY_MS = 10_000;

interface State {
  /** Names this connection reported, with when. */
  noted: Map<string, number>;
  /** When a Fetch / an offset commit was last read. */
  fetchReadAt: number;
  commitReadAt: number;
  /** Reads the topic names of cut-through Produce requests; one per connection, reset per request. */
  scanner: ProduceTopicScanner | null;
  observe: ((piece: Uint8Array) => void) | null;
}

function stateOf(ctx: FilterContext): State {
  let s = ctx.state.get(KEY) as State | undefined;
  if (s === undefined) {
    s = { noted: new Map(), fetchReadAt: 0, commitReadAt: 0, scanner: null, observe: null };
    ctx.state.set(KEY, s);
  }
  return s;
}

function note(ctx: FilterContext, s: State, name: string | null): void {
  if (name === null || name === '') return;
  const now = Date.now();
  const last = s.noted.get(name);
  if (last !== undefined && now - last < RENOTE_EVERY_MS) return;
  if (last !== undefined || s.noted.size < 10_000) s.noted.set(name, now);
  ctx.route.noteTopic(name);
}

export class TopicUsageFilter implements ProxyFilter {
  readonly name = 'topic-usage';
  readonly requestApiKeys = [ApiKey.Produce, ApiKey.Fetch, ApiKey.OffsetCommit, ApiKey.TxnOffsetCommit] as const;

  cutThrough(ctx: FilterContext): (piece: Uint8Array) => void {
    const s = stateOf(ctx);
    if (s.scanner === null) {
      const scanner = new ProduceTopicScanner((name) => note(ctx, s, name));
      s.scanner = scanner;
      s.observe = (piece) => scanner.push(piece);
    } else {
      s.scanner.reset(); // a connection cuts through one request at a time
    }
    return s.observe!;
  }

  onRequest(ctx: FilterContext, frame: Buffer, apiKey: number, apiVersion: number): undefined {
    const s = stateOf(ctx);
    try {
      switch (apiKey) {
        case ApiKey.Produce:
          for (const name of produceTopicNames(frame) ?? []) note(ctx, s, name); // unreadable: the broker refuses it
          break;
        case ApiKey.Fetch: {
          if (apiVersion >= 13) break; // names topics by id (the gateway advertises up to v12)
          const now = Date.now();
          if (now - s.fetchReadAt < READ_EVERY_MS) break;
          s.fetchReadAt = now;
          for (const t of decodeRequest<FetchRequest>(frame).body.topics) note(ctx, s, t.topic);
          break;
        }
        case ApiKey.OffsetCommit:
        case ApiKey.TxnOffsetCommit: {
          const now = Date.now();
          if (now - s.commitReadAt < READ_EVERY_MS) break;
          s.commitReadAt = now;
          const body = decodeRequest<OffsetCommitRequest | TxnOffsetCommitRequest>(frame).body;
          for (const t of body.topics) note(ctx, s, t.name);
          break;
        }
      }
    } catch {
      // Unreadable: the broker answers it with an error, and it wrote nothing.
    }
    return undefined;
  }
}
