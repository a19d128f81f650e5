// The built-in filters every route runs, and the API versions the gateway can handle given them.
import { ApiKey, apiCodec } from '../../protocol/index.ts';
import { FilterChain } from '../filter.ts';
import { ApiVersionsFilter, type GatewayApiSupport } from './api-versions.ts';
import { ADDRESS_CARRYING_RESPONSES, BrokerAddressFilter } from './broker-addresses.ts';
import { SaslV0Filter } from './sasl-v0.ts';
import { IDENTITY_CARRYING_RESPONSES, VirtualIdentityFilter } from './virtual-identity.ts';

/** For each api key the gateway decodes responses of: the first version it decodes. */
function decodedFrom(apiKey: number): number | undefined {
  if (apiKey === ApiKey.ApiVersions || apiKey === ApiKey.SaslHandshake) return 0;
  const a = ADDRESS_CARRYING_RESPONSES.get(apiKey);
  const b = IDENTITY_CARRYING_RESPONSES.get(apiKey);
  return a === undefined ? b : b === undefined ? a : Math.min(a, b);
}

/**
 * Versions of an api key the gateway forwards correctly. Frames that cross opaque work in any
 * version the broker accepts, up to the newest the codec knows; frames the gateway decodes need
 * a version the codec reads.
 */
export function gatewayApiSupport(apiKey: number): GatewayApiSupport | null {
  const codec = apiCodec(apiKey);
  if (codec === undefined || !codec.listeners.includes('broker')) return null;
  const from = decodedFrom(apiKey);
  if (from === undefined || from > codec.minVersion) return { max: codec.maxVersion };
  return { min: codec.minVersion, max: codec.maxVersion };
}

export function builtInFilterChain(): FilterChain {
  return new FilterChain([new ApiVersionsFilter(gatewayApiSupport), new SaslV0Filter(), new BrokerAddressFilter(), new VirtualIdentityFilter()]);
}
