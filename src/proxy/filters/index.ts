// The built-in filters every route runs, and the API versions the gateway can handle given them.
import { ApiKey, apiCodec } from '../../protocol/index.ts';
import { FilterChain } from '../filter.ts';
import { ApiVersionsFilter, type GatewayApiSupport } from './api-versions.ts';
import { ADDRESS_CARRYING_RESPONSES, BrokerAddressFilter } from './broker-addresses.ts';
import { SaslV0Filter } from './sasl-v0.ts';

/**
 * Versions of an api key the gateway forwards correctly. Frames that cross opaque work in any
 * version the broker accepts, up to the newest the codec knows; frames the gateway decodes need
 * a version the codec reads.
 */
export function gatewayApiSupport(apiKey: number): GatewayApiSupport | null {
  const codec = apiCodec(apiKey);
  if (codec === undefined || !codec.listeners.includes('broker')) return null;
  const decodedFrom = apiKey === ApiKey.ApiVersions || apiKey === ApiKey.SaslHandshake ? 0 : ADDRESS_CARRYING_RESPONSES.get(apiKey);
  if (decodedFrom === undefined || decodedFrom > codec.minVersion) return { max: codec.maxVersion };
  return { min: codec.minVersion, max: codec.maxVersion };
}

export function builtInFilterChain(): FilterChain {
  return new FilterChain([new ApiVersionsFilter(gatewayApiSupport), new SaslV0Filter(), new BrokerAddressFilter()]);
}
