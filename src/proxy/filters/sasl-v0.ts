// SASL with SaslHandshake v0 (KIP-43's original flow, still used by some clients): after a
// successful handshake the client sends raw SASL tokens, size-prefixed but without a Kafka
// request header, and the broker answers the same way. The gateway relays them as raw frames;
// this filter tells the connection how many to expect for the chosen mechanism.

import type { SaslHandshakeRequest } from '../../protocol/generated/messages/sasl-handshake-request.ts';
import type { SaslHandshakeResponse } from '../../protocol/generated/messages/sasl-handshake-response.ts';
import { ApiKey, type DecodedResponse, decodeRequest } from '../../protocol/index.ts';
import type { FilterContext, ProxyFilter, RequestAction } from '../filter.ts';

/** Client tokens per successful authentication, by mechanism. */
const ROUNDS: Record<string, number> = {
  PLAIN: 1,
  OAUTHBEARER: 1,
  'SCRAM-SHA-256': 2,
  'SCRAM-SHA-512': 2,
};

export class SaslV0Filter implements ProxyFilter {
  readonly name = 'sasl-v0';
  readonly requestApiKeys = [ApiKey.SaslHandshake];

  onRequest(ctx: FilterContext, frame: Buffer, _apiKey: number, apiVersion: number): RequestAction | undefined {
    if (apiVersion !== 0) return undefined;
    const req = decodeRequest<SaslHandshakeRequest>(frame).body;
    ctx.state.set(this.name, req.mechanism);
    return undefined;
  }

  wantsResponse(apiKey: number, apiVersion: number): boolean {
    return apiKey === ApiKey.SaslHandshake && apiVersion === 0;
  }

  onResponse(ctx: FilterContext, _apiKey: number, _apiVersion: number, response: DecodedResponse): boolean {
    const mechanism = ctx.state.get(this.name) as string | undefined;
    ctx.state.delete(this.name);
    if ((response.body as SaslHandshakeResponse).errorCode !== 0 || mechanism === undefined) return false;
    const rounds = ROUNDS[mechanism];
    if (rounds === undefined) {
      ctx.log.warn({ mechanism }, 'SASL mechanism with SaslHandshake v0 is not supported through the gateway; use a client with SaslAuthenticate (Kafka 1.0+)');
      ctx.expectRawSaslTokens(1);
    } else {
      ctx.expectRawSaslTokens(rounds);
    }
    return false;
  }
}
