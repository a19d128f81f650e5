// Topics clients on a route never see or touch (the rules and rewrites are in
// ../protected-topics.ts): the gateway's state topic is hidden from every listing and refused in
// every request, and MirrorMaker 2's offset syncs and checkpoints are refused in every write. The
// gateway itself reads and writes its state topic over its own connections (control/state-log.ts),
// which no filter sees.
//
// The data path stays cheap: a request is decoded only when its bytes contain the name (or the
// route's topic id) of a protected topic, or, for writes, ".internal"; Produce requests are read
// with the Produce scanner, which skips records. Responses are decoded only for the APIs whose
// answers can list topics or take refusals back, and never for Fetch: a Fetch with a refused topic
// is sent without it as the gateway's own request, and the answer, with the refusals added, goes
// to the client (Fetch is not fenced and no other filter reads it, so nothing else changes).
//
// A large Produce request is forwarded as its bytes arrive (cut through). Its start is read first:
// naming a protected topic there, it is assembled instead and refused like any other. A protected
// topic further on (a request for several topics, the first one's records past the start) is only
// known once part of the request went upstream. The broker acts on a request only once it has all
// of it, so the gateway never forwards the piece that names the topic and closes the connection:
// the broker drops the partial request, nothing is written, and the client, seeing the connection
// close, sends the request again; this client's large Produce requests are then assembled for a
// while, so the retry is answered TOPIC_AUTHORIZATION_FAILED for that topic and written for the others.

import { apiName } from '../../observability/metrics.ts';
import type { DescribeTopicPartitionsResponse } from '../../protocol/generated/messages/describe-topic-partitions-response.ts';
import type { FetchRequest } from '../../protocol/generated/messages/fetch-request.ts';
import type { FetchResponse } from '../../protocol/generated/messages/fetch-response.ts';
import type { ProduceRequest } from '../../protocol/generated/messages/produce-request.ts';
import { ApiKey, apiCodec, CodecError, CodecErrorCode, type DecodedResponse, decodeRequest, encodeRequest, encodeResponse } from '../../protocol/index.ts';
import { ProduceTopicScanner, produceTopicNames } from '../../protocol/produce-scan.ts';
import type { Route } from '../../routing/route.ts';
import { routeTopicId } from '../../routing/topic-ids.ts';
import type { FilterContext, ProxyFilter, RequestAction } from '../filter.ts';
import {
  type Access,
  hideTopics,
  LISTING_RESPONSES,
  REQUEST_RULES,
  type Refusal,
  refusedResponse,
  refuseTopics,
  type TopicGuard,
  topicGuard,
} from '../protected-topics.ts';

const KEY = 'protected-topics';
/** Refusals are logged once when they start and then summed up at most this often, per route. */
const REPORT_EVERY_MS = 60_000;
/** After a cut-through Produce was stopped, that client's large Produce requests are assembled this long. */
const ASSEMBLE_FOR_MS = 10 * 60_000;
const MAX_ASSEMBLED_CLIENTS = 10_000;
/** Refusals waiting for their answers, per connection (more means answers went missing). */
const MAX_PENDING = 1_000;
const MAX_REPORTED = 20;
/** Requests refused whole, never sent: their answers need no decoding. */
const NEVER_FORWARDED: ReadonlySet<number> = new Set([ApiKey.ConsumerGroupHeartbeat, ApiKey.ShareGroupHeartbeat, ApiKey.StreamsGroupHeartbeat]);
const INTERNAL_SUFFIX = Buffer.from('.internal');

/** What is protected on one route, with the bytes that betray a frame naming it. */
interface RouteGuard {
  readonly guard: TopicGuard;
  /** How many gateway topics it was made for (Route.gatewayTopics is filled at start). */
  readonly size: number;
  readonly hasHidden: boolean;
  /** Names (UTF-8) and route topic ids (16 bytes) of the hidden topics; for writes also ".internal". */
  readonly read: readonly Buffer[];
  readonly write: readonly Buffer[];
}

interface State {
  /** Refusals to merge into the answers of forwarded requests, by correlation id. */
  pending: Map<number, { apiKey: number; refusal: Refusal }>;
  /** Answers to Fetch requests the gateway sent without their refused topics (an Error: it failed). */
  fetchAnswers: Map<number, Buffer | Error>;
  /** DescribeTopicPartitions answers whose cursor pointed at a hidden topic: the next topic (null: none). */
  cursors: Map<number, string | null>;
  /** The last request counted (a deferred request comes through again). */
  countedKey: number;
  countedId: number;
  /** Reads the topics of cut-through Produce requests. */
  scanner: ProduceTopicScanner | null;
  observe: ((piece: Uint8Array) => boolean) | null;
  guard: TopicGuard | null;
  hit: string | null;
}

interface Report {
  total: number;
  closed: number;
  byApi: Map<string, number>;
  topics: Set<string>;
  clients: Set<string>;
  timer: NodeJS.Timeout | null;
}

function stateOf(ctx: FilterContext): State {
  let s = ctx.state.get(KEY) as State | undefined;
  if (s === undefined) {
    s = { pending: new Map(), fetchAnswers: new Map(), cursors: new Map(), countedKey: -1, countedId: 0, scanner: null, observe: null, guard: null, hit: null };
    ctx.state.set(KEY, s);
  }
  return s;
}

function readable(apiKey: number, apiVersion: number): boolean {
  const codec = apiCodec(apiKey);
  return codec !== undefined && apiVersion >= codec.minVersion && apiVersion <= codec.maxVersion;
}

export interface ProtectedTopicOptions {
  /** How often refusals are summed up in the log (default 60 s). */
  reportEveryMs?: number;
}

export class ProtectedTopicFilter implements ProxyFilter {
  readonly name = 'protected-topics';
  readonly requestApiKeys = [...REQUEST_RULES.keys()];
  private readonly guards = new WeakMap<Route, RouteGuard>();
  private readonly reports = new WeakMap<Route, Report>();
  private readonly reportEveryMs: number;
  /** "route\0client host" -> until when that client's large Produce requests are assembled. */
  private readonly assembled = new Map<string, number>();
  constructor(options: ProtectedTopicOptions = {}) {
    this.reportEveryMs = options.reportEveryMs ?? REPORT_EVERY_MS;
  }

  private guardOf(route: Route): RouteGuard {
    const known = this.guards.get(route);
    if (known !== undefined && known.size === route.gatewayTopics.size) return known;
    const hidden = new Set(route.gatewayTopics);
    const hiddenIds = new Map<string, string>();
    for (const name of hidden) hiddenIds.set(routeTopicId(route.name, name), name);
    const read = [...[...hidden].map((n) => Buffer.from(n, 'utf8')), ...[...hiddenIds.keys()].map((id) => Buffer.from(id, 'base64url'))];
    const g: RouteGuard = {
      guard: topicGuard(hidden, (id) => hiddenIds.get(id) ?? route.topicIds.nameOfRouteId(id)),
      size: hidden.size,
      hasHidden: hidden.size > 0,
      read,
      write: [...read, INTERNAL_SUFFIX],
    };
    this.guards.set(route, g);
    return g;
  }

  /** Whether a frame's bytes contain a protected topic's name or id (false positives only cost a decode). */
  private mayName(g: RouteGuard, frame: Buffer, access: Access): boolean {
    for (const p of access === 'write' ? g.write : g.read) if (frame.indexOf(p, 8) !== -1) return true;
    return false;
  }

  cutThrough(ctx: FilterContext, _apiKey: number, head?: Buffer): boolean | ((piece: Uint8Array) => boolean) {
    if (this.assembled.size > 0) {
      const key = `${ctx.route.name}\0${ctx.clientHost}`;
      const until = this.assembled.get(key);
      if (until !== undefined) {
        if (until > Date.now()) return false;
        this.assembled.delete(key);
      }
    }
    const s = stateOf(ctx);
    if (s.scanner === null) {
      const scanner = new ProduceTopicScanner((name) => {
        if (s.hit === null && s.guard!.isReadOnly(name)) s.hit = name;
      });
      s.scanner = scanner;
      s.observe = (piece) => {
        scanner.push(piece);
        if (s.hit === null) return true;
        this.stoppedMidRequest(ctx, s.hit);
        return false;
      };
    }
    s.guard = this.guardOf(ctx.route).guard;
    s.hit = null;
    if (head !== undefined) {
      // The start names a protected topic: the request is assembled, and refused properly.
      s.scanner.reset();
      s.scanner.push(head);
      const early = s.hit !== null;
      s.hit = null;
      if (early) return false;
    }
    s.scanner.reset(); // the observer is shown the request from its first byte
    return s.observe!;
  }

  private stoppedMidRequest(ctx: FilterContext, topic: string): void {
    if (this.assembled.size >= MAX_ASSEMBLED_CLIENTS) this.assembled.clear();
    this.assembled.set(`${ctx.route.name}\0${ctx.clientHost}`, Date.now() + ASSEMBLE_FOR_MS);
    ctx.route.metrics.refusedTopicRequest(ApiKey.Produce);
    this.report(ctx, ApiKey.Produce, [topic], true);
  }

  onRequest(ctx: FilterContext, frame: Buffer, apiKey: number, apiVersion: number): RequestAction | undefined {
    const rule = REQUEST_RULES.get(apiKey);
    if (rule === undefined) return undefined;
    const g = this.guardOf(ctx.route);
    if (rule.access === 'read' && !g.hasHidden) return undefined;
    if (apiKey === ApiKey.Produce) {
      if (!this.produceNamesReadOnly(g, frame)) return undefined;
    } else if (rule.precheck && !this.mayName(g, frame, rule.access)) {
      return undefined;
    }
    let decoded;
    try {
      if (!readable(apiKey, apiVersion))
        throw new CodecError(CodecErrorCode.UnsupportedVersion, `${apiName(apiKey)} v${apiVersion} is older than the gateway reads`);
      decoded = decodeRequest(frame);
    } catch (err) {
      // The broker might act on what the gateway cannot read: a request that may name a protected
      // topic closes the connection instead (as a broker does with a request it cannot read).
      if (!this.mayName(g, frame, rule.access)) return undefined;
      throw new CodecError(
        CodecErrorCode.UnsupportedVersion,
        `a ${apiName(apiKey)} v${apiVersion} request that may name a topic clients of the route may not ${rule.access === 'write' ? 'write' : 'see'} cannot be read (${(err as Error).message}); the connection closes`,
      );
    }
    const refusal = refuseTopics(apiKey, apiVersion, decoded.body, g.guard);
    if (refusal === null) return undefined;
    const correlationId = decoded.header.correlationId;
    this.count(ctx, apiKey, correlationId, refusal);
    if (refusal.forward === null) {
      return { respond: encodeResponse(apiKey, apiVersion, { correlationId, _unknownTaggedFields: undefined }, refusedResponse(apiKey, refusal)) };
    }
    const forward = encodeRequest(decoded.header, refusal.forward);
    if (apiKey === ApiKey.Produce && (decoded.body as ProduceRequest).acks === 0) return { replace: forward }; // no answer to merge into
    if (apiKey === ApiKey.Fetch) return this.fetchWithout(ctx, apiVersion, correlationId, refusal);
    const s = stateOf(ctx);
    if (s.pending.size >= MAX_PENDING) s.pending.delete(s.pending.keys().next().value!);
    s.pending.set(correlationId, { apiKey, refusal });
    return { replace: forward };
  }

  /** Whether an assembled Produce request names a topic clients may not write, read without decoding it. */
  private produceNamesReadOnly(g: RouteGuard, frame: Buffer): boolean {
    const names = produceTopicNames(frame); // read once for this and the topics-in-use filter
    if (names === null) return this.mayName(g, frame, 'write'); // malformed: decoded (and refused) only if it may name one
    for (const name of names) if (g.guard.isReadOnly(name)) return true;
    return false;
  }

  /**
   * A Fetch with refused topics: the rest is fetched as the gateway's own request on this
   * connection, and once its answer is here, the client's request comes through again and is
   * answered with it (the refusals added).
   */
  private fetchWithout(ctx: FilterContext, apiVersion: number, correlationId: number, refusal: Refusal): RequestAction {
    const s = stateOf(ctx);
    const answer = s.fetchAnswers.get(correlationId);
    if (answer !== undefined) {
      s.fetchAnswers.delete(correlationId);
      if (answer instanceof Error)
        throw new CodecError(CodecErrorCode.Internal, `the Fetch without its refused topics failed (${answer.message}); the connection closes`);
      return { respond: answer };
    }
    // The topic-usage filter does not see a request answered here: the topics still fetched are in use.
    for (const t of (refusal.forward as FetchRequest).topics) ctx.route.noteTopic(t.topic);
    const lookup = ctx.internalRequest<FetchResponse>(ApiKey.Fetch, apiVersion, refusal.forward!).then(
      (body) => {
        refusal.fill(body);
        s.fetchAnswers.set(correlationId, encodeResponse(ApiKey.Fetch, apiVersion, { correlationId, _unknownTaggedFields: undefined }, body));
      },
      (err: unknown) => {
        s.fetchAnswers.set(correlationId, err instanceof Error ? err : new Error(String(err)));
      },
    );
    return { defer: lookup };
  }

  wantsResponse(apiKey: number, apiVersion: number): boolean {
    if (!readable(apiKey, apiVersion)) return false;
    if (LISTING_RESPONSES.has(apiKey)) return true;
    if (!REQUEST_RULES.has(apiKey) || apiKey === ApiKey.Fetch || NEVER_FORWARDED.has(apiKey)) return false;
    return !(apiKey === ApiKey.AddPartitionsToTxn && apiVersion <= 3); // refused whole up to v3
  }

  /**
   * Listings are always read (a hidden topic may be in any of them); answers that only take
   * refusals back are read only for requests that had some, so that the answers of a busy API
   * (Produce) stay opaque.
   */
  needsResponse(ctx: FilterContext, apiKey: number, correlationId: number): boolean {
    if (LISTING_RESPONSES.has(apiKey)) return true;
    const s = ctx.state.get(KEY) as State | undefined;
    return s !== undefined && s.pending.size > 0 && s.pending.has(correlationId);
  }

  prepareResponse(ctx: FilterContext, apiKey: number, _apiVersion: number, response: DecodedResponse): Promise<unknown> | undefined {
    if (apiKey !== ApiKey.DescribeTopicPartitions) return undefined;
    const cursor = (response.body as DescribeTopicPartitionsResponse).nextCursor;
    const g = this.guardOf(ctx.route);
    if (cursor === null || !g.guard.isHidden(cursor.topicName)) return undefined;
    // The next page would start at a hidden topic: it starts at the topic after it instead.
    const s = stateOf(ctx);
    const correlationId = response.header.correlationId;
    return this.topicAfter(ctx, g.guard, cursor.topicName).then(
      (next) => s.cursors.set(correlationId, next),
      () => s.cursors.set(correlationId, null),
    );
  }

  /** The first topic of the cluster after `name` that is not hidden, or null. */
  private async topicAfter(ctx: FilterContext, guard: TopicGuard, name: string): Promise<string | null> {
    for (let after = name, i = 0; i < 100; i++) {
      // Topics are listed in name order from the cursor on; no name comes between `after` and this one.
      const page = await ctx.internalRequest<DescribeTopicPartitionsResponse>(ApiKey.DescribeTopicPartitions, 0, {
        topics: [],
        responsePartitionLimit: 1,
        cursor: { topicName: `${after}\u0000`, partitionIndex: 0 },
      });
      const next = page.topics[0]?.name;
      if (next === undefined || next === null) return null;
      if (!guard.isHidden(next)) return next;
      after = next;
    }
    return null;
  }

  onResponse(ctx: FilterContext, apiKey: number, apiVersion: number, response: DecodedResponse): boolean {
    const g = this.guardOf(ctx.route);
    let changed = false;
    if (g.hasHidden && LISTING_RESPONSES.has(apiKey)) {
      changed = hideTopics(apiKey, apiVersion, response.body, g.guard.isHidden, (id) => ctx.route.topicIds.nameOfClusterId(ctx.domain, id));
    }
    const s = ctx.state.get(KEY) as State | undefined;
    if (s === undefined) return changed;
    const correlationId = response.header.correlationId;
    const pending = s.pending.size === 0 ? undefined : s.pending.get(correlationId);
    if (pending !== undefined && pending.apiKey === apiKey) {
      s.pending.delete(correlationId);
      pending.refusal.fill(response.body);
      changed = true;
    }
    if (apiKey === ApiKey.DescribeTopicPartitions && s.cursors.has(correlationId)) {
      const next = s.cursors.get(correlationId)!;
      s.cursors.delete(correlationId);
      (response.body as DescribeTopicPartitionsResponse).nextCursor =
        next === null ? null : { topicName: next, partitionIndex: 0, _unknownTaggedFields: undefined };
      changed = true;
    }
    return changed;
  }

  /** Counts a refused request once (a deferred one comes through the filters again). */
  private count(ctx: FilterContext, apiKey: number, correlationId: number, refusal: Refusal): void {
    const s = stateOf(ctx);
    if (s.countedKey === apiKey && s.countedId === correlationId) return;
    s.countedKey = apiKey;
    s.countedId = correlationId;
    ctx.route.metrics.refusedTopicRequest(apiKey);
    this.report(ctx, apiKey, refusal.topics, false);
  }

  /** Logs the first refusal on a route at once, then a sum at most every reportEveryMs. */
  private report(ctx: FilterContext, apiKey: number, topics: readonly string[], closed: boolean): void {
    const route = ctx.route;
    let r = this.reports.get(route);
    if (r === undefined) {
      r = { total: 0, closed: 0, byApi: new Map(), topics: new Set(), clients: new Set(), timer: null };
      this.reports.set(route, r);
    }
    if (r.timer === null) {
      route.log.warn(
        { api: apiName(apiKey), topics, client: ctx.clientHost, connectionClosed: closed || undefined, nextSummaryInSeconds: this.reportEveryMs / 1000 },
        'refused a request naming topics clients of this route may not see or write (answered TOPIC_AUTHORIZATION_FAILED); further refusals are summed up',
      );
      r.timer = this.scheduleReport(route, r);
      return;
    }
    r.total++;
    if (closed) r.closed++;
    const api = apiName(apiKey);
    r.byApi.set(api, (r.byApi.get(api) ?? 0) + 1);
    for (const t of topics) if (r.topics.size < MAX_REPORTED) r.topics.add(t);
    if (r.clients.size < MAX_REPORTED) r.clients.add(ctx.clientHost);
  }

  private scheduleReport(route: Route, r: Report): NodeJS.Timeout {
    const timer = setTimeout(() => {
      if (r.total === 0) {
        r.timer = null; // quiet: the next refusal is logged at once again
        return;
      }
      route.log.warn(
        {
          refused: r.total,
          connectionsClosed: r.closed || undefined,
          byApi: Object.fromEntries(r.byApi),
          topics: [...r.topics],
          clients: [...r.clients],
          seconds: this.reportEveryMs / 1000,
        },
        `refused ${r.total} requests naming topics clients of this route may not see or write`,
      );
      r.total = 0;
      r.closed = 0;
      r.byApi.clear();
      r.topics.clear();
      r.clients.clear();
      r.timer = this.scheduleReport(route, r);
    }, this.reportEveryMs);
    timer.unref();
    return timer;
  }
}
