// The test bed service: a loopback HTTP JSON endpoint through which test files (each in its own
// process under `node --test`) share the clusters of the runner's one TestBed. Every request is
// `POST /<method>` with a JSON array of arguments; the answer is {result} or {error:{code,message}}.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestBed } from './bed.ts';
import { TestBedError, TestBedErrorCode } from './errors.ts';
import { LOOPBACK } from './ports.ts';

export const TESTBED_URL_ENV = 'TURNOUT_TESTBED_URL';

/** The TestBed operations a test file may call, by name. */
export const TESTBED_METHODS = ['cluster', 'mirrorMaker', 'stopBroker', 'startBroker', 'stopCluster', 'stopMirrorMaker', 'timings'] as const;
export type TestBedMethod = (typeof TESTBED_METHODS)[number];

export function dispatch(bed: TestBed, method: string, args: unknown[]): Promise<unknown> {
  if (!(TESTBED_METHODS as readonly string[]).includes(method)) {
    return Promise.reject(new TestBedError(TestBedErrorCode.ServiceFailed, `unknown test bed method "${method}"`));
  }
  const fn = bed[method as TestBedMethod] as (...a: unknown[]) => Promise<unknown>;
  return fn.apply(bed, args);
}

export interface TestBedService {
  readonly url: string;
  close(): Promise<void>;
}

export async function startTestBedService(bed: TestBed): Promise<TestBedService> {
  const server = createServer(async (req, res) => {
    let status = 200;
    let body: unknown;
    try {
      const method = (req.url ?? '').replace(/^\//, '');
      const args = JSON.parse((await readBody(req)) || '[]') as unknown[];
      body = { result: (await dispatch(bed, method, args)) ?? null };
    } catch (err) {
      status = 500;
      const e = err as Error;
      body = { error: { code: e instanceof TestBedError ? e.code : 'TESTBED_SERVICE_FAILED', message: e.message } };
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  // Cluster starts may take a while; Node's default request timeout (300 s) would cut them off.
  server.requestTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${LOOPBACK}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (data += chunk));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}
