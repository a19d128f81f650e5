// Topic ids as the route's (routing/topic-ids.ts): in every request and response field that
// carries one (protocol/topic-id-fields.ts finds them in the message definitions), ids go to the
// cluster as that cluster's own and come back as the route's. Responses that name the topic next
// to its id teach the gateway the cluster's ids; an id it cannot place makes the request wait for
// a listing of the cluster's topics (at most every few seconds).

import type { ConsumerGroupHeartbeatRequest } from '../../protocol/generated/messages/consumer-group-heartbeat-request.ts';
import type { MetadataResponse } from '../../protocol/generated/messages/metadata-response.ts';
import { ApiKey, apiCodec, type DecodedResponse, decodeRequest, encodeRequest } from '../../protocol/index.ts';
import { apiKeysCarryingTopicIds, carriesTopicIds, forEachTopicId, type TopicIdHolder } from '../../protocol/topic-id-fields.ts';
import type { FilterContext, ProxyFilter, RequestAction } from '../filter.ts';

/** Requests whose answers name topics by id only: the cluster's ids should be known before they go. */
const ANSWERED_BY_ID: ReadonlySet<number> = new Set([
  ApiKey.ConsumerGroupHeartbeat,
  ApiKey.OffsetCommit,
  ApiKey.OffsetFetch,
  ApiKey.ShareFetch,
  ApiKey.ShareAcknowledge,
]);

const forBrokers = (keys: number[]): number[] => keys.filter((k) => apiCodec(k)?.listeners.includes('broker') === true);

/** Lists every topic of the connection's cluster with its id (Metadata v12, all topics). */
async function listTopics(ctx: FilterContext): Promise<{ name: string; id: string }[]> {
  const md = await ctx.internalRequest<MetadataResponse>(ApiKey.Metadata, 12, {
    topics: null,
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  const out: { name: string; id: string }[] = [];
  for (const t of md.topics) if (t.errorCode === 0 && t.name !== null) out.push({ name: t.name, id: t.topicId });
  return out;
}

function nameIn(h: TopicIdHolder): string | null {
  if (h.nameProp === null) return null;
  const n = h.holder[h.nameProp];
  return typeof n === 'string' && n !== '' ? n : null;
}

export class TopicIdFilter implements ProxyFilter {
  readonly name = 'topic-ids';
  /** Not Produce and Fetch: advertised only up to v12, which name topics (see VERSION_CAPS). */
  readonly requestApiKeys = forBrokers(apiKeysCarryingTopicIds('request')).filter((k) => k !== ApiKey.Produce && k !== ApiKey.Fetch);

  onRequest(ctx: FilterContext, frame: Buffer, apiKey: number, apiVersion: number): RequestAction | undefined {
    if (!carriesTopicIds(apiKey, 'request', apiVersion)) return undefined;
    let decoded;
    try {
      decoded = decodeRequest(frame);
    } catch {
      return undefined; // the broker answers it with an error
    }
    const ids = ctx.route.topicIds;
    const domain = ctx.domain;
    const holders: TopicIdHolder[] = [];
    forEachTopicId(apiKey, 'request', apiVersion, decoded.body, (h) => holders.push(h));
    let missing = false;
    for (const h of holders) {
      const routeId = h.holder[h.idProp] as string;
      const name = nameIn(h) ?? ids.nameOfRouteId(routeId);
      if (name === undefined || ids.clusterId(domain, name) === undefined) missing = true;
    }
    // Answers naming topics only by id must find the cluster's ids known (a KIP-848 assignment).
    if (!missing && ANSWERED_BY_ID.has(apiKey) && !ids.loaded(domain)) missing = true;
    if (!missing && apiKey === ApiKey.ConsumerGroupHeartbeat) {
      const subscribed = (decoded.body as ConsumerGroupHeartbeatRequest).subscribedTopicNames ?? [];
      if (subscribed.some((n) => ids.clusterId(domain, n) === undefined)) missing = true;
    }
    if (missing && ids.mayReload(domain)) return { defer: ids.reload(domain, () => listTopics(ctx)) };
    if (holders.length === 0) return undefined;
    let changed = false;
    for (const h of holders) {
      const routeId = h.holder[h.idProp] as string;
      const name = nameIn(h) ?? ids.nameOfRouteId(routeId);
      const clusterId = name === undefined ? undefined : ids.clusterId(domain, name);
      // Unknown: sent as it is, and the cluster answers UNKNOWN_TOPIC_ID as it would for any stranger.
      if (clusterId === undefined || clusterId === routeId) continue;
      h.holder[h.idProp] = clusterId;
      changed = true;
    }
    return changed ? { replace: encodeRequest(decoded.header, decoded.body) } : undefined;
  }

  wantsResponse(apiKey: number, apiVersion: number): boolean {
    return apiKey !== ApiKey.Produce && apiKey !== ApiKey.Fetch && carriesTopicIds(apiKey, 'response', apiVersion);
  }

  prepareResponse(ctx: FilterContext, apiKey: number, apiVersion: number, response: DecodedResponse): Promise<unknown> | undefined {
    const ids = ctx.route.topicIds;
    const domain = ctx.domain;
    let unknown = false;
    forEachTopicId(apiKey, 'response', apiVersion, response.body, (h) => {
      if (nameIn(h) === null && ids.nameOfClusterId(domain, h.holder[h.idProp] as string) === undefined) unknown = true;
    });
    // Created since the last listing (a KIP-848 assignment of a topic no answer here has named yet).
    return unknown && ids.mayReload(domain) ? ids.reload(domain, () => listTopics(ctx)) : undefined;
  }

  onResponse(ctx: FilterContext, apiKey: number, apiVersion: number, response: DecodedResponse): boolean {
    const ids = ctx.route.topicIds;
    const domain = ctx.domain;
    let changed = false;
    let unknown = false;
    forEachTopicId(apiKey, 'response', apiVersion, response.body, (h) => {
      const clusterId = h.holder[h.idProp] as string;
      const named = nameIn(h);
      if (named !== null) ids.learn(domain, named, clusterId);
      const name = named ?? ids.nameOfClusterId(domain, clusterId);
      if (name === undefined) {
        unknown = true;
        return;
      }
      const routeId = ids.routeId(name);
      if (routeId === clusterId) return;
      h.holder[h.idProp] = routeId;
      changed = true;
    });
    // Even the cluster's topic list does not have it (deleted meanwhile): passed on as it is.
    if (unknown) ctx.log.debug({ apiKey }, 'a response names a topic id the cluster does not list; it is passed on as it is');
    return changed;
  }
}
