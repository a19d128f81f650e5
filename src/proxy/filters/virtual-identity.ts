// One cluster per route, whichever cluster the route points at: clients see the route's own
// cluster id, and no leader epochs. Epochs of two clusters are unrelated: a client that compared
// the destination's epochs with the source's would ignore the destination's leaders (Java and
// librdkafka drop partition metadata whose epoch is older than one already seen) or take its
// own position for truncated. With no epoch in metadata, clients neither compare nor validate
// positions against epochs; everything else that carries an epoch (record batches, committed
// offsets, OffsetForLeaderEpoch) comes from the cluster the client is talking to and stays
// consistent with it. The price is KIP-320 truncation detection through the gateway.

import type { DescribeClusterResponse } from '../../protocol/generated/messages/describe-cluster-response.ts';
import type { DescribeTopicPartitionsResponse } from '../../protocol/generated/messages/describe-topic-partitions-response.ts';
import type { MetadataResponse } from '../../protocol/generated/messages/metadata-response.ts';
import { ApiKey, type DecodedResponse } from '../../protocol/index.ts';
import type { FilterContext, ProxyFilter } from '../filter.ts';

/** For each api key: the first version whose response carries a cluster id or a leader epoch in metadata. */
export const IDENTITY_CARRYING_RESPONSES: ReadonlyMap<number, number> = new Map([
  [ApiKey.Metadata, 2],
  [ApiKey.DescribeCluster, 0],
  [ApiKey.DescribeTopicPartitions, 0],
]);

export class VirtualIdentityFilter implements ProxyFilter {
  readonly name = 'virtual-identity';

  wantsResponse(apiKey: number, apiVersion: number): boolean {
    const from = IDENTITY_CARRYING_RESPONSES.get(apiKey);
    return from !== undefined && apiVersion >= from;
  }

  onResponse(ctx: FilterContext, apiKey: number, _apiVersion: number, response: DecodedResponse): boolean {
    const clusterId = ctx.route.config.clusterId;
    switch (apiKey) {
      case ApiKey.Metadata: {
        const md = response.body as MetadataResponse;
        let changed = false;
        if (md.clusterId !== null && md.clusterId !== clusterId) {
          md.clusterId = clusterId;
          changed = true;
        }
        for (const t of md.topics) {
          for (const p of t.partitions) {
            if (p.leaderEpoch === -1) continue;
            p.leaderEpoch = -1;
            changed = true;
          }
        }
        return changed;
      }
      case ApiKey.DescribeCluster: {
        const dc = response.body as DescribeClusterResponse;
        if (dc.clusterId === clusterId) return false;
        dc.clusterId = clusterId;
        return true;
      }
      case ApiKey.DescribeTopicPartitions: {
        let changed = false;
        for (const t of (response.body as DescribeTopicPartitionsResponse).topics) {
          for (const p of t.partitions) {
            if (p.leaderEpoch === -1) continue;
            p.leaderEpoch = -1;
            changed = true;
          }
        }
        return changed;
      }
      default:
        return false;
    }
  }
}
