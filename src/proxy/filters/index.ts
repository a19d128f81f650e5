// The built-in filters every route runs, and the API versions the gateway can handle given them.
import { ApiKey, apiCodec } from '../../protocol/index.ts';
import { FilterChain } from '../filter.ts';
import { ApiVersionsFilter, type GatewayApiSupport } from './api-versions.ts';
import { ADDRESS_CARRYING_RESPONSES, BrokerAddressFilter } from './broker-addresses.ts';
import { GroupMembersFilter } from './group-members.ts';
import { SaslV0Filter } from './sasl-v0.ts';
import { IDENTITY_CARRYING_RESPONSES, VirtualIdentityFilter } from './virtual-identity.ts';

/** For each api key the gateway decodes responses of: the first version it decodes. */
function decodedFrom(apiKey: number): number | undefined {
  if (apiKey === ApiKey.ApiVersions || apiKey === ApiKey.SaslHandshake || apiKey === ApiKey.JoinGroup || apiKey === ApiKey.SyncGroup) return 0;
  const a = ADDRESS_CARRYING_RESPONSES.get(apiKey);
  const b = IDENTITY_CARRYING_RESPONSES.get(apiKey);
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/**
 * Newest versions the gateway advertises for APIs that address topics by id from the next version
 * on (Fetch v13, Produce v13). Topic ids differ between the clusters a route switches between: a
 * client holding the source's ids would get UNKNOWN_TOPIC_ID from the destination until it
 * refreshes metadata. With names, requests stay valid across a switch. Fetch v12 also spares the
 * gateway from decoding every Fetch response for KIP-951 NodeEndpoints (v16+): the leader hints
 * they carry are worth little behind stable gateway ports.
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
  return new FilterChain([new ApiVersionsFilter(gatewayApiSupport), new SaslV0Filter(), new BrokerAddressFilter(), new VirtualIdentityFilter(), new GroupMembersFilter()]);
}
