// Device identity, fingerprint and safety number: docs/PROTOCOL.md §1.
//
// A device is a client id (16 random bytes), a device secret (32 random bytes, the MQTT password), an Ed25519
// signing key and an X25519 agreement key. Its public identity (id, sign, agree) travels in invites and epoch
// announcements as `{"id", "sign", "agree"}` (b64u). The fingerprint is SHA-256 over a label and the public
// identity; the safety number is Signal's 60-digit construction (SHA-512 iterated 5200×, 30 digits per side).

import { z } from 'zod';
import * as bytes from './bytes.ts';
import { concat, fromB64u, toB64u, u16, utf8 } from './bytes.ts';
import type { AgreementKeyPair, CryptoProvider, SigningKeyPair } from './crypto/provider.ts';
import { fail, HushProtocolError } from './errors.ts';
import { isStrongSigningKey } from './signing-key.ts';

/** Bytes in a client id, chat id, message id or invite id. */
export const ID_BYTES = 16;
/** Bytes in an Ed25519 or X25519 public key. */
export const PUBLIC_KEY_BYTES = 32;
/** Iterations of SHA-512 in the safety number (after the first hash). */
export const SAFETY_NUMBER_ITERATIONS = 5200;

/** A device's full identity, private keys included; never leaves the device. */
export interface DeviceIdentity {
  /** b64u of 16 random bytes: MQTT client id and username. */
  clientId: string;
  /** b64u of 32 random bytes: MQTT password. */
  deviceSecret: string;
  signing: SigningKeyPair;
  agreement: AgreementKeyPair;
}

/** What other devices know of a device: its id and its two public keys. */
export interface PublicIdentity {
  id: string;
  sign: Uint8Array;
  agree: Uint8Array;
}

/** The JSON form of a public identity, as in invites and content (§5). */
export interface PublicIdentityJson {
  id: string;
  sign: string;
  agree: string;
}

/** True if `text` is canonical b64u of exactly `length` bytes. */
export function isB64uOfLength(text: string, length: number): boolean {
  try {
    fromB64u(text, 'value', length);
    return true;
  } catch {
    return false;
  }
}

/** A zod schema for canonical b64u of exactly `length` bytes. */
export const b64uBytes = (length: number) =>
  z.string().refine((s) => isB64uOfLength(s, length), { message: `expected b64u of ${length} bytes` });

/** A zod schema for a client id (b64u of 16 bytes, 22 characters). */
export const clientIdSchema = b64uBytes(ID_BYTES);

/** A zod schema for the JSON form of a public identity; extra fields are rejected. */
export const publicIdentityJsonSchema = z.strictObject({
  id: clientIdSchema,
  sign: b64uBytes(PUBLIC_KEY_BYTES),
  agree: b64uBytes(PUBLIC_KEY_BYTES),
});

/** True if `text` is a well-formed client id. */
export function isClientId(text: unknown): text is string {
  return typeof text === 'string' && isB64uOfLength(text, ID_BYTES);
}

/** Creates a new device: random client id and secret, fresh Ed25519 and X25519 key pairs. */
export async function createDeviceIdentity(
  provider: CryptoProvider,
  { extractable = false }: { extractable?: boolean } = {},
): Promise<DeviceIdentity> {
  const [signing, agreement] = await Promise.all([
    provider.generateSigningKeyPair(extractable),
    provider.generateAgreementKeyPair(extractable),
  ]);
  return {
    clientId: toB64u(bytes.randomBytes(ID_BYTES)),
    deviceSecret: toB64u(bytes.randomBytes(32)),
    signing,
    agreement,
  };
}

/** The public part of a device identity. */
export function publicIdentity(identity: DeviceIdentity): PublicIdentity {
  return {
    id: identity.clientId,
    sign: identity.signing.publicKey.slice(),
    agree: identity.agreement.publicKey.slice(),
  };
}

/** Checks a public identity's shape (id b64u(16), 32-byte keys); throws 'malformed' ("identity: …"). */
export function checkPublicIdentity(pub: PublicIdentity): PublicIdentity {
  if (!isClientId(pub.id))
    fail('malformed', `identity: client id must be b64u of 16 bytes, got ${JSON.stringify(pub.id)}`);
  if (!(pub.sign instanceof Uint8Array) || pub.sign.length !== PUBLIC_KEY_BYTES) {
    fail('malformed', `identity: signing key must be 32 bytes`);
  }
  if (!isStrongSigningKey(pub.sign)) {
    fail('malformed', 'identity: signing key is not a valid Ed25519 point of large order');
  }
  if (!(pub.agree instanceof Uint8Array) || pub.agree.length !== PUBLIC_KEY_BYTES) {
    fail('malformed', `identity: agreement key must be 32 bytes`);
  }
  return pub;
}

/** Serializes a public identity to its JSON form `{id, sign, agree}`. */
export function publicIdentityToJson(pub: PublicIdentity): PublicIdentityJson {
  checkPublicIdentity(pub);
  return { id: pub.id, sign: toB64u(pub.sign), agree: toB64u(pub.agree) };
}

/** Parses and validates the JSON form of a public identity; throws 'malformed' ("identity: …"). */
export function publicIdentityFromJson(value: unknown): PublicIdentity {
  const parsed = publicIdentityJsonSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    fail('malformed', `identity: not a public identity (${where}${issue?.message ?? 'invalid'})`);
  }
  return checkPublicIdentity({
    id: parsed.data.id,
    sign: fromB64u(parsed.data.sign, 'identity: sign', PUBLIC_KEY_BYTES),
    agree: fromB64u(parsed.data.agree, 'identity: agree', PUBLIC_KEY_BYTES),
  });
}

/** True if two public identities have the same id and the same two keys. */
export function samePublicIdentity(a: PublicIdentity, b: PublicIdentity): boolean {
  return a.id === b.id && bytes.equalBytes(a.sign, b.sign) && bytes.equalBytes(a.agree, b.agree);
}

/** The device fingerprint: first 16 bytes of SHA-256("hush/v1 fingerprint" ‖ id ‖ sign ‖ agree), hex in groups of 4. */
export async function fingerprint(provider: CryptoProvider, pub: PublicIdentity): Promise<string> {
  checkPublicIdentity(pub);
  const digest = await provider.sha256(
    concat(utf8('hush/v1 fingerprint'), fromB64u(pub.id, 'identity: id', ID_BYTES), pub.sign, pub.agree),
  );
  const hex = Array.from(digest.subarray(0, 16), (b) => b.toString(16).padStart(2, '0')).join('');
  return hex.match(/.{4}/g)!.join(' ');
}

/** The 30 digits one device contributes to a safety number (§1). */
export async function safetyNumberHalf(provider: CryptoProvider, pub: PublicIdentity): Promise<string> {
  checkPublicIdentity(pub);
  const keys = concat(pub.sign, pub.agree);
  let h = await provider.sha512(concat(u16(0), keys, utf8(pub.id)));
  for (let i = 0; i < SAFETY_NUMBER_ITERATIONS; i++) h = await provider.sha512(concat(h, keys));
  let digits = '';
  for (let chunk = 0; chunk < 6; chunk++) {
    let value = 0;
    // A u40 fits exactly in a double (< 2^53); multiply rather than shift to stay out of 32-bit arithmetic.
    for (let i = 0; i < 5; i++) value = value * 256 + h[chunk * 5 + i]!;
    digits += String(value % 100000).padStart(5, '0');
  }
  return digits;
}

/** The 60-digit safety number of two devices: both halves sorted as strings and joined; same on both sides. */
export async function safetyNumber(
  provider: CryptoProvider,
  a: PublicIdentity,
  b: PublicIdentity,
): Promise<string> {
  const [ha, hb] = await Promise.all([safetyNumberHalf(provider, a), safetyNumberHalf(provider, b)]);
  return ha <= hb ? ha + hb : hb + ha;
}

/** Shows a 60-digit safety number as 12 groups of 5 digits separated by spaces. */
export function formatSafetyNumber(number: string): string {
  if (!/^[0-9]{60}$/.test(number)) {
    throw new HushProtocolError(
      'malformed',
      `identity: a safety number is 60 digits, got ${number.length} characters`,
    );
  }
  return number.match(/.{5}/g)!.join(' ');
}
