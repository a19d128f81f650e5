// Topic ids through a route. Every cluster gives a topic an id of its own (MirrorMaker 2 creates
// the copies, so the same name has another id on each side). Clients remember ids: franz-go
// refuses to adopt a changed id for a topic it holds ("we do not adopt the new ID") and KIP-848
// assignments name topics only by id. So clients see one id per topic name and route, the same on
// every cluster, every gateway and every worker: derived from the route's and the topic's names.
// The gateway translates it to the id of the cluster it talks to, and back, learning each
// cluster's ids from the responses that carry both a name and an id, and from a listing of all
// topics when it meets an id it does not know.
import { createHash } from 'node:crypto';

const RESERVED = new Set([
  'AAAAAAAAAAAAAAAAAAAAAA', // Uuid.ZERO: no topic
  'AAAAAAAAAAAAAAAAAAAAAQ', // Uuid.ONE: the metadata topic's id
]);

/** The id clients of `route` see for topic `name`. */
export function routeTopicId(route: string, name: string): string {
  for (let salt = 0; ; salt++) {
    const id = createHash('sha256').update(`turnout topic id\0${route}\0${name}\0${salt}`).digest().subarray(0, 16).toString('base64url');
    // Kafka never hands out ids whose text starts with '-' (they read as command-line options).
    if (!RESERVED.has(id) && !id.startsWith('-')) return id;
  }
}

/** How often a cluster's whole topic list may be fetched to resolve unknown ids. */
const RELOAD_MIN_INTERVAL_MS = 5_000;
/** Bound on the names remembered per cluster (a hostile cluster is not the threat; memory is). */
const MAX_TOPICS = 1_000_000;

interface ClusterIds {
  nameById: Map<string, string>;
  idByName: Map<string, string>;
  loadedAt: number;
  loading: Promise<void> | null;
}

export class RouteTopicIds {
  readonly route: string;
  private readonly nameByRouteId = new Map<string, string>();
  private readonly routeIdByName = new Map<string, string>();
  private readonly clusters = new Map<string, ClusterIds>();

  constructor(route: string) {
    this.route = route;
  }

  /** The route's id for topic `name` (remembered, so that it can be mapped back). */
  routeId(name: string): string {
    let id = this.routeIdByName.get(name);
    if (id === undefined) {
      id = routeTopicId(this.route, name);
      if (this.routeIdByName.size < MAX_TOPICS) {
        this.routeIdByName.set(name, id);
        this.nameByRouteId.set(id, name);
      }
    }
    return id;
  }

  nameOfRouteId(id: string): string | undefined {
    return this.nameByRouteId.get(id);
  }

  private cluster(domain: string): ClusterIds {
    let c = this.clusters.get(domain);
    if (c === undefined) {
      c = { nameById: new Map(), idByName: new Map(), loadedAt: 0, loading: null };
      this.clusters.set(domain, c);
    }
    return c;
  }

  /** Cluster `domain` calls topic `name` by `id`. */
  learn(domain: string, name: string, id: string): void {
    if (RESERVED.has(id)) return;
    const c = this.cluster(domain);
    const known = c.idByName.get(name);
    if (known === id) return;
    if (known !== undefined) c.nameById.delete(known); // deleted and created again
    if (c.idByName.size >= MAX_TOPICS) return;
    c.idByName.set(name, id);
    c.nameById.set(id, name);
    this.routeId(name);
  }

  clusterId(domain: string, name: string): string | undefined {
    return this.clusters.get(domain)?.idByName.get(name);
  }

  nameOfClusterId(domain: string, id: string): string | undefined {
    return this.clusters.get(domain)?.nameById.get(id);
  }

  /** Whether the whole topic list of `domain` may be fetched now (never, or not in the last few seconds). */
  mayReload(domain: string): boolean {
    const c = this.cluster(domain);
    return c.loading !== null || Date.now() - c.loadedAt >= RELOAD_MIN_INTERVAL_MS;
  }

  /** Whether the whole topic list of `domain` was ever fetched here. */
  loaded(domain: string): boolean {
    return this.cluster(domain).loadedAt > 0;
  }

  /** Fetches the cluster's topic list with `list` (concurrent callers share one fetch); never rejects. */
  reload(domain: string, list: () => Promise<{ name: string; id: string }[]>): Promise<void> {
    const c = this.cluster(domain);
    c.loading ??= list()
      .then((topics) => {
        for (const t of topics) this.learn(domain, t.name, t.id);
      })
      .catch(() => undefined)
      .finally(() => {
        c.loadedAt = Date.now();
        c.loading = null;
      });
    return c.loading;
  }
}
