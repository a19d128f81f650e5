// The built-in filters every route runs, and the API versions the gateway can handle given them.
import { ApiKey, apiCodec } from '../../protocol/index.ts';
import { carriesTopicIds } from '../../protocol/topic-id-fields.ts';
import { FilterChain } from '../filter.ts';
import { ApiVersionsFilter, type GatewayApiSupport } from './api-versions.ts';
import { ADDRESS_CARRYING_RESPONSES, BrokerAddressFilter } from './broker-addresses.ts';
import { GroupMembersFilter } from './group-members.ts';
import { ProducerIdFilter } from './producer-ids.ts';
import { ProtectedTopicFilter } from './protected-topics.ts';
import { SaslV0Filter } from './sasl-v0.ts';
import { TopicIdFilter } from './topic-ids.ts';
import { TopicUsageFilter } from './topic-usage.ts';
import { IDENTITY_CARRYING_RESPONSES, VirtualIdentityFilter } from './virtual-identity.ts';

/** For each api key the gateway decodes responses of: the first version it decodes. */
function decodedFrom(apiKey: number): number | undefined {
  if (apiKey === ApiKey.ApiVersions || apiKey === ApiKey.SaslHandshake || apiKey === ApiKey.JoinGroup || apiKey === ApiKey.SyncGroup) return 0;
  if (apiKey === ApiKey.InitProducerId || apiKey === ApiKey.ConsumerGroupHeartbeat || apiKey === ApiKey.ShareGroupHeartbeat)
    return apiCodec(apiKey)?.minVersion;
  const codec = apiCodec(apiKey);
  if (codec !== undefined) {
    // Responses that carry topic ids are decoded from the first version that has them.
    for (let v = codec.minVersion; v <= codec.maxVersion; v++) {
      if (!carriesTopicIds(apiKey, 'response', v)) continue;
      const a = ADDRESS_CARRYING_RESPONSES.get(apiKey);
      const b = IDENTITY_CARRYING_RESPONSES.get(apiKey);
      return Math.min(v, a ?? v, b ?? v);
    }
  }
  const a = ADDRESS_CARRYING_RESPONSES.get(apiKey);
  const b = IDENTITY_CARRYING_RESPONSES.get(apiKey);
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/**
 * Newest versions the gateway advertises for Fetch and Produce: v12, the last that names topics.
 * From v13 on they name topics by id, and topic ids differ between the clusters a route switches
 * between. The topic-id filter translates ids everywhere else (Metadata, offsets, KIP-848
 * heartbeats, share groups), and could here too; but then every Fetch response, the bulk of a
 * gateway's traffic, would have to be assembled and walked instead of cut through as opaque
 * bytes, for nothing a client gains (every client supports v12). Fetch v12 also spares the
 * gateway KIP-951 NodeEndpoints (v16+): leader hints are worth little behind stable gateway ports.
 */
export const VERSION_CAPS: ReadonlyMap<number, number> = new Map([
  [ApiKey.Fetch, 12],
  [ApiKey.Produce, 12],
]);

/**
 * Versions of an api key the gateway forwards correctly. Frames that cross opaque work in any
 * version the broker accepts, up to the newest the codec knows; frames the gateway decodes need
 * a version the codec reads.
 */
export function gatewayApiSupport(apiKey: number): GatewayApiSupport | null {
  const codec = apiCodec(apiKey);
  if (codec === undefined || !codec.listeners.includes('broker')) return null;
  const max = Math.min(codec.maxVersion, VERSION_CAPS.get(apiKey) ?? codec.maxVersion);
  const from = decodedFrom(apiKey);
  if (from === undefined || from > codec.minVersion) return { max };
  return { min: codec.minVersion, max };
}

export function builtInFilterChain(): FilterChain {
  return new FilterChain([
    // First: it refuses protected topics before any other filter acts on the request, and it sees
    // responses with the cluster's topic ids, before the topic-id filter turns them into the route's.
    new ProtectedTopicFilter(),
    new ApiVersionsFilter(gatewayApiSupport),
    new SaslV0Filter(),
    new BrokerAddressFilter(),
    new VirtualIdentityFilter(),
    new TopicIdFilter(),
    new GroupMembersFilter(),
    new ProducerIdFilter(),
    new TopicUsageFilter(),
  ]);
}
