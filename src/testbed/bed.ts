// The test bed: every cluster and MirrorMaker of one run, started on first request by name and
// shared afterwards, all under one run folder. It lives in exactly one process per run: the test
// runner (served to test files by service.ts), or the process of a test file run alone.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KafkaCluster } from './cluster.ts';
import { TestBedError, TestBedErrorCode } from './errors.ts';
import { MirrorMaker } from './mirror-maker.ts';
import type { ClusterInfo, ClusterSpec, MirrorMakerInfo, MirrorMakerSpec } from './types.ts';
import { DEFAULT_KAFKA_VERSION } from './versions.ts';

interface Entry<T> {
  readonly key: string;
  readonly started: Promise<T>;
}

export interface StartupTiming {
  readonly kind: 'cluster' | 'mirror-maker';
  readonly name: string;
  readonly version: string;
  readonly startupMs: number;
}

export class TestBed {
  readonly runDir: string;
  readonly #clusters = new Map<string, Entry<KafkaCluster>>();
  readonly #mirrorMakers = new Map<string, Entry<MirrorMaker>>();
  #stopping: Promise<void> | undefined;

  constructor(runDir: string = mkdtempSync(join(tmpdir(), 'turnout-run-'))) {
    this.runDir = runDir;
  }

  /** Starts the cluster on its first request; later requests with the same spec share it. */
  async cluster(spec: ClusterSpec): Promise<ClusterInfo> {
    return (await this.#clusterNamed(spec)).info();
  }

  async mirrorMaker(spec: MirrorMakerSpec): Promise<MirrorMakerInfo> {
    const key = JSON.stringify({
      source: spec.source,
      target: spec.target,
      kafkaVersion: spec.kafkaVersion ?? null,
      topics: spec.topics ?? '.*',
      groups: spec.groups ?? '.*',
      config: spec.config ?? {},
      bothWays: spec.bothWays ?? false,
    });
    const entry = this.#shared(this.#mirrorMakers, spec.name, key, 'MirrorMaker', async () => {
      const [source, target] = await Promise.all([this.#existing(spec.source), this.#existing(spec.target)]);
      return MirrorMaker.start(spec, source, target, this.runDir);
    });
    return (await entry).info();
  }

  async stopBroker(cluster: string, nodeId: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<ClusterInfo> {
    const c = await this.#existing(cluster);
    await c.stopBroker(nodeId, signal);
    return c.info();
  }

  async startBroker(cluster: string, nodeId: number): Promise<ClusterInfo> {
    const c = await this.#existing(cluster);
    await c.startBroker(nodeId);
    return c.info();
  }

  async stopCluster(name: string): Promise<void> {
    const c = await this.#existing(name);
    this.#clusters.delete(name);
    await c.stop();
  }

  async stopMirrorMaker(name: string): Promise<void> {
    const entry = this.#mirrorMakers.get(name);
    if (!entry) return;
    this.#mirrorMakers.delete(name);
    await (await entry.started).stop();
  }

  /** Start-up time of everything started so far. */
  async timings(): Promise<StartupTiming[]> {
    const settled = async <T>(entries: Map<string, Entry<T>>) =>
      (await Promise.allSettled([...entries.values()].map((e) => e.started))).flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const clusters = (await settled(this.#clusters)).map(
      (c): StartupTiming => ({ kind: 'cluster', name: c.name, version: c.version, startupMs: c.info().startupMs }),
    );
    const mms = (await settled(this.#mirrorMakers)).map(
      (m): StartupTiming => ({ kind: 'mirror-maker', name: m.spec.name, version: m.version, startupMs: m.info().startupMs }),
    );
    return [...clusters, ...mms];
  }

  /** Stops MirrorMakers, then clusters. Safe to call more than once. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      const stopAll = async <T extends { stop(): Promise<void> }>(entries: Map<string, Entry<T>>) => {
        const started = await Promise.allSettled([...entries.values()].map((e) => e.started));
        entries.clear();
        await Promise.all(started.map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
      };
      await stopAll(this.#mirrorMakers);
      await stopAll(this.#clusters);
    })();
    return this.#stopping;
  }

  removeRunDir(): void {
    rmSync(this.runDir, { recursive: true, force: true });
  }

  #clusterNamed(spec: ClusterSpec): Promise<KafkaCluster> {
    const key = JSON.stringify({
      brokers: spec.brokers ?? 1,
      kafkaVersion: spec.kafkaVersion ?? DEFAULT_KAFKA_VERSION,
      nodeIdBase: spec.nodeIdBase ?? 1,
      brokerConfig: spec.brokerConfig ?? {},
    });
    return this.#shared(this.#clusters, spec.name, key, 'cluster', () => KafkaCluster.start(spec, this.runDir));
  }

  #shared<T>(entries: Map<string, Entry<T>>, name: string, key: string, kind: string, start: () => Promise<T>): Promise<T> {
    if (this.#stopping) return Promise.reject(new TestBedError(TestBedErrorCode.Stopped, `the test bed is stopping; cannot start ${kind} "${name}"`));
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name)) {
      return Promise.reject(
        new TestBedError(
          TestBedErrorCode.SpecConflict,
          `${kind} name "${name}" must be letters, digits, "-" or "_" (it names folders and MirrorMaker aliases)`,
        ),
      );
    }
    const existing = entries.get(name);
    if (existing) {
      if (existing.key !== key) {
        return Promise.reject(
          new TestBedError(
            TestBedErrorCode.SpecConflict,
            `${kind} "${name}" was already started with ${existing.key}, now requested with ${key}; use another name`,
          ),
        );
      }
      return existing.started;
    }
    const started = start();
    entries.set(name, { key, started });
    // A failed start is not cached: the next request tries again.
    started.catch(() => entries.get(name)?.started === started && entries.delete(name));
    return started;
  }

  async #existing(name: string): Promise<KafkaCluster> {
    const entry = this.#clusters.get(name);
    if (!entry) {
      const known = [...this.#clusters.keys()].join(', ') || 'none';
      throw new TestBedError(
        TestBedErrorCode.UnknownCluster,
        `no cluster named "${name}" was started in this test bed (started: ${known}); request it with cluster() first`,
      );
    }
    return entry.started;
  }
}
