// ApiVersions: the gateway advertises only what both it and the upstream broker can handle.
// For APIs whose responses the gateway rewrites, that is the codec's version range; other APIs
// cross as opaque bytes, so older versions the broker still accepts stay available (Kafka 4
// brokers keep advertising Produce v0-2 for old librdkafka, which refuses brokers without them).
// Nothing above the codec's newest version is advertised: a newer version might carry broker
// addresses the gateway would not know to rewrite.

import type { ApiVersionsResponse, ApiVersionsResponseApiVersion } from '../../protocol/generated/messages/api-versions-response.ts';
import { ApiKey, apiCodec, type DecodedResponse, encodeResponse, KafkaErrorCode } from '../../protocol/index.ts';
import type { FilterContext, ProxyFilter, RequestAction } from '../filter.ts';

export interface GatewayApiSupport {
  /** Lowest version the gateway forwards (undefined: whatever the broker accepts). */
  min?: number;
  max: number;
}

export class ApiVersionsFilter implements ProxyFilter {
  readonly name = 'api-versions';
  readonly requestApiKeys = [ApiKey.ApiVersions];
  private readonly support: (apiKey: number) => GatewayApiSupport | null;

  /** `support` says which versions of an api key the gateway handles (null: not at all). */
  constructor(support: (apiKey: number) => GatewayApiSupport | null) {
    this.support = support;
  }

  onRequest(_ctx: FilterContext, frame: Buffer, _apiKey: number, apiVersion: number): RequestAction | undefined {
    const max = apiCodec(ApiKey.ApiVersions)!.maxVersion;
    if (apiVersion <= max) return undefined;
    // Answer like a broker does: v0 body, UNSUPPORTED_VERSION, and the ApiVersions range we read,
    // so the client retries with a version we can decode.
    const correlationId = frame.readInt32BE(8);
    const body: ApiVersionsResponse = {
      errorCode: KafkaErrorCode.UNSUPPORTED_VERSION,
      apiKeys: [{ apiKey: ApiKey.ApiVersions, minVersion: 0, maxVersion: max }],
      throttleTimeMs: 0,
      supportedFeatures: [],
      finalizedFeaturesEpoch: -1n,
      finalizedFeatures: [],
      zkMigrationReady: false,
    };
    return { respond: encodeResponse(ApiKey.ApiVersions, 0, { correlationId }, body) };
  }

  wantsResponse(apiKey: number): boolean {
    return apiKey === ApiKey.ApiVersions;
  }

  onResponse(_ctx: FilterContext, _apiKey: number, _apiVersion: number, response: DecodedResponse): boolean {
    const body = response.body as ApiVersionsResponse;
    body.apiKeys = intersect(body.apiKeys, this.support);
    return true;
  }
}

export function intersect(broker: ApiVersionsResponseApiVersion[], support: (apiKey: number) => GatewayApiSupport | null): ApiVersionsResponseApiVersion[] {
  const out: ApiVersionsResponseApiVersion[] = [];
  for (const k of broker) {
    const s = support(k.apiKey);
    if (s === null) continue;
    const min = Math.max(k.minVersion, s.min ?? k.minVersion);
    const max = Math.min(k.maxVersion, s.max);
    if (min > max) continue;
    out.push({ ...k, minVersion: min, maxVersion: max });
  }
  return out;
}
