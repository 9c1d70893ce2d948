// Entry point for crypto in src/core: the provider interface, the default (WebCrypto) provider and small
// helpers that work on any provider. Node callers may pass src/crypto-node/provider.ts instead: same bytes.

import type { AgreementPrivateKey, CryptoProvider } from './provider.ts';
import { webCryptoProvider } from './webcrypto.ts';

export type {
  AgreementKeyPair,
  AgreementPrivateKey,
  CryptoProvider,
  SigningKeyPair,
  SigningPrivateKey,
} from './provider.ts';
export { webCryptoProvider } from './webcrypto.ts';

/** The provider src/core uses when none is given: WebCrypto, available in browsers and Node alike. */
export function defaultProvider(): CryptoProvider {
  return webCryptoProvider;
}

/** The X25519 base point u = 9: X25519(k, 9) is k's public key. */
const X25519_BASE_POINT = new Uint8Array(32);
X25519_BASE_POINT[0] = 9;

/** The raw public key of an X25519 private key, even a non-extractable one, computed as X25519(private, 9). */
export function agreementPublicKey(
  provider: CryptoProvider,
  privateKey: AgreementPrivateKey,
): Promise<Uint8Array> {
  return provider.agree(privateKey, X25519_BASE_POINT);
}
