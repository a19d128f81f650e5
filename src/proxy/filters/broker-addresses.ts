// Broker address rewriting: every broker host:port in a response becomes the gateway address
// that serves that broker, so clients never learn (or try to reach) an upstream address.
// Along the way the upstream addresses are recorded, which is how a gateway port learns which
// broker it fronts. The set of APIs here is checked against the protocol definitions by a test:
// a Kafka release that adds an address to another response fails it.

import type { DescribeClusterResponse } from '../../protocol/generated/messages/describe-cluster-response.ts';
import type { DescribeQuorumResponse } from '../../protocol/generated/messages/describe-quorum-response.ts';
import type { FindCoordinatorResponse } from '../../protocol/generated/messages/find-coordinator-response.ts';
import type { MetadataResponse } from '../../protocol/generated/messages/metadata-response.ts';
import { ApiKey, type DecodedResponse } from '../../protocol/index.ts';
import type { FilterContext, ProxyFilter } from '../filter.ts';

interface NodeAddress {
  nodeId: number;
  host: string;
  port: number;
}

/** For each api key: the first version whose response can carry a broker address. */
export const ADDRESS_CARRYING_RESPONSES: ReadonlyMap<number, number> = new Map([
  [ApiKey.Metadata, 0],
  [ApiKey.FindCoordinator, 0],
  [ApiKey.DescribeCluster, 0],
  [ApiKey.Produce, 10], // KIP-951 NodeEndpoints
  [ApiKey.Fetch, 16], // KIP-951 NodeEndpoints
  [ApiKey.ShareFetch, 0],
  [ApiKey.ShareAcknowledge, 0],
  [ApiKey.DescribeQuorum, 2], // controller endpoints
]);

export class BrokerAddressFilter implements ProxyFilter {
  readonly name = 'broker-addresses';

  wantsResponse(apiKey: number, apiVersion: number): boolean {
    const from = ADDRESS_CARRYING_RESPONSES.get(apiKey);
    return from !== undefined && apiVersion >= from;
  }

  onResponse(ctx: FilterContext, apiKey: number, apiVersion: number, response: DecodedResponse): boolean {
    const body = response.body;
    switch (apiKey) {
      case ApiKey.Metadata:
        return this.nodes(ctx, (body as MetadataResponse).brokers);
      case ApiKey.FindCoordinator: {
        const fc = body as FindCoordinatorResponse;
        // v0-3 answer for one key at the top level; v4+ in the coordinators list.
        let changed = apiVersion < 4 ? this.node(ctx, fc) : false;
        for (const c of fc.coordinators) changed = this.node(ctx, c) || changed;
        return changed;
      }
      case ApiKey.DescribeCluster: {
        let changed = false;
        for (const b of (body as DescribeClusterResponse).brokers) {
          const n = { nodeId: b.brokerId, host: b.host, port: b.port };
          if (this.node(ctx, n)) {
            b.host = n.host;
            b.port = n.port;
            changed = true;
          }
        }
        return changed;
      }
      case ApiKey.DescribeQuorum: {
        // Controllers are not reachable through the gateway: their addresses are masked (the
        // gateway host with port 0) unless the id is also a broker the gateway serves.
        let changed = false;
        for (const n of (body as DescribeQuorumResponse).nodes) {
          for (const l of n.listeners) {
            const known = ctx.route.knowsBroker(n.nodeId);
            const addr = ctx.route.gatewayAddress(n.nodeId);
            l.host = addr.host;
            l.port = known ? addr.port : 0;
            changed = true;
          }
        }
        return changed;
      }
      default:
        // Produce, Fetch, ShareFetch, ShareAcknowledge: the KIP-951 NodeEndpoints list.
        return this.nodes(ctx, (body as { nodeEndpoints?: NodeAddress[] }).nodeEndpoints ?? []);
    }
  }

  private nodes(ctx: FilterContext, list: NodeAddress[]): boolean {
    let changed = false;
    for (const n of list) changed = this.node(ctx, n) || changed;
    return changed;
  }

  /** Records the upstream address and replaces it by the gateway's; false for "no node" (-1). */
  private node(ctx: FilterContext, n: NodeAddress): boolean {
    if (n.nodeId < 0) return false;
    ctx.route.learnBroker(n.nodeId, n.host, n.port);
    const addr = ctx.route.gatewayAddress(n.nodeId);
    n.host = addr.host;
    n.port = addr.port;
    return true;
  }
}
