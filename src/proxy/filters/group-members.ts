// Remembers which consumer group members joined through a connection (JoinGroup answered without
// error, not left since), so that when a switch retires the connection the gateway can take them
// out of their groups on the old cluster instead of leaving them to time out there.
import { ApiKey, decodeRequest, type DecodedResponse } from '../../protocol/index.ts';
import type { JoinGroupRequest } from '../../protocol/generated/messages/join-group-request.ts';
import type { JoinGroupResponse } from '../../protocol/generated/messages/join-group-response.ts';
import type { LeaveGroupRequest } from '../../protocol/generated/messages/leave-group-request.ts';
import type { FilterContext, ProxyFilter } from '../filter.ts';

export interface GroupMember {
  memberId: string;
  groupInstanceId: string | null;
}

interface State {
  /** JoinGroup requests waiting for their answers, in order. */
  pending: { groupId: string; groupInstanceId: string | null }[];
  members: Map<string, GroupMember>;
}

const KEY = 'group-members';

/** The members that joined through this connection, by group id (null: none ever joined). */
export function groupMembers(ctx: FilterContext): Map<string, GroupMember> | null {
  return (ctx.state.get(KEY) as State | undefined)?.members ?? null;
}

function stateOf(ctx: FilterContext): State {
  let s = ctx.state.get(KEY) as State | undefined;
  if (s === undefined) {
    s = { pending: [], members: new Map() };
    ctx.state.set(KEY, s);
  }
  return s;
}

export class GroupMembersFilter implements ProxyFilter {
  readonly name = 'group-members';
  readonly requestApiKeys = [ApiKey.JoinGroup, ApiKey.LeaveGroup] as const;

  onRequest(ctx: FilterContext, frame: Buffer, apiKey: number): undefined {
    try {
      if (apiKey === ApiKey.JoinGroup) {
        const r = decodeRequest<JoinGroupRequest>(frame).body;
        stateOf(ctx).pending.push({ groupId: r.groupId, groupInstanceId: r.groupInstanceId ?? null });
      } else {
        const r = decodeRequest<LeaveGroupRequest>(frame).body;
        stateOf(ctx).members.delete(r.groupId);
      }
    } catch {
      // Unreadable here means unreadable for the broker too: it answers with an error.
      if (apiKey === ApiKey.JoinGroup) stateOf(ctx).pending.push({ groupId: '', groupInstanceId: null });
    }
    return undefined;
  }

  wantsResponse(apiKey: number): boolean {
    return apiKey === ApiKey.JoinGroup;
  }

  onResponse(ctx: FilterContext, _apiKey: number, _apiVersion: number, response: DecodedResponse): boolean {
    const s = stateOf(ctx);
    const req = s.pending.shift();
    const res = response.body as JoinGroupResponse;
    if (req !== undefined && req.groupId !== '' && res.errorCode === 0 && res.memberId !== '') {
      s.members.set(req.groupId, { memberId: res.memberId, groupInstanceId: req.groupInstanceId });
    }
    return false;
  }
}
