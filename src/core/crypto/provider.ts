/**
 * The crypto provider: every primitive src/core uses, behind one small interface, so the same protocol
 * code runs on WebCrypto in the browser and on a faster node:crypto provider in Node (WebCrypto costs
 * ~50 µs per call there). Implementations: ./webcrypto.ts (default, isomorphic) and
 * src/crypto-node/provider.ts (Node only, outside core).
 *
 * Private keys are opaque handles (`SigningPrivateKey`, `AgreementPrivateKey`): in the browser they are
 * non-extractable CryptoKeys that can be stored in IndexedDB but never exported. Symmetric keys are
 * bytes (epoch keys must be sealed to other members).
 */

/** An Ed25519 private key handle (a non-extractable CryptoKey under WebCrypto). */
export interface SigningPrivateKey {
  readonly kind: 'ed25519-private';
  readonly handle: unknown;
}
/** An X25519 private key handle. */
export interface AgreementPrivateKey {
  readonly kind: 'x25519-private';
  readonly handle: unknown;
}

export interface SigningKeyPair {
  privateKey: SigningPrivateKey;
  /** 32-byte raw Ed25519 public key. */
  publicKey: Uint8Array;
}
export interface AgreementKeyPair {
  privateKey: AgreementPrivateKey;
  /** 32-byte raw X25519 public key. */
  publicKey: Uint8Array;
}

export interface CryptoProvider {
  readonly name: string;
  /**
   * AES-256-GCM encryption; returns prefix ‖ ciphertext ‖ 16-byte tag (prefix empty if not given). The prefix
   * lets an envelope come out in one buffer instead of being copied once more behind its header.
   */
  aesGcmEncrypt(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    aad: Uint8Array,
    prefix?: Uint8Array,
  ): Promise<Uint8Array>;
  /** AES-256-GCM decryption; rejects (any error) when the tag does not verify. */
  aesGcmDecrypt(
    key: Uint8Array,
    nonce: Uint8Array,
    ciphertext: Uint8Array,
    aad: Uint8Array,
  ): Promise<Uint8Array>;
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Promise<Uint8Array>;
  hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array>;
  sha256(data: Uint8Array): Promise<Uint8Array>;
  sha512(data: Uint8Array): Promise<Uint8Array>;
  /** New Ed25519 key pair; `extractable: false` keeps the private key unexportable where the platform allows. */
  generateSigningKeyPair(extractable?: boolean): Promise<SigningKeyPair>;
  sign(privateKey: SigningPrivateKey, data: Uint8Array): Promise<Uint8Array>;
  verify(publicKey: Uint8Array, signature: Uint8Array, data: Uint8Array): Promise<boolean>;
  generateAgreementKeyPair(extractable?: boolean): Promise<AgreementKeyPair>;
  /** X25519(private, peerPublic) → 32-byte shared secret. */
  agree(privateKey: AgreementPrivateKey, peerPublic: Uint8Array): Promise<Uint8Array>;
  /** PKCS#8 export of an extractable private key (for file storage in Node profiles). */
  exportPrivateKey(key: SigningPrivateKey | AgreementPrivateKey): Promise<Uint8Array>;
  importSigningPrivateKey(pkcs8: Uint8Array, extractable?: boolean): Promise<SigningPrivateKey>;
  importAgreementPrivateKey(pkcs8: Uint8Array, extractable?: boolean): Promise<AgreementPrivateKey>;
}
