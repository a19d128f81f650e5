// Turnout's own connection to an upstream broker (not a client's): used to discover the
// cluster's brokers, check readiness, and later for switchover work. Requests are encoded and
// responses decoded with the codec; several requests may be in flight (matched by correlation id).
import type { Socket } from 'node:net';
import { formatHostPort } from '../config/endpoints.ts';
import type { HostPort, UpstreamSecurity } from '../config/types.ts';
import type { SaslAuthenticateResponse } from '../protocol/generated/messages/sasl-authenticate-response.ts';
import type { SaslHandshakeResponse } from '../protocol/generated/messages/sasl-handshake-response.ts';
import { ApiKey, decodeResponse, describeApiKey, encodeRequest, FrameDecoder, peekResponseCorrelationId } from '../protocol/index.ts';
import { connectUpstream } from './connect.ts';
import { UpstreamError, UpstreamErrorCode } from './errors.ts';

interface Pending {
  apiKey: number;
  apiVersion: number;
  resolve: (body: object) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export interface KafkaConnectionOptions {
  clientId?: string;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export class KafkaConnection {
  readonly endpoint: HostPort;
  private readonly socket: Socket;
  private readonly decoder = new FrameDecoder();
  private readonly pending = new Map<number, Pending>();
  private readonly clientId: string;
  private readonly requestTimeoutMs: number;
  private nextCorrelationId = 1;
  private closedWith: Error | null = null;

  private constructor(socket: Socket, endpoint: HostPort, opts: KafkaConnectionOptions) {
    this.socket = socket;
    this.endpoint = endpoint;
    this.clientId = opts.clientId ?? 'turnout';
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) =>
      this.fail(new UpstreamError(UpstreamErrorCode.Closed, `connection to ${formatHostPort(endpoint)} failed: ${err.message}`, { cause: err })),
    );
    socket.on('close', () => this.fail(new UpstreamError(UpstreamErrorCode.Closed, `${formatHostPort(endpoint)} closed the connection`)));
  }

  /** Opens a connection and authenticates when the listener uses SASL and credentials are given. */
  static async open(endpoint: HostPort, security: UpstreamSecurity, opts: KafkaConnectionOptions = {}): Promise<KafkaConnection> {
    const timeoutMs = opts.connectTimeoutMs ?? 10_000;
    const socket = await connectUpstream(endpoint, timeoutMs);
    const conn = new KafkaConnection(socket, endpoint, opts);
    try {
      if (security.protocol === 'SASL_PLAINTEXT' && security.sasl !== null) {
        await conn.authenticatePlain(security.sasl.username, security.sasl.password.reveal());
      }
    } catch (err) {
      conn.close();
      throw err;
    }
    return conn;
  }

  private async authenticatePlain(username: string, password: string): Promise<void> {
    const hs = await this.request<SaslHandshakeResponse>(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
    if (hs.errorCode !== 0) {
      throw new UpstreamError(
        UpstreamErrorCode.AuthenticationFailed,
        `${formatHostPort(this.endpoint)} does not accept SASL mechanism PLAIN (error ${hs.errorCode}; it offers ${hs.mechanisms.join(', ')})`,
      );
    }
    const token = Buffer.from(`\0${username}\0${password}`, 'utf8');
    const auth = await this.request<SaslAuthenticateResponse>(ApiKey.SaslAuthenticate, 1, { authBytes: token });
    if (auth.errorCode !== 0) {
      // The broker's message names the user at most; the password never appears in it.
      throw new UpstreamError(
        UpstreamErrorCode.AuthenticationFailed,
        `${formatHostPort(this.endpoint)} rejected Turnout's service credentials for user "${username}": ${auth.errorMessage ?? `error ${auth.errorCode}`}. Check the streaming domain's sasl settings.`,
      );
    }
  }

  request<T extends object>(apiKey: number, apiVersion: number, body: object): Promise<T> {
    if (this.closedWith !== null) return Promise.reject(this.closedWith);
    const correlationId = this.nextCorrelationId++;
    const frame = encodeRequest(
      { requestApiKey: apiKey, requestApiVersion: apiVersion, correlationId, clientId: this.clientId, _unknownTaggedFields: undefined },
      body,
    );
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(
          new UpstreamError(
            UpstreamErrorCode.Timeout,
            `${formatHostPort(this.endpoint)} did not answer a ${describeApiKey(apiKey)} request within ${this.requestTimeoutMs} ms`,
          ),
        );
      }, this.requestTimeoutMs);
      this.pending.set(correlationId, { apiKey, apiVersion, resolve: resolve as (b: object) => void, reject, timer });
      this.socket.write(frame);
    });
  }

  private onData(chunk: Buffer): void {
    try {
      this.decoder.push(chunk);
      for (let frame = this.decoder.next(); frame !== null; frame = this.decoder.next()) {
        const id = peekResponseCorrelationId(frame);
        const p = this.pending.get(id);
        if (p === undefined) continue;
        this.pending.delete(id);
        clearTimeout(p.timer);
        p.resolve(decodeResponse(frame, p.apiKey, p.apiVersion).body);
      }
    } catch (err) {
      this.fail(
        new UpstreamError(UpstreamErrorCode.Protocol, `unreadable response from ${formatHostPort(this.endpoint)}: ${(err as Error).message}`, { cause: err }),
      );
      this.socket.destroy();
    }
  }

  private fail(err: Error): void {
    if (this.closedWith === null) this.closedWith = err;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  close(): void {
    this.fail(new UpstreamError(UpstreamErrorCode.Closed, `connection to ${formatHostPort(this.endpoint)} was closed by Turnout`));
    this.socket.destroy();
  }
}
