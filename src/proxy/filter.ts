// The filter seam of the data path (Kroxylicious' idea): a filter says which requests and
// responses it needs to see; everything else crosses the gateway as opaque bytes. The protocol
// chores of a gateway (ApiVersions, broker addresses, SASL v0) are ordinary filters.

import type { Logger } from '../observability/log.ts';
import type { DecodedResponse } from '../protocol/index.ts';
import type { Route } from '../routing/route.ts';

/** What a connection offers to filters. */
export interface FilterContext {
  /** The connection's id (unique in the process). */
  readonly id: number;
  readonly route: Route;
  readonly log: Logger;
  /** Per-connection scratch space for filters (keyed by filter name). */
  readonly state: Map<string, unknown>;
  /** The client's IP address. */
  readonly clientHost: string;
  /** The route's switch epoch when the connection opened: its upstream is that epoch's cluster. */
  readonly epoch: number;
  /** The streaming domain of the connection's upstream. */
  readonly domain: string;
  /** The next `rounds` client frames are raw SASL tokens (SaslHandshake v0), not Kafka requests. */
  expectRawSaslTokens(rounds: number): void;
  /**
   * Sends a request of the gateway's own on this connection's upstream (authenticated as the
   * client, so it works with passthrough SASL) and resolves with the decoded response body.
   * Rejects when the connection closes first or the answer is unreadable.
   */
  internalRequest<T extends object>(apiKey: number, apiVersion: number, body: object): Promise<T>;
}

export type RequestAction =
  /** Answer the client locally with this response frame; nothing goes upstream. */
  | { respond: Buffer }
  /** Forward these bytes instead of the original frame. */
  | { replace: Buffer }
  /**
   * Not yet: the frame (and every later one, so that answers keep their order) waits until the
   * promise settles, then goes through the filters again. For lookups a filter needs first.
   */
  | { defer: Promise<unknown> };

export interface ProxyFilter {
  readonly name: string;
  /** Api keys whose requests this filter inspects (the filter decodes what it needs itself). */
  readonly requestApiKeys?: readonly number[];
  onRequest?(ctx: FilterContext, frame: Buffer, apiKey: number, apiVersion: number): RequestAction | undefined;
  /**
   * For api keys in requestApiKeys whose large requests the connection forwards as their bytes
   * arrive (Produce): false when this connection's next request must reach onRequest whole;
   * otherwise true, or a function that is shown every piece of the request before it goes
   * upstream. `head` is the start of the request that has arrived (about a kilobyte). The function
   * returns false to stop the request: that piece is not forwarded and the connection closes (the
   * broker never has the whole request, so it acts on none of it). Without this method, such
   * requests are always assembled for the filter.
   */
  cutThrough?(ctx: FilterContext, apiKey: number, head?: Buffer): boolean | ((piece: Uint8Array) => boolean | void);
  /** Whether the response to (apiKey, apiVersion) must be decoded for this filter. */
  wantsResponse?(apiKey: number, apiVersion: number): boolean;
  /**
   * For responses wantsResponse asked for: whether this one request's response is needed after
   * all, asked once its request went upstream (e.g. only when onRequest refused part of it).
   * Without this method, every such response is. Lets a filter that rarely acts keep a busy API's
   * responses (Produce) opaque.
   */
  needsResponse?(ctx: FilterContext, apiKey: number, correlationId: number): boolean;
  /**
   * Before onResponse: a lookup the filter needs first (an id it cannot place). The response, and
   * every later one of the connection, waits until it settles; then onResponse runs.
   */
  prepareResponse?(ctx: FilterContext, apiKey: number, apiVersion: number, response: DecodedResponse): Promise<unknown> | undefined;
  /** Inspects or edits a decoded response in place; returns true when it changed something. */
  onResponse?(ctx: FilterContext, apiKey: number, apiVersion: number, response: DecodedResponse): boolean;
}

/**
 * The filters of a route, with per-(api key, version) lookups precomputed so that the data path
 * does one array read per frame to learn that a frame is opaque.
 */
export class FilterChain {
  readonly filters: readonly ProxyFilter[];
  private readonly requestTable: (ProxyFilter[] | null)[] = [];
  private readonly responseTable: (ProxyFilter[] | null | undefined)[] = [];
  /** Per slot of responseTable: its filters without needsResponse (those that always need the response), or null. */
  private readonly alwaysTable: (ProxyFilter[] | null)[] = [];

  constructor(filters: ProxyFilter[]) {
    this.filters = filters;
    for (const f of filters) {
      for (const key of f.requestApiKeys ?? []) {
        (this.requestTable[key] ??= []).push(f);
      }
    }
  }

  /** Filters that inspect requests with this api key, or null. */
  requestFilters(apiKey: number): ProxyFilter[] | null {
    return apiKey >= 0 && apiKey < this.requestTable.length ? (this.requestTable[apiKey] ?? null) : null;
  }

  /** Filters that need the decoded response for (apiKey, apiVersion), or null when it is opaque. */
  responseFilters(apiKey: number, apiVersion: number): ProxyFilter[] | null {
    if (apiKey < 0 || apiKey > 0x3ff || apiVersion < 0 || apiVersion > 0x3f) return null;
    const slot = (apiKey << 6) | apiVersion;
    const cached = this.responseTable[slot];
    if (cached !== undefined) return cached;
    const wanted = this.filters.filter((f) => f.onResponse !== undefined && f.wantsResponse?.(apiKey, apiVersion) === true);
    const entry = wanted.length > 0 ? wanted : null;
    const always = wanted.filter((f) => f.needsResponse === undefined);
    this.responseTable[slot] = entry;
    this.alwaysTable[slot] = always.length === wanted.length ? entry : always.length > 0 ? always : null;
    return entry;
  }

  /**
   * The filters that need the response to one request, asked once it went upstream: as
   * responseFilters, except that filters with needsResponse are left out when they say no (all of
   * them run when one says yes). Allocates nothing.
   */
  responseFiltersFor(ctx: FilterContext, apiKey: number, apiVersion: number, correlationId: number): ProxyFilter[] | null {
    const all = this.responseFilters(apiKey, apiVersion);
    if (all === null) return null;
    const always = this.alwaysTable[(apiKey << 6) | apiVersion];
    if (always === all) return all;
    for (let i = 0; i < all.length; i++) {
      const f = all[i];
      if (f.needsResponse?.(ctx, apiKey, correlationId)) return all;
    }
    return always;
  }
}
