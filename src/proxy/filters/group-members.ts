// Remembers which consumer group members joined through a connection (JoinGroup answered without
// error, not left since), so that when a switch retires the connection the gateway can take them
// out of their groups on the old cluster instead of leaving them to time out there.
import { ApiKey, decodeRequest, peekRequestClientId, type DecodedResponse } from '../../protocol/index.ts';
import type { SyncGroupResponse } from '../../protocol/generated/messages/sync-group-response.ts';
import type { JoinGroupRequest } from '../../protocol/generated/messages/join-group-request.ts';
import type { JoinGroupResponse } from '../../protocol/generated/messages/join-group-response.ts';
import type { LeaveGroupRequest } from '../../protocol/generated/messages/leave-group-request.ts';
import type { FilterContext, ProxyFilter } from '../filter.ts';

export interface GroupMember {
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
    s = { pending: [], syncs: [], members: new Map() };
    ctx.state.set(KEY, s);
  }
  return s;
}

export class GroupMembersFilter implements ProxyFilter {
  readonly name = 'group-members';
  readonly requestApiKeys = [ApiKey.JoinGroup, ApiKey.LeaveGroup, ApiKey.SyncGroup] as const;

  onRequest(ctx: FilterContext, frame: Buffer, apiKey: number): undefined {
    if (apiKey === ApiKey.SyncGroup) {
      stateOf(ctx).syncs.push(peekRequestClientId(frame));
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
    return apiKey === ApiKey.JoinGroup || apiKey === ApiKey.SyncGroup;
  }

  onResponse(ctx: FilterContext, apiKey: number, _apiVersion: number, response: DecodedResponse): boolean {
    const s = stateOf(ctx);
    if (apiKey === ApiKey.SyncGroup) {
      const clientId = s.syncs.shift();
      if (clientId !== undefined && (response.body as SyncGroupResponse).errorCode === 0) ctx.route.rejoined(rejoinKey(ctx.clientHost, clientId));
      return false;
    }
    const req = s.pending.shift();
    const res = response.body as JoinGroupResponse;
    if (req !== undefined && req.groupId !== '' && res.errorCode === 0 && res.memberId !== '') {
      s.members.set(req.groupId, { memberId: res.memberId, groupInstanceId: req.groupInstanceId, clientId: req.clientId });
    }
    return false;
  }
}
