// Remembers which consumer group members joined through a connection (JoinGroup answered without
// error, or a KIP-848 ConsumerGroupHeartbeat; not left since), so that when a switch retires the
// connection the gateway can take them out of their groups on the old cluster instead of leaving
// them to time out there.
//
// KIP-848 members carry their member epoch from the old cluster to the new one, whose group
// coordinator has never heard of them: it answers GROUP_ID_NOT_FOUND (no such group yet) or
// UNKNOWN_MEMBER_ID. librdkafka treats the first as fatal and stops consuming. To a heartbeat of
// a member that was in a group (epoch above 0), both mean the same thing: this member is not in
// the group here. The filter answers it as UNKNOWN_MEMBER_ID, on which every client gives up its
// partitions and joins again with epoch 0, and then reads its positions from the offsets the
// switch installed. Until that join is answered, the member's fetches wait (as for classic groups).

import type { ConsumerGroupHeartbeatRequest } from '../../protocol/generated/messages/consumer-group-heartbeat-request.ts';
import type { ConsumerGroupHeartbeatResponse } from '../../protocol/generated/messages/consumer-group-heartbeat-response.ts';
import type { JoinGroupRequest } from '../../protocol/generated/messages/join-group-request.ts';
import type { JoinGroupResponse } from '../../protocol/generated/messages/join-group-response.ts';
import type { LeaveGroupRequest } from '../../protocol/generated/messages/leave-group-request.ts';
import type { ShareGroupHeartbeatRequest } from '../../protocol/generated/messages/share-group-heartbeat-request.ts';
import type { SyncGroupResponse } from '../../protocol/generated/messages/sync-group-response.ts';
import { ApiKey, type DecodedResponse, decodeRequest, KafkaErrorCode, peekRequestClientId } from '../../protocol/index.ts';
import type { FilterContext, ProxyFilter } from '../filter.ts';

export interface GroupMember {
  /** classic: JoinGroup/SyncGroup; consumer: KIP-848 ConsumerGroupHeartbeat; share: KIP-932 ShareGroupHeartbeat. */
  protocol: 'classic' | 'consumer' | 'share';
  memberId: string;
  groupInstanceId: string | null;
  /** The client id the member joined with. */
  clientId: string;
}

interface State {
  /** JoinGroup requests waiting for their answers, in order. */
  pending: { groupId: string; groupInstanceId: string | null; clientId: string }[];
  /** SyncGroup requests waiting for their answers: the client ids. */
  syncs: string[];
  /** ConsumerGroupHeartbeat requests waiting for their answers, in order. */
  heartbeats: Heartbeat[];
  /** ShareGroupHeartbeat requests waiting for their answers, in order. */
  shareHeartbeats: Heartbeat[];
  members: Map<string, GroupMember>;
}

const KEY = 'group-members';

/** How a client is recognised across its connections: its host and its client id. */
export const rejoinKey = (clientHost: string, clientId: string): string => `${clientHost}|${clientId}`;

/** The members that joined through this connection, by group id (null: none ever joined). */
export function groupMembers(ctx: FilterContext): Map<string, GroupMember> | null {
  return (ctx.state.get(KEY) as State | undefined)?.members ?? null;
}

function stateOf(ctx: FilterContext): State {
  let s = ctx.state.get(KEY) as State | undefined;
  if (s === undefined) {
    s = { pending: [], syncs: [], heartbeats: [], shareHeartbeats: [], members: new Map() };
    ctx.state.set(KEY, s);
  }
  return s;
}

export class GroupMembersFilter implements ProxyFilter {
  readonly name = 'group-members';
  readonly requestApiKeys = [ApiKey.JoinGroup, ApiKey.LeaveGroup, ApiKey.SyncGroup, ApiKey.ConsumerGroupHeartbeat, ApiKey.ShareGroupHeartbeat] as const;

  onRequest(ctx: FilterContext, frame: Buffer, apiKey: number): undefined {
    if (apiKey === ApiKey.SyncGroup) {
      stateOf(ctx).syncs.push(peekRequestClientId(frame));
      return undefined;
    }
    if (apiKey === ApiKey.ConsumerGroupHeartbeat || apiKey === ApiKey.ShareGroupHeartbeat) {
      const queue = apiKey === ApiKey.ConsumerGroupHeartbeat ? stateOf(ctx).heartbeats : stateOf(ctx).shareHeartbeats;
      try {
        const d = decodeRequest<ConsumerGroupHeartbeatRequest | ShareGroupHeartbeatRequest>(frame);
        const b = d.body;
        const instanceId = 'instanceId' in b ? b.instanceId : null;
        queue.push({ groupId: b.groupId, memberId: b.memberId, memberEpoch: b.memberEpoch, instanceId, clientId: d.header.clientId ?? '' });
      } catch {
        queue.push({ groupId: '', memberId: '', memberEpoch: 0, instanceId: null, clientId: '' });
      }
      return undefined;
    }
    try {
      if (apiKey === ApiKey.JoinGroup) {
        const d = decodeRequest<JoinGroupRequest>(frame);
        stateOf(ctx).pending.push({ groupId: d.body.groupId, groupInstanceId: d.body.groupInstanceId ?? null, clientId: d.header.clientId ?? '' });
      } else {
        const r = decodeRequest<LeaveGroupRequest>(frame).body;
        stateOf(ctx).members.delete(r.groupId);
      }
    } catch {
      // Unreadable here means unreadable for the broker too: it answers with an error.
      if (apiKey === ApiKey.JoinGroup) stateOf(ctx).pending.push({ groupId: '', groupInstanceId: null, clientId: '' });
    }
    return undefined;
  }

  wantsResponse(apiKey: number): boolean {
    return apiKey === ApiKey.JoinGroup || apiKey === ApiKey.SyncGroup || apiKey === ApiKey.ConsumerGroupHeartbeat || apiKey === ApiKey.ShareGroupHeartbeat;
  }

  onResponse(ctx: FilterContext, apiKey: number, _apiVersion: number, response: DecodedResponse): boolean {
    const s = stateOf(ctx);
    if (apiKey === ApiKey.ConsumerGroupHeartbeat) return onHeartbeatResponse(ctx, s, s.heartbeats.shift(), 'consumer', response.body as HeartbeatResponse);
    if (apiKey === ApiKey.ShareGroupHeartbeat) return onHeartbeatResponse(ctx, s, s.shareHeartbeats.shift(), 'share', response.body as HeartbeatResponse);
    if (apiKey === ApiKey.SyncGroup) {
      const clientId = s.syncs.shift();
      if (clientId !== undefined && (response.body as SyncGroupResponse).errorCode === 0) ctx.route.rejoined(rejoinKey(ctx.clientHost, clientId));
      return false;
    }
    const req = s.pending.shift();
    const res = response.body as JoinGroupResponse;
    if (req !== undefined && req.groupId !== '' && res.errorCode === 0 && res.memberId !== '') {
      s.members.set(req.groupId, { protocol: 'classic', memberId: res.memberId, groupInstanceId: req.groupInstanceId, clientId: req.clientId });
    }
    return false;
  }
}

const { GROUP_ID_NOT_FOUND, UNKNOWN_MEMBER_ID } = KafkaErrorCode;

interface Heartbeat {
  groupId: string;
  memberId: string;
  memberEpoch: number;
  instanceId: string | null;
  clientId: string;
}

/** What KIP-848 and KIP-932 heartbeat answers have in common. */
type HeartbeatResponse = Pick<ConsumerGroupHeartbeatResponse, 'errorCode' | 'errorMessage' | 'memberId' | 'memberEpoch'>;

function onHeartbeatResponse(ctx: FilterContext, s: State, req: Heartbeat | undefined, protocol: 'consumer' | 'share', res: HeartbeatResponse): boolean {
  if (req === undefined || req.groupId === '') return false;
  if (res.errorCode === GROUP_ID_NOT_FOUND && req.memberEpoch > 0) {
    res.errorCode = UNKNOWN_MEMBER_ID;
    res.errorMessage = `member ${req.memberId} is not in group ${req.groupId} on this cluster (the route may have switched); join again`;
    s.members.delete(req.groupId);
    return true;
  }
  if (res.errorCode !== 0) {
    if (res.errorCode === UNKNOWN_MEMBER_ID) s.members.delete(req.groupId);
    return false;
  }
  if (req.memberEpoch < 0) {
    s.members.delete(req.groupId); // left (-1) or a static member stepping out (-2)
    return false;
  }
  const known = s.members.get(req.groupId);
  s.members.set(req.groupId, {
    protocol,
    memberId: res.memberId ?? req.memberId,
    groupInstanceId: req.instanceId ?? known?.groupInstanceId ?? null,
    clientId: req.clientId,
  });
  // Joined (epoch 0) and answered: its positions now come from this cluster's offsets.
  if (req.memberEpoch === 0) ctx.route.rejoined(rejoinKey(ctx.clientHost, req.clientId));
  return false;
}
