// One client connection and the upstream connection Turnout opened for it. Requests flow client →
// upstream, responses upstream → client, in order (Kafka answers a connection's requests in the
// order they were sent, so a FIFO of in-flight requests pairs them). Only frames a filter asked
// for are decoded; the rest are forwarded as the same bytes. Each side's buffered bytes are
// capped: past the cap, reading from the other side pauses until the slow side drains.
//
// Large frames that no filter reads (most requests, Produce of a known producer, Fetch responses)
// are cut through: once their header has arrived they are forwarded piece by piece as the bytes
// come, never assembled. That saves a copy and, for multi-megabyte Fetch responses, the
// store-and-forward delay. A request a filter must read whole is assembled only within the
// connection's buffer budget, and before a passthrough client has authenticated only within a
// small cap; past those the connection is closed (see limits.ts for the process-wide limits).
//
// Both sockets read into reused buffers (read-buffer.ts) instead of a new ArrayBuffer per read,
// whose churn of external memory made V8 run full garbage collections every ~20 MB. Read bytes
// are written to the other side as views, so a buffer whose bytes are still queued there is lent
// out until they are written, and reading goes on into another one.
import type { Socket } from 'node:net';
import type { HostPort } from '../config/types.ts';
import type { Logger } from '../observability/log.ts';
import { type ApiMetrics, apiName, type RouteMetrics } from '../observability/metrics.ts';
import type { OffsetCommitRequest } from '../protocol/generated/messages/offset-commit-request.ts';
import {
  ApiKey,
  apiCodec,
  CodecError,
  CodecErrorCode,
  type DecodedResponse,
  decodeRequest,
  decodeResponse,
  describeApiKey,
  encodeRequest,
  encodeResponseChunks,
  FrameDecoder,
  peekApiKey,
  peekApiVersion,
  peekProduceAcks,
  peekRequestClientId,
  peekRequestCorrelationId,
  peekResponseCorrelationId,
} from '../protocol/index.ts';
import { FENCED_API_KEYS, type FenceableConnection, type HeldOffsetCommit, type Route } from '../routing/route.ts';
import { type GroupMember, groupMembers, rejoinKey } from './filters/group-members.ts';
import { VERSION_CAPS } from './filters/index.ts';
import { refusedProduceResponse } from './produce-refusal.ts';

/** Highest Fetch and Produce versions the gateway advertises (see VERSION_CAPS); above them a request is refused. */
const FETCH_CAP = VERSION_CAPS.get(ApiKey.Fetch) ?? 0x7fff;
const PRODUCE_CAP = VERSION_CAPS.get(ApiKey.Produce) ?? 0x7fff;
const MAX_VERSION = 0x7fff;

/** How long a group member's fetches wait after a switch for it to rejoin its group on the new cluster. */
const REJOIN_HOLD_MS = 15_000;
/** A Fetch held for its client's rejoin is answered empty after this long (or its own maxWaitMs,
 *  if shorter), as a broker with no new records would answer it. Clients that heartbeat only
 *  between fetches (kafkajs) thereby get to the heartbeat that makes them rejoin. */
const REJOIN_EMPTY_FETCH_MS = 500;
/** Frames at least this large are cut through when they need no decoding; smaller ones are assembled. */
const CUT_THROUGH_MIN_BYTES = 8 * 1024;
/** How much of a Produce request's start is enough to read its header and acks. */
const PRODUCE_HEAD_BYTES = 1024;
/** Group coordination requests: behind a fetch held for a rejoin, they would wait for themselves. */
const GROUP_API_KEYS: ReadonlySet<number> = new Set([8, 9, 10, 11, 12, 13, 14, 68, 76]);

import { defaultConsumerGroupHeartbeatRequest } from '../protocol/generated/messages/consumer-group-heartbeat-request.ts';
import type { FetchRequest } from '../protocol/generated/messages/fetch-request.ts';
import type { SaslAuthenticateResponse } from '../protocol/generated/messages/sasl-authenticate-response.ts';
import { defaultShareGroupHeartbeatRequest } from '../protocol/generated/messages/share-group-heartbeat-request.ts';
import { connectUpstream } from '../upstream/connect.ts';
import { UpstreamError, UpstreamErrorCode } from '../upstream/errors.ts';
import { continuesFetchSession, emptyFetchResponse, fetchSessionOffset, noDataFetchResponse } from './empty-fetch.ts';
import type { FilterChain, FilterContext, ProxyFilter } from './filter.ts';
import { describePeer, type MemoryBudget, type WarningAggregator } from './limits.ts';
import { ReadBuffer } from './read-buffer.ts';

export interface ConnectionLimits {
  maxFrameBytes: number;
  maxBufferedBytes: number;
  upstreamConnectTimeoutMs: number;
  /** After a switch, how long connections to the previous cluster get for their in-flight requests. */
  switchDrainTimeoutMs: number;
  /** Sees every byte written to clients (tests use it to prove no upstream address leaks); the bytes may be views of a reused buffer, valid only during the call. */
  tapClientBytes?: (route: string, bytes: Uint8Array) => void;
  /** Largest frame before a passthrough connection has authenticated (default: maxFrameBytes). */
  maxUnauthenticatedFrameBytes?: number;
  /** A passthrough connection not authenticated this long after opening is closed (0 or absent: never). */
  authenticationTimeoutMs?: number;
  /** A connection with nothing in flight and nothing received this long is closed (0 or absent: never). */
  connectionsMaxIdleMs?: number;
  /** The process's budget of buffered bytes (absent: only the per-connection cap applies). */
  budget?: MemoryBudget;
  /** Aggregates warnings per reason so that many bad clients cannot flood the log. */
  warnings?: WarningAggregator;
}

export interface ConnectionStats {
  id: number;
  inFlight: number;
  /** Bytes written to the client socket but not yet sent. */
  bufferedToClient: number;
  /** Bytes queued towards the upstream (written but unsent, or waiting for the connection). */
  bufferedToUpstream: number;
  clientReadsPaused: boolean;
  upstreamReadsPaused: boolean;
}

/** Where the client connected: the bootstrap endpoint, or the port of one broker (its slot). */
export type ConnectionTarget = { kind: 'bootstrap' } | { kind: 'broker'; slot: number };

interface InFlight {
  correlationId: number;
  apiKey: number;
  apiVersion: number;
  startedAt: number;
  /** The API's metric children (null for raw SASL tokens, which are not Kafka requests). */
  metrics: ApiMetrics | null;
  filters: ProxyFilter[] | null;
  /** A response produced by the gateway itself, sent when this entry reaches the head. */
  local: Buffer | null;
  /** A raw SASL token exchange (SaslHandshake v0): no Kafka header on either side. */
  raw: boolean;
  /** Sent by the gateway itself (LeaveGroup at a switch): the response is not for the client. */
  internal?: boolean;
  /** For the gateway's own requests that wait for their answer: called with the response frame, or with null if none comes. */
  onInternal?: (frame: Buffer | null) => void;
  /** A forwarded Fetch that continues a fetch session (KIP-227): its session id and epoch. */
  fetchSession?: number;
  fetchEpoch?: number;
}

/** Why a connection closed, for the log line and the error metric. */
export const CloseReason = {
  ClientClosed: 'client_closed',
  UpstreamClosed: 'upstream_closed',
  UpstreamUnreachable: 'upstream_unreachable',
  FrameTooLarge: 'frame_too_large',
  MalformedFrame: 'malformed_frame',
  MalformedResponse: 'malformed_response',
  ProtocolViolation: 'protocol_violation',
  ClientMidRequest: 'client_closed_mid_request',
  /** The client left before its requests were answered (e.g. it timed them out). */
  ClientClosedInFlight: 'client_closed_with_requests_in_flight',
  ClientError: 'client_socket_error',
  UpstreamError: 'upstream_socket_error',
  Shutdown: 'shutdown',
  /** The route switched to another cluster: the connection to the old one is closed once idle. */
  Switchover: 'switchover',
  /** Nothing in flight and nothing received for limits.connectionsMaxIdleMs. */
  IdleTimeout: 'idle_timeout',
  /** A passthrough connection not authenticated within limits.authenticationTimeoutMs. */
  AuthenticationTimeout: 'authentication_timeout',
  /** A frame above limits.maxUnauthenticatedFrameBytes before authentication. */
  UnauthenticatedFrameTooLarge: 'unauthenticated_frame_too_large',
  /** A frame the gateway must assemble (a filter reads it) above the connection's buffer budget. */
  FrameOverBudget: 'frame_over_connection_budget',
  /** A filter stopped a request that was partly forwarded already (a cut-through Produce naming a protected topic). */
  RefusedMidRequest: 'refused_mid_request',
} as const;
export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];

/** Reasons that are a normal part of life and not counted as errors. */
const NORMAL: ReadonlySet<CloseReason> = new Set([
  CloseReason.ClientClosed,
  CloseReason.UpstreamClosed,
  CloseReason.Shutdown,
  CloseReason.Switchover,
  CloseReason.IdleTimeout,
]);
/** Closes the gateway makes for one of its limits, counted by reason. */
const BY_LIMIT: ReadonlySet<CloseReason> = new Set([
  CloseReason.IdleTimeout,
  CloseReason.AuthenticationTimeout,
  CloseReason.UnauthenticatedFrameTooLarge,
  CloseReason.FrameOverBudget,
]);

/** Why a large request cannot be cut through: not now (wait, do not assemble it), or never (a filter reads it whole). */
type CutThrough = 'cut' | 'later' | 'assemble';

let nextConnectionId = 1;

export class ProxyConnection implements FilterContext, FenceableConnection {
  readonly id = nextConnectionId++;
  readonly route: Route;
  private logger: Logger | null = null;
  private readonly where: string;
  readonly clientHost: string;
  private scratch: Map<string, unknown> | null = null;
  private readonly client: Socket;
  private upstream: Socket | null = null;
  /** host:port of the broker behind `upstream`, for log lines. */
  private upstreamAddress = '';
  private readonly chain: FilterChain;
  private readonly limits: ConnectionLimits;
  private readonly metrics: RouteMetrics;
  private readonly fromClient: FrameDecoder;
  private readonly fromUpstream: FrameDecoder;
  private readonly inFlight: InFlight[] = [];
  /** Frames received before the upstream connection is open. */
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  private rawTokensExpected = 0;
  /** Bytes of the request being cut through to the upstream that have not arrived yet. */
  private requestLeft = 0;
  /** A switch retired the connection while a request was being cut through: leave groups after it. */
  private leaveAfterRequest = false;
  /** Bytes of the response being cut through to the client that have not arrived yet. */
  private responseLeft = 0;
  /** Full size of that response, for the metrics. */
  private responseSize = 0;
  /** Requests held by a planned switch's fence, in arrival order (null: not holding). */
  private held: Buffer[] | null = null;
  private heldBytes = 0;
  /** The first held request is a Fetch waiting for its client to rejoin its group. */
  private heldForRejoin = false;
  /** This connection also carries the client's group requests: its fetches are not held for rejoins. */
  private rejoinBypass = false;
  /** Answers the Fetch held for a rejoin empty when it fires. */
  private rejoinFetchTimer: NodeJS.Timeout | null = null;
  /** The connection's first Fetch has been looked at for a fetch session from before a switch. */
  private fetchSessionChecked = false;
  /** Filters' lookups the first held request waits for (a filter deferred it). */
  private deferrals = 0;
  /** Correlation ids of the gateway's own requests: negative, so never a client's. */
  private nextInternalCorrelationId = -1000;
  /**
   * Responses waiting, in order, behind one whose filter needs a lookup before it can rewrite it
   * (null: none). Copies: the frames may be views of a reused read buffer.
   */
  private gated: { frame: Buffer; entry: InFlight }[] | null = null;
  private gatedBytes = 0;
  /** Shown every piece of the request being cut through (filters that watch it pass). */
  private cutThroughObservers: ((piece: Uint8Array) => boolean | void)[] | null = null;
  private closed = false;
  /**
   * A passthrough connection is authenticated after a successful SaslAuthenticate (or the raw
   * tokens of SaslHandshake v0); a route with authentication none has no authentication step,
   * and its connections count as authenticated from the start, as a broker's PLAINTEXT listener
   * treats them.
   */
  private authenticated: boolean;
  private readonly openedAt = performance.now();
  /** When the client last sent bytes (performance.now()), for the idle deadline. */
  private lastReceived = this.openedAt;
  /** Bytes this connection counts against the process's budget, as last reported. */
  private accounted = 0;
  private readonly resumeFromBudget = (): void => {
    this.resumeClient();
    this.resumeUpstream();
  };
  private draining = false;
  private clientPaused = false;
  private upstreamPaused = false;
  /** The client socket's read buffer (null: it reads with 'data' events). */
  private readonly clientReads: ReadBuffer | null;
  private readonly upstreamReads = new ReadBuffer();
  private readonly onClosed: (c: ProxyConnection) => void;
  private drainedResolve: (() => void) | null = null;
  private drainReason: CloseReason = CloseReason.Shutdown;
  /** The route's switch epoch when this connection was opened: it belongs to that epoch's cluster. */
  readonly epoch: number;
  /** The streaming domain this connection's upstream is in. */
  readonly domain: string;

  constructor(
    client: Socket,
    route: Route,
    target: ConnectionTarget,
    chain: FilterChain,
    limits: ConnectionLimits,
    onClosed: (c: ProxyConnection) => void,
    clientReads: ReadBuffer | null = null,
    peer?: string,
  ) {
    this.client = client;
    this.clientReads = clientReads;
    this.route = route;
    this.chain = chain;
    this.limits = limits;
    this.metrics = route.metrics;
    this.onClosed = onClosed;
    // A socket reset before it was adopted has no address any more: the listener read it first.
    this.where = peer ?? describePeer(client.remoteAddress, client.remotePort);
    this.clientHost = client.remoteAddress ?? '';
    this.authenticated = route.config.authentication.type !== 'passthrough';
    this.target = target;
    this.epoch = route.epoch;
    this.domain = route.domainName;
    this.fromClient = new FrameDecoder(limits.maxFrameBytes);
    this.fromUpstream = new FrameDecoder(limits.maxFrameBytes);
    this.metrics.connectionsTotal.inc();
    this.metrics.connectionsActive.inc();

    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.onClientData(chunk));
    client.on('end', () => this.close(this.clientGoneReason()));
    client.on('error', (err) => this.close(CloseReason.ClientError, err.message));
    client.on('close', () => this.close(this.clientGoneReason()));
    client.on('drain', () => {
      this.account();
      this.resumeUpstream();
    });
    void this.openUpstream(target);
  }

  private readonly target: ConnectionTarget;

  /** The connection's logger, made on first use: most connections never log, and idle ones should cost little. */
  get log(): Logger {
    this.logger ??= this.route.log.child({
      conn: this.id,
      client: this.where,
      target: this.target.kind === 'bootstrap' ? 'bootstrap' : `broker-port-${this.route.ports.base + this.target.slot}`,
    });
    return this.logger;
  }

  get state(): Map<string, unknown> {
    this.scratch ??= new Map();
    return this.scratch;
  }

  stats(): ConnectionStats {
    return {
      id: this.id,
      inFlight: this.inFlight.length,
      bufferedToClient: this.client.writableLength,
      bufferedToUpstream: this.upstream === null ? this.waitingBytes : this.upstream.writableLength,
      clientReadsPaused: this.clientPaused,
      upstreamReadsPaused: this.upstreamPaused,
    };
  }

  expectRawSaslTokens(rounds: number): void {
    this.rawTokensExpected = rounds;
  }

  /**
   * Stops reading new requests; resolves when in-flight requests are answered (or the connection
   * closed), and closes the connection then. Requests the client sends meanwhile stay unread and
   * are never forwarded: the client sees a closed connection and retries them elsewhere.
   */
  drain(reason: CloseReason = CloseReason.Shutdown): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.draining = true;
    this.drainReason = reason;
    // A request being cut through is already partly upstream: its rest is still read and sent.
    if (this.requestLeft === 0) this.client.pause();
    if (this.inFlight.length === 0 && this.waiting.length === 0 && this.requestLeft === 0) {
      this.close(reason);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.drainedResolve = resolve;
    });
  }

  /**
   * The route switched away from this connection's cluster. Requests already forwarded get their
   * real responses (for at most `timeoutMs`); nothing more is forwarded; then the connection
   * closes and the client reconnects, to the new cluster. A connection still opening its
   * upstream has forwarded nothing and closes at once.
   */
  retire(timeoutMs: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.upstream === null) {
      this.close(CloseReason.Switchover);
      return Promise.resolve();
    }
    const timer = setTimeout(() => {
      if (this.closed) return;
      this.log.warn({ timeoutMs, pendingRequests: this.inFlight.length }, 'requests to the previous cluster not answered in time; closing');
      this.destroy(CloseReason.Switchover);
    }, timeoutMs);
    // Held requests are never sent to the old cluster; the client sends them again after
    // reconnecting. Produce requests at the head are answered NOT_LEADER_OR_FOLLOWER first: a
    // definite "not written", which clients retry at once, where a request lost with the
    // connection leaves an idempotent producer unsure of its sequence and slow to recover.
    const held = this.held;
    this.held = null;
    this.heldBytes = 0;
    this.heldForRejoin = false;
    this.clearRejoinFetchTimer();
    if (held !== null) this.refuseHeldProduces(held);
    if (this.requestLeft > 0) this.leaveAfterRequest = true;
    else this.leaveGroups();
    return this.drain(CloseReason.Switchover).finally(() => clearTimeout(timer));
  }

  private refuseHeldProduces(frames: Buffer[]): void {
    for (const frame of frames) {
      if (frame.length < 12 || peekApiKey(frame) !== ApiKey.Produce) return;
      if (peekProduceAcks(frame) === 0) continue; // no answer expected (and none promised)
      try {
        const local = refusedProduceResponse(frame, 'the route switched to another cluster; retry');
        const version = peekApiVersion(frame);
        this.inFlight.push({
          correlationId: peekRequestCorrelationId(frame),
          apiKey: ApiKey.Produce,
          apiVersion: version,
          startedAt: performance.now(),
          metrics: null,
          filters: null,
          local,
          raw: false,
        });
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'a held Produce request is unreadable; the connection closes without answering it');
        return;
      }
    }
    this.flushLocal();
  }

  /**
   * Takes the group members that joined through this connection out of their groups on the old
   * cluster. Without it they would stay until their session timed out (45 s by default), and a
   * switch back within that time would find the group busy: offsets could not be installed and
   * clients would wait for the dead members to be expelled.
   */
  private leaveGroups(): void {
    const own = groupMembers(this);
    // Members whose connection to this broker the client closed itself (franz-go closes a
    // connection whose request it gave up on): still in their groups here, and nobody else knows.
    const orphans = this.route.takeOrphanedMembers(this.epoch, this.slotKey);
    if (this.upstream === null || ((own === null || own.size === 0) && orphans.length === 0)) return;
    const members: [string, GroupMember][] = [...(own ?? []), ...orphans.map((o): [string, GroupMember] => [o.groupId, o.member])];
    for (const [groupId, m] of members) {
      const correlationId = this.nextInternalCorrelationId--;
      const header = { correlationId, clientId: 'turnout-switchover', _unknownTaggedFields: undefined };
      let frame: Buffer;
      let apiKey: number;
      let apiVersion: number;
      if (m.protocol === 'consumer') {
        // KIP-848: a heartbeat with epoch -1 leaves; -2 steps a static member out for its return.
        apiKey = ApiKey.ConsumerGroupHeartbeat;
        apiVersion = 0;
        frame = encodeRequest(
          { ...header, requestApiKey: apiKey, requestApiVersion: apiVersion },
          {
            ...defaultConsumerGroupHeartbeatRequest(),
            groupId,
            memberId: m.memberId,
            memberEpoch: m.groupInstanceId === null ? -1 : -2,
            instanceId: m.groupInstanceId,
          },
        );
      } else if (m.protocol === 'share') {
        // KIP-932 share groups: epoch -1 leaves; the broker releases the member's acquired records.
        apiKey = ApiKey.ShareGroupHeartbeat;
        apiVersion = apiCodec(apiKey)!.minVersion;
        frame = encodeRequest(
          { ...header, requestApiKey: apiKey, requestApiVersion: apiVersion },
          { ...defaultShareGroupHeartbeatRequest(), groupId, memberId: m.memberId, memberEpoch: -1 },
        );
      } else {
        apiKey = ApiKey.LeaveGroup;
        apiVersion = 3;
        frame = encodeRequest(
          { ...header, requestApiKey: apiKey, requestApiVersion: apiVersion },
          { groupId, memberId: '', members: [{ memberId: m.memberId, groupInstanceId: m.groupInstanceId, reason: null }] },
        );
      }
      this.inFlight.push({
        correlationId,
        apiKey,
        apiVersion,
        startedAt: performance.now(),
        metrics: null,
        filters: null,
        local: null,
        raw: false,
        internal: true,
      });
      this.upstream.write(frame);
      this.route.expectRejoin(rejoinKey(this.clientHost, m.clientId), REJOIN_HOLD_MS);
      this.log.debug({ groupId, memberId: m.memberId }, 'left the group on the previous cluster');
    }
    own?.clear();
  }

  /** The broker behind this connection, as orphaned group members are filed: its port slot, or the bootstrap. */
  private get slotKey(): string {
    return this.target.kind === 'bootstrap' ? 'bootstrap' : String(this.target.slot);
  }

  private async openUpstream(target: ConnectionTarget): Promise<void> {
    let candidates: HostPort[];
    try {
      candidates = target.kind === 'bootstrap' ? this.route.bootstrapTargets() : [(await this.route.brokerTarget(target.slot)).address];
    } catch (err) {
      this.close(CloseReason.UpstreamUnreachable, (err as Error).message);
      return;
    }
    const failures: string[] = [];
    for (const address of candidates) {
      if (this.closed) return;
      try {
        const socket = await connectUpstream(
          address,
          this.limits.upstreamConnectTimeoutMs,
          this.upstreamReads.readInto((bytes, buffer) => this.onUpstreamRead(bytes, buffer)),
        );
        if (this.closed) {
          socket.destroy();
          return;
        }
        this.upstreamAddress = `${address.host}:${address.port}`;
        this.attachUpstream(socket);
        return;
      } catch (err) {
        this.metrics.upstreamConnectFailure(this.route.domainName);
        failures.push((err as Error).message);
      }
    }
    this.close(CloseReason.UpstreamUnreachable, `cannot connect to streaming domain "${this.route.domainName}": ${failures.join('; ')}`);
  }

  private attachUpstream(socket: Socket): void {
    this.upstream = socket;
    socket.on('end', () => this.close(CloseReason.UpstreamClosed));
    socket.on('error', (err) => this.close(CloseReason.UpstreamError, err.message));
    socket.on('close', () => this.close(CloseReason.UpstreamClosed));
    socket.on('drain', () => this.resumeClient());
    if (this.waiting.length > 0) {
      socket.cork();
      for (const f of this.waiting) socket.write(f);
      socket.uncork();
      this.waiting = [];
      this.waitingBytes = 0;
    }
    this.resumeClient();
  }

  // ---- client → upstream ----------------------------------------------------------------

  /** A read into the client socket's reused buffer (see read-buffer.ts). */
  onClientRead(bytes: number, buffer: Buffer): boolean {
    if (this.closed) return true;
    this.onClientData(buffer.subarray(0, bytes));
    if (this.closed) return true;
    // A partial frame in the decoder must not be overwritten by a later read.
    this.fromClient.retainLast();
    const up = this.upstream;
    if (up !== null && up.writableLength > 0) this.clientReads?.lend(up);
    return true;
  }

  private onClientData(chunk: Buffer): void {
    if (this.closed) return;
    this.lastReceived = performance.now();
    this.receive(chunk);
    if (this.closed) return;
    this.account();
    if (this.overBudget()) {
      this.pauseClient();
      this.limits.budget!.wait(this.resumeFromBudget);
    }
  }

  private receive(chunk: Buffer): void {
    let data = chunk;
    const up = this.upstream;
    if (this.requestLeft > 0) {
      // The rest of a request being cut through (upstream is open: cut-through waits for it).
      const n = Math.min(this.requestLeft, data.length);
      this.metrics.bytesIn.inc(n);
      const piece = n === data.length ? data : data.subarray(0, n);
      if (this.cutThroughObservers !== null && !this.observed(this.cutThroughObservers, piece)) return;
      up!.write(piece);
      this.requestLeft -= n;
      if (this.requestLeft === 0) this.requestCutThrough();
      if (n === data.length || this.closed) {
        this.checkClientBackpressure();
        return;
      }
      data = data.subarray(n);
    }
    // While draining, nothing more is forwarded (a chunk may still arrive after pause()).
    if (this.draining) return;
    this.metrics.bytesIn.inc(data.length);
    this.fromClient.push(data);
    up?.cork();
    try {
      for (;;) {
        if (!this.authenticated && !this.withinUnauthenticatedCap()) return;
        const frame = this.fromClient.next();
        if (frame === null) break;
        this.takeFrame(frame);
        if (this.closed) return;
      }
      if (this.fromClient.bufferedBytes > 0) this.partialRequest();
    } catch (err) {
      const tooLarge = err instanceof CodecError && err.code === CodecErrorCode.FrameTooLarge;
      this.close(tooLarge ? CloseReason.FrameTooLarge : CloseReason.MalformedFrame, (err as Error).message);
      return;
    } finally {
      up?.uncork();
    }
    this.checkClientBackpressure();
  }

  private checkClientBackpressure(): void {
    const buffered = this.upstream === null ? this.waitingBytes : this.upstream.writableLength;
    if (buffered > this.limits.maxBufferedBytes || this.heldBytes > this.limits.maxBufferedBytes) this.pauseClient();
  }

  /** Before authentication, a frame above the small pre-authentication cap closes the connection. */
  private withinUnauthenticatedCap(): boolean {
    const cap = this.limits.maxUnauthenticatedFrameBytes;
    const size = this.fromClient.peekInt32(0);
    if (cap === undefined || size === null || size <= cap) return true;
    this.refuseFrame(CloseReason.UnauthenticatedFrameTooLarge, size, cap, 'gateway.limits.maxUnauthenticatedFrameBytes', 'before the client authenticated');
    return false;
  }

  /**
   * The decoder holds the start of a frame. Large frames no filter reads are cut through (sent on
   * as their bytes arrive); frames a filter must read whole are assembled, within the
   * connection's buffer budget (limits.maxBufferedBytes), and a bigger one closes the connection,
   * except a Produce request of an authenticated connection (up to limits.maxFrameBytes).
   * A frame that could be cut through but not right now (no upstream yet, requests held) is read
   * up to the budget, and then the client waits until it can be.
   */
  private partialRequest(): void {
    const d = this.fromClient;
    const size = d.peekInt32(0);
    if (size === null || size + 4 < CUT_THROUGH_MIN_BYTES) return;
    const verdict = this.cutThroughRequest();
    if (verdict === 'cut' || size + 4 <= this.limits.maxBufferedBytes) return;
    if (verdict === 'assemble' && this.authenticated && this.rawTokensExpected === 0 && size + 4 <= this.limits.maxFrameBytes) {
      // A Produce request is read whole when a filter needs it so (a connection's first, whose
      // producer id decides whether later ones need rewriting; one naming a protected topic).
      // Producers send requests far above the per-connection budget (franz-go and sarama up to
      // 100 MiB, many partitions' batches in one), typically right after a switch with a backlog:
      // closing them would fail them again at every retry. Such a request may use up to
      // maxFrameBytes, as on a broker, and counts against the process's budget, which pauses reads
      // when full; only authenticated connections get it.
      const head = d.head(8);
      if (head.length >= 6 && peekApiKey(head) === ApiKey.Produce) return;
    }
    if (verdict === 'assemble') {
      this.refuseFrame(
        CloseReason.FrameOverBudget,
        size,
        this.limits.maxBufferedBytes,
        'gateway.limits.maxBufferedBytesPerConnection',
        'and the gateway must read it whole',
      );
    } else if (d.bufferedBytes >= this.limits.maxBufferedBytes) {
      this.pauseClient();
    }
  }

  /** Closes the connection for a frame above `limit`, saying which API, how big, and what to raise. */
  private refuseFrame(reason: CloseReason, size: number, limit: number, configKey: string, when: string): void {
    const head = this.fromClient.head(8);
    const api = this.rawTokensExpected > 0 ? 'a raw SASL token' : head.length >= 6 ? apiName(peekApiKey(head)) : 'a request whose header has not arrived';
    this.close(reason, `${api} of ${size + 4} bytes is above ${configKey} (${limit}) ${when}; raise ${configKey} if this client is legitimate`, {
      api,
      frameBytes: size + 4,
      limit,
      configKey,
    });
  }

  /**
   * Whether the large frame the decoder holds the start of can be forwarded as its bytes arrive,
   * and if so, forwards what has arrived: a request no filter reads (or a Produce request every
   * filter lets pass) that would be forwarded unchanged right now. Anything that may be held,
   * answered by the gateway or rewritten is assembled as usual.
   */
  private cutThroughRequest(): CutThrough {
    const d = this.fromClient;
    const size = d.peekInt32(0)!;
    // Raw SASL tokens and everything before authentication: small (see withinUnauthenticatedCap) and watched.
    if (this.rawTokensExpected > 0 || !this.authenticated) return 'assemble';
    const head = d.head(PRODUCE_HEAD_BYTES);
    if (head.length < 12) return 'later';
    const apiKey = peekApiKey(head);
    const apiVersion = peekApiVersion(head);
    const filters = this.chain.requestFilters(apiKey);
    if (filters !== null && apiKey !== ApiKey.Produce) return 'assemble';
    // Above the advertised versions: not cut through; takeFrame refuses it once whole.
    if (apiKey === ApiKey.Produce && apiVersion > PRODUCE_CAP) return 'assemble';
    const up = this.upstream;
    if (up === null || this.held !== null || this.route.fence !== null) return 'later';
    let observers: ((piece: Uint8Array) => boolean | void)[] | null = null;
    let acks = 1;
    if (apiKey === ApiKey.Produce) {
      for (const f of filters ?? []) {
        const verdict = f.cutThrough?.(this, ApiKey.Produce, head) ?? false;
        if (verdict === false) return 'assemble';
        if (verdict !== true) (observers ??= []).push(verdict);
      }
      try {
        acks = peekProduceAcks(head);
      } catch {
        // The header is not all here yet; past PRODUCE_HEAD_BYTES it is malformed or unusually long.
        return d.bufferedBytes >= PRODUCE_HEAD_BYTES ? 'assemble' : 'later';
      }
    }
    const metrics = this.metrics.api(apiKey);
    metrics.requests.inc();
    if (apiKey !== ApiKey.Produce || acks !== 0) {
      const correlationId = peekRequestCorrelationId(head);
      this.inFlight.push({
        correlationId,
        apiKey,
        apiVersion,
        startedAt: performance.now(),
        metrics,
        filters: this.chain.responseFiltersFor(this, apiKey, apiVersion, correlationId),
        local: null,
        raw: false,
      });
    }
    this.requestLeft = size + 4 - d.bufferedBytes;
    this.cutThroughObservers = observers;
    for (const piece of d.takeBuffered()) {
      if (observers !== null && !this.observed(observers, piece)) return 'cut'; // closed: nothing more to read
      up.write(piece);
    }
    return 'cut';
  }

  /** Shows a piece of a cut-through request to the filters watching it; false (and closed) when one stops it. */
  private observed(observers: ((piece: Uint8Array) => boolean | void)[], piece: Uint8Array): boolean {
    for (const o of observers) {
      if (o(piece) !== false) continue;
      // Part of the request went upstream; the broker drops a request it never gets whole.
      this.close(CloseReason.RefusedMidRequest, 'a filter stopped a Produce request being cut through (it names a topic clients may not write)');
      return false;
    }
    return true;
  }

  /** The last bytes of a cut-through request went upstream. */
  private requestCutThrough(): void {
    this.cutThroughObservers = null;
    if (this.leaveAfterRequest) {
      this.leaveAfterRequest = false;
      this.leaveGroups();
    }
    if (this.draining) {
      this.client.pause();
      this.checkDrained();
    }
  }

  private takeFrame(frame: Buffer): void {
    // Once one request is held, every later one waits behind it: answers keep their order.
    if (this.held === null) {
      this.onRequestFrame(frame);
    } else if (this.heldForRejoin && frame.length >= 12 && GROUP_API_KEYS.has(peekApiKey(frame))) {
      // The client rejoins over the connection its fetch waits on (one connection per broker, as
      // librdkafka and kafkajs do): waiting would only delay the rejoin. Forward everything.
      this.rejoinBypass = true;
      this.hold(frame);
      this.releaseHeld();
    } else {
      this.hold(frame);
    }
  }

  private hold(frame: Buffer): void {
    // Copy: the frame may be a view of a socket chunk that is reused once we return.
    (this.held ??= []).push(Buffer.from(frame));
    this.heldBytes += frame.length;
  }

  fencedInFlight(): number {
    let n = 0;
    for (const e of this.inFlight) if (!e.raw && e.local === null && !e.internal && FENCED_API_KEYS.has(e.apiKey)) n++;
    return n;
  }

  heldCount(): number {
    return this.held?.length ?? 0;
  }

  releaseHeld(): void {
    const frames = this.held;
    // A filter's lookup still pending: its own completion releases (or, under a fence, the fence's lowering).
    if (this.closed || this.draining || this.deferrals > 0) return;
    if (frames === null) {
      this.resumeClient(); // a large frame may have waited for the fence to lift
      return;
    }
    this.held = null;
    this.heldBytes = 0;
    this.heldForRejoin = false;
    this.clearRejoinFetchTimer();
    const up = this.upstream;
    up?.cork();
    try {
      for (let i = 0; i < frames.length; i++) {
        this.takeFrame(frames[i]);
        if (this.closed) return;
      }
    } catch (err) {
      this.close(CloseReason.MalformedFrame, (err as Error).message);
      return;
    } finally {
      up?.uncork();
    }
    this.resumeClient();
  }

  private answerEmptyLater(fetch: Buffer): void {
    let waitMs = REJOIN_EMPTY_FETCH_MS;
    try {
      // At least a little: a client asking for no wait at all would otherwise spin through us.
      waitMs = Math.max(10, Math.min(waitMs, decodeRequest<FetchRequest>(fetch).body.maxWaitMs));
    } catch {
      // Unreadable: it waits for the rejoin like any held request, and the broker will answer it.
      return;
    }
    this.clearRejoinFetchTimer();
    this.rejoinFetchTimer = setTimeout(() => this.answerHeldFetchEmpty(), waitMs);
    this.rejoinFetchTimer.unref();
  }

  private clearRejoinFetchTimer(): void {
    if (this.rejoinFetchTimer === null) return;
    clearTimeout(this.rejoinFetchTimer);
    this.rejoinFetchTimer = null;
  }

  /** The client has not rejoined yet: its held Fetch gets an answer without records, and whatever
   *  it sent after that Fetch goes on (a later Fetch is held again). */
  private answerHeldFetchEmpty(): void {
    this.rejoinFetchTimer = null;
    const frames = this.held;
    if (frames === null || !this.heldForRejoin || this.closed || this.draining) return;
    const fetch = frames[0];
    let response: Buffer;
    try {
      response = emptyFetchResponse(fetch);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot answer a Fetch held for a rejoin; it waits for the rejoin');
      return;
    }
    const correlationId = peekRequestCorrelationId(fetch);
    const apiVersion = peekApiVersion(fetch);
    const metrics = this.metrics.api(ApiKey.Fetch);
    metrics.requests.inc();
    this.inFlight.push({ correlationId, apiKey: ApiKey.Fetch, apiVersion, startedAt: performance.now(), metrics, filters: null, local: response, raw: false });
    this.held = frames.slice(1);
    this.heldBytes -= fetch.length;
    this.heldForRejoin = false;
    this.releaseHeld();
    if (!this.closed) this.flushLocal();
  }

  /**
   * A route that has switched: the first Fetch of a connection that continues a fetch session
   * (KIP-227) is answered at once without records and with session id 0, which ends the session,
   * so the client's next Fetch opens a new one. Fetch sessions live on the broker that made them;
   * one made on the previous cluster makes the new one answer FETCH_SESSION_ID_NOT_FOUND or
   * INVALID_FETCH_SESSION_EPOCH, which @platformatic/kafka counts towards giving up its consumer
   * stream. A session that was still valid costs the client one round trip.
   */
  private continuesForeignFetchSession(frame: Buffer, apiVersion: number): boolean {
    if (this.epoch === 0) return false;
    let response: Buffer;
    try {
      if (!continuesFetchSession(frame, apiVersion)) return false;
      response = emptyFetchResponse(frame);
    } catch {
      return false; // unreadable: the broker answers it
    }
    this.answerFetchLocally(frame, apiVersion, response);
    return true;
  }

  /** Answers the client's Fetch `frame` with `response` (after the answers before it), without forwarding it. */
  private answerFetchLocally(frame: Buffer, apiVersion: number, response: Buffer): void {
    const metrics = this.metrics.api(ApiKey.Fetch);
    metrics.requests.inc();
    this.inFlight.push({
      correlationId: peekRequestCorrelationId(frame),
      apiKey: ApiKey.Fetch,
      apiVersion,
      startedAt: performance.now(),
      metrics,
      filters: null,
      local: response,
      raw: false,
    });
    this.flushLocal();
  }

  /** A Fetch continuing session `id` at `epoch` is forwarded on this connection and not answered yet. */
  private duplicatesFetchInFlight(id: number, epoch: number): boolean {
    if (id === 0 || epoch <= 0) return false; // full fetches: any number may be in flight
    for (const e of this.inFlight) if (e.fetchSession === id && e.fetchEpoch === epoch && e.local === null && e.internal !== true) return true;
    return false;
  }

  /**
   * A Fetch with the same session and epoch as one still waiting for its answer here: the broker
   * answers that one, moves the session to its next epoch, and refuses this one with
   * INVALID_FETCH_SESSION_EPOCH. @platformatic/kafka sends such pairs after a switch changed the
   * broker's node id (a retried fetch looks its node up again and takes the session of the fetch
   * loop already running there) and gives up its consumer stream after three such refusals (CI
   * run of 86ec791). The gateway answers it itself: no records, session id 0, which the client
   * takes as "nothing new" and its next Fetch as a full one.
   */
  private answerDuplicateFetch(frame: Buffer, apiVersion: number): void {
    let response: Buffer;
    try {
      response = emptyFetchResponse(frame);
    } catch {
      response = noDataFetchResponse(peekRequestCorrelationId(frame), apiVersion);
    }
    this.answerFetchLocally(frame, apiVersion, response);
  }

  heldOffsetCommits(): HeldOffsetCommit[] {
    const out: HeldOffsetCommit[] = [];
    for (const frame of this.held ?? []) {
      if (frame.length < 12 || peekApiKey(frame) !== ApiKey.OffsetCommit) continue;
      try {
        const req = decodeRequest<OffsetCommitRequest>(frame).body;
        const offsets = new Map<string, bigint>();
        for (const t of req.topics) {
          // v10+ names topics by the route's id (see filters/topic-ids.ts), which stands for one name.
          const name = t.name || this.route.topicIds.nameOfRouteId(t.topicId);
          if (!name) continue;
          for (const p of t.partitions) offsets.set(`${name}:${p.partitionIndex}`, p.committedOffset);
        }
        out.push({ groupId: req.groupId, offsets });
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'a held OffsetCommit request is unreadable; its offsets are not carried over');
      }
    }
    return out;
  }

  private onRequestFrame(frame: Buffer): void {
    if (this.rawTokensExpected > 0) {
      this.rawTokensExpected--;
      this.inFlight.push({
        correlationId: 0,
        apiKey: ApiKey.SaslAuthenticate,
        apiVersion: -1,
        startedAt: performance.now(),
        metrics: null,
        filters: null,
        local: null,
        raw: true,
      });
      this.toUpstream(frame);
      return;
    }
    if (frame.length < 12) {
      throw new CodecError(CodecErrorCode.Truncated, `request frame of ${frame.length} bytes is too short for a Kafka request header`);
    }
    const apiKey = peekApiKey(frame);
    const apiVersion = peekApiVersion(frame);
    const cap = apiKey === ApiKey.Fetch ? FETCH_CAP : apiKey === ApiKey.Produce ? PRODUCE_CAP : MAX_VERSION;
    if (apiVersion > cap) {
      // Never advertised (ApiVersions): a client sending it skipped negotiation. Those versions
      // carry what the gateway would have to translate (topic ids, broker endpoints); a broker
      // closes the connection on a version it does not support, and so does the gateway.
      throw new CodecError(
        CodecErrorCode.UnsupportedVersion,
        `${describeApiKey(apiKey)} v${apiVersion} is above v${cap}, the highest the gateway offers in ApiVersions`,
      );
    }
    if (this.route.fence !== null && FENCED_API_KEYS.has(apiKey)) {
      this.hold(frame);
      return;
    }
    if (
      apiKey === ApiKey.Fetch &&
      this.route.awaitingRejoin &&
      !this.rejoinBypass &&
      this.epoch === this.route.epoch &&
      this.route.holdFetch(rejoinKey(this.clientHost, peekRequestClientId(frame)), this)
    ) {
      this.heldForRejoin = true;
      this.hold(frame);
      this.answerEmptyLater(frame);
      return;
    }
    if (apiKey === ApiKey.Fetch && !this.fetchSessionChecked) {
      this.fetchSessionChecked = true;
      if (this.continuesForeignFetchSession(frame, apiVersion)) return;
    }
    let fetchSession = 0;
    let fetchEpoch = 0;
    if (apiKey === ApiKey.Fetch) {
      const at = fetchSessionOffset(frame, apiVersion);
      if (at >= 0) {
        fetchSession = frame.readInt32BE(at);
        fetchEpoch = frame.readInt32BE(at + 4);
        if (this.duplicatesFetchInFlight(fetchSession, fetchEpoch)) {
          this.answerDuplicateFetch(frame, apiVersion);
          return;
        }
      }
    }
    const correlationId = peekRequestCorrelationId(frame);
    const metrics = this.metrics.api(apiKey);
    metrics.requests.inc();
    const entry: InFlight = {
      correlationId,
      apiKey,
      apiVersion,
      startedAt: performance.now(),
      metrics,
      filters: null,
      local: null,
      raw: false,
      fetchSession,
      fetchEpoch,
    };
    let out: Buffer = frame;
    const requestFilters = this.chain.requestFilters(apiKey);
    if (requestFilters !== null) {
      for (const f of requestFilters) {
        const action = f.onRequest?.(this, out, apiKey, apiVersion);
        if (action === undefined) continue;
        if ('respond' in action) {
          entry.local = action.respond;
          this.inFlight.push(entry);
          this.flushLocal();
          return;
        }
        if ('defer' in action) {
          this.deferUntil(frame, action.defer);
          return;
        }
        out = action.replace;
      }
    }
    if (apiKey === ApiKey.Produce && peekProduceAcks(out) === 0) {
      // acks=0: the broker sends no response, so nothing waits for one.
      this.toUpstream(out);
      return;
    }
    entry.filters = this.chain.responseFiltersFor(this, apiKey, apiVersion, correlationId);
    this.inFlight.push(entry);
    this.toUpstream(out);
  }

  /** Holds `frame` and everything after it until `lookup` settles; then they go through the filters again. */
  private deferUntil(frame: Buffer, lookup: Promise<unknown>): void {
    this.hold(frame);
    this.deferrals++;
    const done = (): void => {
      this.deferrals--;
      if (this.route.fence === null) this.releaseHeld();
    };
    lookup.then(done, (err: unknown) => {
      this.log.debug({ err: (err as Error)?.message }, 'a filter lookup failed; the request goes on as the filter then decides');
      done();
    });
  }

  internalRequest<T extends object>(apiKey: number, apiVersion: number, body: object): Promise<T> {
    if (this.closed || this.draining) return Promise.reject(new UpstreamError(UpstreamErrorCode.Closed, 'the connection is closing'));
    const correlationId = this.nextInternalCorrelationId--;
    const frame = encodeRequest(
      { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId: 'turnout', _unknownTaggedFields: undefined },
      body,
    );
    return new Promise<T>((resolve, reject) => {
      const onInternal = (response: Buffer | null): void => {
        if (response === null) {
          reject(new UpstreamError(UpstreamErrorCode.Closed, 'the connection closed before the broker answered'));
          return;
        }
        try {
          resolve(decodeResponse<T>(response, apiKey, apiVersion).body);
        } catch (err) {
          reject(err as Error);
        }
      };
      this.inFlight.push({
        correlationId,
        apiKey,
        apiVersion,
        startedAt: performance.now(),
        metrics: null,
        filters: null,
        local: null,
        raw: false,
        internal: true,
        onInternal,
      });
      this.toUpstream(frame);
    });
  }

  private toUpstream(frame: Buffer): void {
    if (this.upstream === null) {
      // Copy: the frame may be a view of a socket chunk that is reused once we return.
      this.waiting.push(Buffer.from(frame));
      this.waitingBytes += frame.length;
      return;
    }
    this.upstream.write(frame);
  }

  // ---- upstream → client ----------------------------------------------------------------

  /** A read into the upstream socket's reused buffer (see read-buffer.ts). */
  private onUpstreamRead(bytes: number, buffer: Buffer): boolean {
    if (this.closed) return true;
    this.onUpstreamData(buffer.subarray(0, bytes));
    if (this.closed) return true;
    this.fromUpstream.retainLast();
    if (this.client.writableLength > 0) this.upstreamReads.lend(this.client);
    this.account();
    if (this.overBudget()) {
      this.pauseUpstream();
      this.limits.budget!.wait(this.resumeFromBudget);
    }
    return true;
  }

  private onUpstreamData(chunk: Buffer): void {
    if (this.closed) return;
    this.client.cork();
    try {
      let data = chunk;
      if (this.responseLeft > 0) {
        const n = Math.min(this.responseLeft, data.length);
        this.clientWrite(n === data.length ? data : data.subarray(0, n));
        this.responseLeft -= n;
        if (this.responseLeft === 0) {
          const entry = this.inFlight.shift()!;
          this.responded(entry, this.responseSize);
          this.flushLocal();
        }
        if (n === data.length || this.closed) return;
        data = data.subarray(n);
      }
      this.fromUpstream.push(data);
      for (let frame = this.fromUpstream.next(); frame !== null; frame = this.fromUpstream.next()) {
        this.onResponseFrame(frame);
        if (this.closed) return;
      }
      if (this.fromUpstream.bufferedBytes >= 8) this.cutThroughResponse();
    } catch (err) {
      // A frame the decoder refuses answers the request at the head of the queue.
      const framing = err instanceof CodecError && (err.code === CodecErrorCode.FrameTooLarge || err.code === CodecErrorCode.InvalidLength);
      const why = framing
        ? `its size prefix (${this.fromUpstream.peekInt32(0)}) is outside 0..${this.limits.maxFrameBytes} (gateway.limits.maxFrameBytes)`
        : (err as Error).message;
      this.close(
        err instanceof CodecError && err.code === CodecErrorCode.FrameTooLarge ? CloseReason.FrameTooLarge : CloseReason.MalformedResponse,
        this.unreadableResponse(why, this.inFlight[0]),
      );
      return;
    } finally {
      this.client.uncork();
      if (!this.closed && this.client.writableLength > this.limits.maxBufferedBytes) this.pauseUpstream();
    }
    this.checkDrained();
  }

  /**
   * The decoder holds the start of a large response that goes to the client unchanged: forward
   * what has arrived and the rest as it comes. The request stays at the head of the in-flight
   * queue until the last byte is out, so that nothing else is written to the client in between.
   */
  private cutThroughResponse(): void {
    const entry = this.inFlight[0];
    if (entry === undefined || this.gated !== null || entry.raw || entry.internal === true || entry.filters !== null || entry.local !== null) return;
    if (!this.authenticated && entry.apiKey === ApiKey.SaslAuthenticate) return; // read whole: noteAuthentication
    const d = this.fromUpstream;
    const size = d.peekInt32(0);
    if (size === null || size + 4 < CUT_THROUGH_MIN_BYTES || d.peekInt32(4) !== entry.correlationId) return;
    this.responseSize = size + 4;
    this.responseLeft = this.responseSize - d.bufferedBytes;
    for (const piece of d.takeBuffered()) this.clientWrite(piece);
  }

  private clientWrite(bytes: Buffer): void {
    this.client.write(bytes);
    this.limits.tapClientBytes?.(this.route.name, bytes);
  }

  private onResponseFrame(frame: Buffer): void {
    const entry = this.inFlight.shift();
    if (entry === undefined) {
      this.close(CloseReason.ProtocolViolation, 'the broker sent a response to no outstanding request');
      return;
    }
    if (entry.raw) {
      // The answer to the last raw SASL token (SaslHandshake v0): the broker closes the connection instead of answering a failed one.
      if (!this.authenticated && this.rawTokensExpected === 0 && !this.inFlight.some((e) => e.raw)) this.authenticated = true;
      this.toClient(frame, entry);
      this.flushLocal();
      return;
    }
    if (frame.length < 8) {
      this.close(CloseReason.MalformedResponse, this.unreadableResponse(`a frame of ${frame.length} bytes is too short for a response header`, entry));
      return;
    }
    const correlationId = peekResponseCorrelationId(frame);
    if (correlationId !== entry.correlationId) {
      this.close(CloseReason.ProtocolViolation, `the broker answered correlation id ${correlationId} while ${entry.correlationId} was expected`);
      return;
    }
    if (!this.authenticated && entry.apiKey === ApiKey.SaslAuthenticate) this.noteAuthentication(frame, entry.apiVersion);
    if (entry.internal === true) {
      // The gateway's own request (LeaveGroup at a switch, a filter's lookup): nothing for the client.
      entry.onInternal?.(frame);
    } else if (this.gated !== null) {
      this.gated.push({ frame: Buffer.from(frame), entry });
      this.gatedBytes += frame.length;
      // Bounded: at most one frame past the buffer cap waits for the lookup.
      if (this.gatedBytes > this.limits.maxFrameBytes + this.limits.maxBufferedBytes) {
        this.close(CloseReason.ProtocolViolation, `${this.gatedBytes} bytes of responses waited behind a filter's lookup; the connection closes`);
      }
      return;
    } else if (entry.filters === null) {
      this.toClient(frame, entry);
    } else {
      try {
        this.filterResponse(frame, entry, entry.filters);
      } catch (err) {
        this.close(CloseReason.MalformedResponse, this.unreadableResponse((err as Error).message, entry));
        return;
      }
    }
    this.flushLocal();
  }

  /** The log detail of a broker's answer the gateway cannot read: which request it answers, from which broker, and why. */
  private unreadableResponse(why: string, entry: InFlight | undefined): string {
    const answer = entry === undefined ? 'a response' : `the response to ${apiName(entry.apiKey)} v${entry.apiVersion} (correlation id ${entry.correlationId})`;
    return `${answer} from broker ${this.upstreamAddress} of streaming domain "${this.domain}" is unreadable: ${why}`;
  }

  /** A SaslAuthenticate answer without an error: from now on the connection counts as authenticated. */
  private noteAuthentication(frame: Buffer, apiVersion: number): void {
    try {
      if (decodeResponse<SaslAuthenticateResponse>(frame, ApiKey.SaslAuthenticate, apiVersion).body.errorCode === 0) this.authenticated = true;
    } catch {
      // Unreadable: the client will not get far either; it stays unauthenticated.
    }
  }

  private filterResponse(frame: Buffer, entry: InFlight, filters: ProxyFilter[], prepared = false): void {
    let version = entry.apiVersion;
    let decoded: DecodedResponse;
    try {
      decoded = decodeResponse(frame, entry.apiKey, version);
    } catch (err) {
      // A broker that does not support the requested ApiVersions version answers in v0.
      if (entry.apiKey !== ApiKey.ApiVersions) throw err;
      version = 0;
      decoded = decodeResponse(frame, entry.apiKey, 0);
    }
    if (!prepared) {
      let lookups: Promise<unknown>[] | null = null;
      for (const f of filters) {
        const lookup = f.prepareResponse?.(this, entry.apiKey, version, decoded);
        if (lookup !== undefined) (lookups ??= []).push(lookup);
      }
      if (lookups !== null) {
        // This answer and every later one wait until the filter can rewrite it.
        this.gated = [{ frame: Buffer.from(frame), entry }];
        this.gatedBytes = frame.length;
        void Promise.allSettled(lookups).then(() => this.ungate());
        return;
      }
    }
    let changed = false;
    for (const f of filters) changed = f.onResponse!(this, entry.apiKey, version, decoded) || changed;
    if (!changed) {
      this.toClient(frame, entry);
      return;
    }
    const chunks = encodeResponseChunks(entry.apiKey, version, decoded.header, decoded.body);
    let size = 0;
    for (const c of chunks) {
      this.client.write(c);
      this.limits.tapClientBytes?.(this.route.name, c);
      size += c.length;
    }
    this.responded(entry, size);
  }

  private toClient(frame: Buffer, entry: InFlight): void {
    this.clientWrite(frame);
    this.responded(entry, frame.length);
  }

  private responded(entry: InFlight, bytes: number): void {
    this.metrics.bytesOut.inc(bytes);
    entry.metrics?.duration.observe((performance.now() - entry.startedAt) / 1000);
  }

  /** The lookup the first gated response waited for is done: it and those behind it go on, in order. */
  private ungate(): void {
    const queue = this.gated;
    this.gated = null;
    if (queue === null || this.closed) return;
    this.client.cork();
    let current: InFlight | undefined;
    try {
      for (let i = 0; i < queue.length; i++) {
        if (this.gated !== null) {
          // Another answer behind it needs a lookup of its own.
          (this.gated as { frame: Buffer; entry: InFlight }[]).push(...queue.slice(i));
          return;
        }
        const { frame, entry } = queue[i];
        current = entry;
        if (entry.filters === null) this.toClient(frame, entry);
        else this.filterResponse(frame, entry, entry.filters, i === 0);
        if (this.closed) return;
      }
    } catch (err) {
      this.close(CloseReason.MalformedResponse, this.unreadableResponse((err as Error).message, current));
      return;
    } finally {
      this.client.uncork();
    }
    this.flushLocal();
  }

  /** Sends gateway-made responses that have reached the head of the queue. */
  private flushLocal(): void {
    if (this.gated !== null) return; // they come after the gated answers
    while (this.inFlight.length > 0 && this.inFlight[0].local !== null) {
      const entry = this.inFlight.shift()!;
      this.toClient(entry.local!, entry);
    }
    this.checkDrained();
  }

  // ---- backpressure -----------------------------------------------------------------------

  private pauseClient(): void {
    if (this.clientPaused) return;
    this.clientPaused = true;
    this.client.pause();
  }

  private resumeClient(): void {
    if (!this.clientPaused || this.closed || this.draining) return;
    const buffered = this.upstream === null ? this.waitingBytes : this.upstream.writableLength;
    if (buffered > this.limits.maxBufferedBytes || this.heldBytes > this.limits.maxBufferedBytes) return;
    // A large frame that waited to be cut through: forward it now if it can be.
    if (this.requestLeft === 0 && this.fromClient.bufferedBytes > 0) {
      this.partialRequest();
      if (this.closed) return;
      if (this.requestLeft === 0 && this.fromClient.bufferedBytes >= this.limits.maxBufferedBytes) return;
    }
    this.account();
    if (this.overBudget()) {
      this.limits.budget!.wait(this.resumeFromBudget);
      return;
    }
    this.clientPaused = false;
    this.client.resume();
  }

  /** The process is over its buffered-bytes budget and this connection holds some of it. */
  private overBudget(): boolean {
    const budget = this.limits.budget;
    return budget?.over === true && this.accounted > 0;
  }

  /** Reports this connection's buffered bytes to the process's budget. */
  account(): void {
    const budget = this.limits.budget;
    if (budget === undefined) return;
    const now = this.closed
      ? 0
      : this.fromClient.bufferedBytes +
        this.fromUpstream.bufferedBytes +
        this.heldBytes +
        (this.gated === null ? 0 : this.gatedBytes) +
        this.waitingBytes +
        this.client.writableLength +
        (this.upstream?.writableLength ?? 0);
    // Recorded first: adjust() may wake waiters, this connection among them, which count again.
    const before = this.accounted;
    this.accounted = now;
    budget.adjust(before, now);
  }

  /**
   * Called periodically by the listener: closes a passthrough connection that has not
   * authenticated in time, and one with nothing in flight that has sent nothing for too long.
   */
  checkDeadlines(now: number): void {
    if (this.closed) return;
    this.account();
    const auth = this.limits.authenticationTimeoutMs ?? 0;
    if (!this.authenticated && auth > 0 && now - this.openedAt > auth) {
      this.close(CloseReason.AuthenticationTimeout, `not authenticated within ${auth} ms (gateway.limits.authenticationTimeoutMs)`);
      return;
    }
    const idle = this.limits.connectionsMaxIdleMs ?? 0;
    if (idle > 0 && now - this.lastReceived > idle && this.inFlight.length === 0 && this.held === null && this.requestLeft === 0 && this.responseLeft === 0) {
      this.close(CloseReason.IdleTimeout, `nothing in flight and nothing received for ${idle} ms (gateway.limits.connectionsMaxIdleMs)`);
    }
  }

  private pauseUpstream(): void {
    if (this.upstreamPaused || this.upstream === null) return;
    this.upstreamPaused = true;
    this.upstream.pause();
  }

  private resumeUpstream(): void {
    if (!this.upstreamPaused || this.closed || this.upstream === null) return;
    if (this.client.writableLength > this.limits.maxBufferedBytes) return;
    this.account();
    if (this.overBudget()) {
      this.limits.budget!.wait(this.resumeFromBudget);
      return;
    }
    this.upstreamPaused = false;
    this.upstream.resume();
  }

  // ---- closing ------------------------------------------------------------------------------

  /** Why the client went away: in the middle of a frame, while waiting for answers, or idle. */
  private clientGoneReason(): CloseReason {
    if (this.fromClient.bufferedBytes > 0 || this.requestLeft > 0) return CloseReason.ClientMidRequest;
    return this.inFlight.some((e) => !e.raw && e.local === null) ? CloseReason.ClientClosedInFlight : CloseReason.ClientClosed;
  }

  private checkDrained(): void {
    if (!this.draining || this.inFlight.length > 0 || this.requestLeft > 0 || this.gated !== null) return;
    if (this.drainReason === CloseReason.Switchover && (groupMembers(this)?.size ?? 0) > 0) {
      // Joined while the switch drained the connection (a JoinGroup answered after the retire
      // began): out of the old cluster's group too, before the connection closes.
      this.leaveGroups();
      if (this.inFlight.length > 0) return;
    }
    this.close(this.drainReason);
  }

  /** Closes both sides once; logs one line with the reason and counts errors. */
  close(reason: CloseReason, detail?: string, fields?: Record<string, unknown>): void {
    if (this.closed) return;
    this.closed = true;
    this.limits.budget?.cancel(this.resumeFromBudget);
    const pending = this.inFlight.filter((e) => !e.raw && e.local === null && e.internal !== true);
    for (const e of this.inFlight) e.onInternal?.(null);
    if (reason === CloseReason.UpstreamClosed || reason === CloseReason.UpstreamError) {
      for (const e of pending) this.metrics.requestError(e.apiKey, reason);
    }
    this.inFlight.length = 0;
    this.gated = null;
    this.waiting = [];
    this.held = null;
    this.heldBytes = 0;
    this.clearRejoinFetchTimer();
    // A broker that goes away while requests wait for answers is an error; an idle close is not.
    if (BY_LIMIT.has(reason)) this.metrics.closedByLimit(reason);
    if (NORMAL.has(reason) && !(reason === CloseReason.UpstreamClosed && pending.length > 0)) {
      this.log.debug({ reason, detail, pendingRequests: pending.length }, 'connection closed');
    } else {
      this.metrics.connectionError(reason);
      const line = { reason, detail, pendingRequests: pending.length, ...fields };
      // Many clients failing the same way give one line, then a count per window (limits.ts).
      if (this.limits.warnings === undefined) this.log.warn(line, 'connection closed');
      else this.limits.warnings.warn(this.log, `${this.route.name}/${reason}`, line, 'connection closed');
    }
    // Responses already written are flushed before the FIN (end), then the sockets are released.
    this.client.end();
    this.upstream?.end();
    setTimeout(() => {
      this.client.destroy();
      this.upstream?.destroy();
    }, 1000).unref();
    this.metrics.connectionsActive.dec();
    this.account(); // closed: gives back everything it counted
    if (reason !== CloseReason.Switchover) {
      // Members that joined through this connection stay in their groups on this cluster; a switch
      // takes them out through another connection to the same broker.
      const members = groupMembers(this);
      if (members !== null && members.size > 0)
        this.route.orphanMembers(
          this.epoch,
          this.slotKey,
          [...members].map(([groupId, member]) => ({ groupId, member })),
        );
    }
    this.onClosed(this);
    this.drainedResolve?.();
    this.drainedResolve = null;
  }

  /** Forcibly closes both sockets (shutdown or drain timeout). */
  destroy(reason: CloseReason = CloseReason.Shutdown): void {
    this.close(reason);
    this.client.destroy();
    this.upstream?.destroy();
  }
}
