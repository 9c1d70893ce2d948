// The envelope vectors (test/vectors/envelopes.json, docs/PROTOCOL.md §3–§4) are what the code produces today,
// with either provider, and every invalid vector fails with its stated code.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { webCryptoProvider } from '../../src/core/crypto/webcrypto.ts';
import { nodeCryptoProvider } from '../../src/crypto-node/provider.ts';
import { HushProtocolError } from '../../src/core/errors.ts';
import { utf8 } from '../../src/core/bytes.ts';
import { deriveEpochKeys, openChatEnvelope, verifyContentSignature } from '../../src/core/envelope.ts';
import { openDirectEnvelope } from '../../src/core/sealed-box.ts';
import {
  buildEnvelopeVectors,
  fromHex,
  toHex,
  VECTORS_PATH,
  x25519Pkcs8,
} from '../vectors/generate-envelopes.ts';

interface Vectors {
  keys: Record<string, string>;
  chat: {
    name: string;
    epochKey: string;
    signed: boolean;
    content: string;
    signature?: string;
    wire: string;
  }[];
  direct: {
    name: string;
    recipientPrivate: string;
    recipientPublic: string;
    content: string;
    signature: string;
    wire: string;
  }[];
  invalid: {
    name: string;
    type: 'chat' | 'direct';
    epochKey?: string;
    recipientPrivate?: string;
    wire: string;
    error: string;
  }[];
}
const file = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as Vectors;

describe.each([webCryptoProvider, nodeCryptoProvider])('envelope vectors with $name', (provider) => {
  it('the current code rebuilds envelopes.json byte for byte', async () => {
    expect(JSON.parse(JSON.stringify(await buildEnvelopeVectors(provider)))).toEqual(file);
  });

  it.each(file.chat)('opens chat vector "$name" and its signature verifies', async (v) => {
    const keys = await deriveEpochKeys(provider, fromHex(v.epochKey));
    const opened = await openChatEnvelope(provider, keys, fromHex(v.wire));
    expect(opened.content).toEqual(utf8(v.content));
    expect(opened.signature && toHex(opened.signature)).toBe(v.signature);
    if (v.signed) {
      const publicKey = fromHex(file.keys.signingPublic!);
      expect(
        await verifyContentSignature(provider, publicKey, opened.header, opened.content, opened.signature!),
      ).toBe(true);
    }
  });

  it.each(file.direct)('opens direct vector "$name" and its signature verifies', async (v) => {
    const privateKey = await provider.importAgreementPrivateKey(x25519Pkcs8(fromHex(v.recipientPrivate)));
    const opened = await openDirectEnvelope(
      provider,
      { privateKey, publicKey: fromHex(v.recipientPublic) },
      fromHex(v.wire),
    );
    expect(opened.content).toEqual(utf8(v.content));
    expect(toHex(opened.signature)).toBe(v.signature);
    const publicKey = fromHex(file.keys.signingPublic!);
    expect(
      await verifyContentSignature(provider, publicKey, opened.header, opened.content, opened.signature),
    ).toBe(true);
  });

  it.each(file.invalid)('rejects invalid vector "$name" with $error', async (v) => {
    let attempt: Promise<unknown>;
    if (v.type === 'chat') {
      attempt = openChatEnvelope(
        provider,
        await deriveEpochKeys(provider, fromHex(v.epochKey!)),
        fromHex(v.wire),
      );
    } else {
      const scalar = fromHex(v.recipientPrivate!);
      const publicKey =
        v.recipientPrivate === file.keys.recipientPrivate
          ? file.keys.recipientPublic!
          : file.keys.otherRecipientPublic!;
      const privateKey = await provider.importAgreementPrivateKey(x25519Pkcs8(scalar));
      attempt = openDirectEnvelope(provider, { privateKey, publicKey: fromHex(publicKey) }, fromHex(v.wire));
    }
    const error = await attempt.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HushProtocolError);
    expect((error as HushProtocolError).code).toBe(v.error);
  });
});
