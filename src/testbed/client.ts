// testBed(): how a test reaches the Kafka test bed. Under the runner (scripts/test.ts) it talks to
// the runner's test bed service, so clusters start once per run and are shared by all test files;
// when a test file runs alone (`node --test file.ts`) it starts its own TestBed in-process and
// stops it when the process exits. Kafka's command line tools always run in the calling process.
import { request } from 'node:http';
import { TestBed } from './bed.ts';
import { type TestBedErrorCode as Code, TestBedError, TestBedErrorCode } from './errors.ts';
import { killAllSync } from './processes.ts';
import { dispatch, TESTBED_URL_ENV, type TestBedMethod } from './service.ts';
import { type KafkaTools, kafkaTools } from './tools.ts';
import { type ClusterDescriptor, type ClusterInfo, type ClusterSpec, describeCluster, type MirrorMakerInfo, type MirrorMakerSpec } from './types.ts';
import { DEFAULT_KAFKA_VERSION } from './versions.ts';

export interface TestBedApi {
  /** 'service' under the test runner, 'local' when this process owns the clusters. */
  readonly mode: 'service' | 'local';
  cluster(spec: ClusterSpec): Promise<ClusterDescriptor>;
  mirrorMaker(spec: MirrorMakerSpec): Promise<MirrorMakerInfo>;
  /** Stops one broker: a controlled shutdown, or a crash (SIGKILL) with `kill: true`. */
  stopBroker(cluster: string, nodeId: number, options?: { kill?: boolean }): Promise<ClusterDescriptor>;
  startBroker(cluster: string, nodeId: number): Promise<ClusterDescriptor>;
  stopCluster(name: string): Promise<void>;
  stopMirrorMaker(name: string): Promise<void>;
  /** Kafka's command line tools of `version` (default: the default Kafka version). */
  tools(version?: string): Promise<KafkaTools>;
}

type Call = (method: TestBedMethod, args: unknown[]) => Promise<unknown>;

function api(mode: TestBedApi['mode'], call: Call): TestBedApi {
  const cluster = async (method: TestBedMethod, args: unknown[]) => describeCluster((await call(method, args)) as ClusterInfo);
  return {
    mode,
    cluster: (spec) => cluster('cluster', [spec]),
    mirrorMaker: async (spec) => (await call('mirrorMaker', [spec])) as MirrorMakerInfo,
    stopBroker: (name, nodeId, options) => cluster('stopBroker', [name, nodeId, options?.kill ? 'SIGKILL' : 'SIGTERM']),
    startBroker: (name, nodeId) => cluster('startBroker', [name, nodeId]),
    stopCluster: async (name) => void (await call('stopCluster', [name])),
    stopMirrorMaker: async (name) => void (await call('stopMirrorMaker', [name])),
    tools: (version = DEFAULT_KAFKA_VERSION) => kafkaTools(version),
  };
}

let instance: TestBedApi | undefined;

/** The test bed of this run (see the file comment). */
export async function testBed(): Promise<TestBedApi> {
  if (instance) return instance;
  const url = process.env[TESTBED_URL_ENV];
  instance = url ? api('service', (method, args) => remoteCall(url, method, args)) : localBed();
  return instance;
}

function localBed(): TestBedApi {
  const bed = new TestBed();
  // When the tests are done the event loop empties (JVM handles do not hold it): stop the JVMs
  // properly then. The exit hook below covers process.exit() and crashes, which skip beforeExit.
  let stopped = false;
  process.on('beforeExit', () => {
    if (stopped) return;
    stopped = true;
    void bed.stop();
  });
  process.on('exit', (code) => {
    killAllSync();
    if (code === 0 && !process.env.TURNOUT_KEEP_LOGS) bed.removeRunDir();
    else process.stderr.write(`turnout test bed: broker and MirrorMaker logs are in ${bed.runDir}\n`);
  });
  return api('local', (method, args) => dispatch(bed, method, args));
}

function remoteCall(baseUrl: string, method: TestBedMethod, args: unknown[]): Promise<unknown> {
  const payload = JSON.stringify(args);
  return new Promise((resolve, reject) => {
    const req = request(
      `${baseUrl}/${method}`,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (data += chunk));
        res.on('end', () => {
          try {
            const body = JSON.parse(data) as { result?: unknown; error?: { code: Code; message: string } };
            if (body.error) reject(new TestBedError(body.error.code, body.error.message));
            else resolve(body.result);
          } catch (err) {
            reject(
              new TestBedError(TestBedErrorCode.ServiceFailed, `bad answer from the test bed service at ${baseUrl}: ${data.slice(0, 500)}`, { cause: err }),
            );
          }
        });
      },
    );
    req.on('error', (err) =>
      reject(
        new TestBedError(
          TestBedErrorCode.ServiceFailed,
          `the test bed service at ${baseUrl} (${TESTBED_URL_ENV}) is unreachable: ${err.message}. Was the test runner stopped?`,
          { cause: err },
        ),
      ),
    );
    req.end(payload);
  });
}
