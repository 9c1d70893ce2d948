// The two CryptoProviders (WebCrypto, node:crypto) are interchangeable: same bytes for the same inputs, keys of
// one usable through the other's PKCS#8, the same refusals. Known-answer tests pin both to the standards.
import { describe, expect, it } from 'vitest';
import { agreementPublicKey, defaultProvider, type CryptoProvider } from '../../src/core/crypto/index.ts';
import { webCryptoProvider } from '../../src/core/crypto/webcrypto.ts';
import { nodeCryptoProvider } from '../../src/crypto-node/provider.ts';
import { utf8 } from '../../src/core/bytes.ts';
import { fromHex, toHex } from '../vectors/generate-envelopes.ts';

const providers: CryptoProvider[] = [webCryptoProvider, nodeCryptoProvider];
const bytes = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * 31 + seed) & 0xff);

describe('crypto providers', () => {
  it('the default provider is WebCrypto', () => {
    expect(defaultProvider()).toBe(webCryptoProvider);
  });

  it.each(providers)('$name passes RFC known answers (HKDF, HMAC, SHA-2, X25519, Ed25519)', async (p) => {
    // RFC 5869 test case 1.
    const okm = await p.hkdfSha256(
      fromHex('0b'.repeat(22)),
      fromHex('000102030405060708090a0b0c'),
      fromHex('f0f1f2f3f4f5f6f7f8f9'),
      42,
    );
    expect(toHex(okm)).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
    // RFC 4231 test case 2.
    expect(toHex(await p.hmacSha256(utf8('Jefe'), utf8('what do ya want for nothing?')))).toBe(
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
    expect(toHex(await p.sha256(utf8('abc')))).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(toHex((await p.sha512(utf8('abc'))).subarray(0, 16))).toBe('ddaf35a193617abacc417349ae204131');
    // RFC 7748 §6.1: Alice's key pair and the shared secret with Bob.
    const x25519Prefix = fromHex('302e020100300506032b656e04220420');
    const alice = await p.importAgreementPrivateKey(
      new Uint8Array([
        ...x25519Prefix,
        ...fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
      ]),
    );
    expect(toHex(await agreementPublicKey(p, alice))).toBe(
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    );
    expect(
      toHex(
        await p.agree(alice, fromHex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f')),
      ),
    ).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
    // RFC 8032 §7.1 TEST 1 (empty message).
    const ed25519Prefix = fromHex('302e020100300506032b657004220420');
    const signer = await p.importSigningPrivateKey(
      new Uint8Array([
        ...ed25519Prefix,
        ...fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'),
      ]),
    );
    const signature = await p.sign(signer, new Uint8Array(0));
    expect(toHex(signature)).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
    const publicKey = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(await p.verify(publicKey, signature, new Uint8Array(0))).toBe(true);
    expect(await p.verify(publicKey, signature, new Uint8Array(1))).toBe(false);
  });

  it('AES-256-GCM gives the same bytes on both providers, and each opens the other', async () => {
    for (const size of [0, 1, 15, 16, 17, 256, 4096, 65536 + 3]) {
      const key = bytes(32, size);
      const nonce = bytes(12, size + 1);
      const plaintext = bytes(size, 7);
      const aad = bytes(9, 3);
      const [web, node] = await Promise.all(
        providers.map((p) => p.aesGcmEncrypt(key, nonce, plaintext, aad)),
      );
      expect(node).toEqual(web);
      expect(web!.length).toBe(size + 16);
      expect(await nodeCryptoProvider.aesGcmDecrypt(key, nonce, web!, aad)).toEqual(plaintext);
      expect(await webCryptoProvider.aesGcmDecrypt(key, nonce, node!, aad)).toEqual(plaintext);
    }
  });

  it.each(providers)(
    '$name rejects a wrong tag, wrong AAD, short ciphertext and wrong key sizes',
    async (p) => {
      const key = bytes(32, 1);
      const nonce = bytes(12, 2);
      const sealed = await p.aesGcmEncrypt(key, nonce, utf8('secret'), utf8('aad'));
      const flipped = sealed.slice();
      flipped[flipped.length - 1]! ^= 1;
      await expect(p.aesGcmDecrypt(key, nonce, flipped, utf8('aad'))).rejects.toThrow();
      await expect(p.aesGcmDecrypt(key, nonce, sealed, utf8('aaD'))).rejects.toThrow();
      await expect(p.aesGcmDecrypt(key, nonce, sealed.subarray(0, 15), utf8('aad'))).rejects.toThrow();
      await expect(p.aesGcmEncrypt(bytes(16, 1), nonce, utf8('x'), utf8(''))).rejects.toThrow(/32 bytes/);
      await expect(p.aesGcmEncrypt(key, bytes(16, 1), utf8('x'), utf8(''))).rejects.toThrow(/12 bytes/);
    },
  );

  it('outputs are plain Uint8Arrays that own their memory (no Buffer, no view into a shared pool)', async () => {
    for (const p of providers) {
      const key = bytes(32, 1);
      const nonce = bytes(12, 1);
      const sealed = await p.aesGcmEncrypt(key, nonce, utf8('x'), utf8(''));
      const signing = await p.generateSigningKeyPair();
      const agreement = await p.generateAgreementKeyPair();
      for (const out of [
        await p.sha256(utf8('x')),
        await p.sha512(utf8('x')),
        await p.hmacSha256(key, utf8('x')),
        await p.hkdfSha256(key, utf8(''), utf8('i'), 32),
        sealed,
        await p.aesGcmDecrypt(key, nonce, sealed, utf8('')),
        await p.sign(signing.privateKey, utf8('x')),
        signing.publicKey,
        agreement.publicKey,
        await p.agree(agreement.privateKey, signing.publicKey),
      ]) {
        expect(Object.getPrototypeOf(out), p.name).toBe(Uint8Array.prototype);
        expect(out.buffer.byteLength, p.name).toBe(out.length);
      }
    }
  });

  it('the AES key cache does not mix up keys that share a prefix', async () => {
    const nonce = bytes(12, 0);
    const a = bytes(32, 5);
    const b = a.slice();
    b[31]! ^= 1;
    const ca = await webCryptoProvider.aesGcmEncrypt(a, nonce, utf8('m'), utf8(''));
    const cb = await webCryptoProvider.aesGcmEncrypt(b, nonce, utf8('m'), utf8(''));
    expect(ca).not.toEqual(cb);
    expect(ca).toEqual(await nodeCryptoProvider.aesGcmEncrypt(a, nonce, utf8('m'), utf8('')));
    expect(cb).toEqual(await nodeCryptoProvider.aesGcmEncrypt(b, nonce, utf8('m'), utf8('')));
    // A key mutated after use is the new key, not the cached old one.
    a.fill(0);
    expect(await webCryptoProvider.aesGcmEncrypt(a, nonce, utf8('m'), utf8(''))).toEqual(
      await nodeCryptoProvider.aesGcmEncrypt(a, nonce, utf8('m'), utf8('')),
    );
  });

  it('keys move between providers through PKCS#8; signatures and shared secrets are identical', async () => {
    const data = utf8('hush/v1 sig test');
    const signing = await nodeCryptoProvider.generateSigningKeyPair(true);
    const pkcs8 = await nodeCryptoProvider.exportPrivateKey(signing.privateKey);
    const webSigner = await webCryptoProvider.importSigningPrivateKey(pkcs8);
    const s1 = await nodeCryptoProvider.sign(signing.privateKey, data);
    const s2 = await webCryptoProvider.sign(webSigner, data);
    expect(s2).toEqual(s1);
    expect(await webCryptoProvider.verify(signing.publicKey, s1, data)).toBe(true);

    const a = await webCryptoProvider.generateAgreementKeyPair(true);
    const b = await nodeCryptoProvider.generateAgreementKeyPair(true);
    const aOnNode = await nodeCryptoProvider.importAgreementPrivateKey(
      await webCryptoProvider.exportPrivateKey(a.privateKey),
    );
    expect(await agreementPublicKey(nodeCryptoProvider, aOnNode)).toEqual(a.publicKey);
    expect(await agreementPublicKey(webCryptoProvider, a.privateKey)).toEqual(a.publicKey);
    expect(await webCryptoProvider.agree(a.privateKey, b.publicKey)).toEqual(
      await nodeCryptoProvider.agree(b.privateKey, a.publicKey),
    );
    expect(await nodeCryptoProvider.agree(aOnNode, b.publicKey)).toEqual(
      await webCryptoProvider.agree(a.privateKey, b.publicKey),
    );
  });

  it.each(providers)('$name keeps private keys non-extractable by default', async (p) => {
    const signing = await p.generateSigningKeyPair();
    const agreement = await p.generateAgreementKeyPair();
    await expect(p.exportPrivateKey(signing.privateKey)).rejects.toThrow(/not extractable/);
    await expect(p.exportPrivateKey(agreement.privateKey)).rejects.toThrow(/not extractable/);
    const pkcs8 = await p.exportPrivateKey((await p.generateSigningKeyPair(true)).privateKey);
    const imported = await p.importSigningPrivateKey(pkcs8);
    await expect(p.exportPrivateKey(imported)).rejects.toThrow(/not extractable/);
    expect(await p.exportPrivateKey(await p.importSigningPrivateKey(pkcs8, true))).toEqual(pkcs8);
  });

  it.each(providers)('$name refuses handles of the other provider and keys of the wrong kind', async (p) => {
    const other = p === webCryptoProvider ? nodeCryptoProvider : webCryptoProvider;
    const foreign = await other.generateSigningKeyPair();
    await expect(p.sign(foreign.privateKey, utf8('x'))).rejects.toThrow(/another provider/);
    const agreement = await p.generateAgreementKeyPair();
    // @ts-expect-error a key of the wrong kind, as a caller bug could pass
    await expect(p.sign(agreement.privateKey, utf8('x'))).rejects.toThrow(/ed25519-private/);
    const pkcs8 = await p.exportPrivateKey((await p.generateAgreementKeyPair(true)).privateKey);
    await expect(p.importSigningPrivateKey(pkcs8)).rejects.toThrow();
  });

  it.each(providers)(
    '$name: verify returns false (never throws) on hostile keys and signatures',
    async (p) => {
      const { publicKey, privateKey } = await p.generateSigningKeyPair();
      const signature = await p.sign(privateKey, utf8('m'));
      expect(await p.verify(publicKey.subarray(0, 31), signature, utf8('m'))).toBe(false);
      expect(await p.verify(publicKey, signature.subarray(0, 63), utf8('m'))).toBe(false);
      expect(await p.verify(new Uint8Array(32).fill(0xff), signature, utf8('m'))).toBe(false);
      expect(await p.verify(publicKey, new Uint8Array(64), utf8('m'))).toBe(false);
      // Every single-bit change of the signature fails (512 checks).
      for (let bit = 0; bit < 512; bit++) {
        const changed = signature.slice();
        changed[bit >> 3]! ^= 1 << (bit & 7);
        if (await p.verify(publicKey, changed, utf8('m')))
          expect.fail(`signature with bit ${bit} flipped verified`);
      }
    },
  );

  it.each(providers)('$name refuses an all-zero X25519 result (low-order peer key)', async (p) => {
    const { privateKey } = await p.generateAgreementKeyPair();
    await expect(p.agree(privateKey, new Uint8Array(32))).rejects.toThrow(/low-order/);
  });
});
