// Free loopback ports for brokers. Ports are picked below the kernel's ephemeral range (where
// bind(0) and outgoing client connections take theirs), checked by binding them, and never handed
// out twice by this process, so that clusters started side by side cannot collide.
import { createServer } from 'node:net';
import { TestBedError, TestBedErrorCode } from './errors.ts';

export const LOOPBACK = '127.0.0.1';
const LOW = 20_000;
const HIGH = 32_000;
const handedOut = new Set<number>();

export async function freePorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count && attempt < 500; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port) || !(await canBind(port))) continue;
    handedOut.add(port);
    ports.push(port);
  }
  if (ports.length < count) {
    throw new TestBedError(
      TestBedErrorCode.NoFreePort,
      `could not find ${count} free ports on ${LOOPBACK} between ${LOW} and ${HIGH}; stop leftover brokers (pgrep -af kafka.Kafka).`,
    );
  }
  return ports;
}

/** True when `port` is free on the loopback interface (checked by binding it exclusively). */
export function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: LOOPBACK, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
