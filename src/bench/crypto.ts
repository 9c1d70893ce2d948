// Crypto benchmark of `hush bench` (issue 8): one message sealed and opened by Hush's chat envelope against the
// seed's `CryptoJS.AES.encrypt(text, passphrase)` / `decrypt(...).toString(Utf8)`, at 200 B, 4 KiB, 64 KiB and
// 1 MiB: in this Node process on both providers (node:crypto, which the hush CLI gives the SDK, is the headline;
// WebCrypto, the SDK's default, beside it), then in headless Chromium on its WebCrypto (./browser-crypto.ts).
//
// Each round trip goes string → wire → string, as each scheme is used: Hush encodes UTF-8, pads, AES-256-GCM
// seals and opens (plus an Ed25519 signature in groups); CryptoJS derives key and IV from the passphrase (MD5),
// AES-256-CBC encrypts, base64-encodes, and the reverse. Epoch keys are derived once, as a chat does per epoch.
//
// Method: every contestant round-trips once and is checked before anything is timed; each is warmed up (which
// also calibrates how many round trips fill a batch), then batches run alternately, the order rotating each
// round so no contestant always runs after the same neighbour; the figure is the median over batches of µs per
// round trip.

import CryptoJS from 'crypto-js';
import { fromUtf8, randomBytes, toB64u, utf8 } from '../core/bytes.ts';
import { defaultProvider, type CryptoProvider, type SigningKeyPair } from '../core/crypto/index.ts';
import {
  deriveEpochKeys,
  openChatEnvelope,
  sealChatEnvelope,
  verifyContentSignature,
  type EpochKeys,
} from '../core/envelope.ts';
import { CRYPTO_SIZES, type CryptoBenchResult, type CryptoSize, type CryptoSizeResult } from './types.ts';

/** One size's figures, with the Hush figures of each provider Node can use beside the headline. */
export interface CryptoSizeDetail extends CryptoSizeResult {
  /** Hush figures per CryptoProvider ('node-crypto', 'webcrypto'); the headline is `provider`'s. */
  providers: Record<string, { hush_us: number; group_hush_us: number; speedup: number }>;
}

/** The crypto section: per size, plus which provider the headline figures use and how they were taken. */
export type CryptoBenchDetail = CryptoBenchResult &
  Record<CryptoSize, CryptoSizeDetail> & {
    /** The CryptoProvider behind hush_us / group_hush_us. */
    provider: string;
    /** Batches per contestant per size, and the target duration of one batch. */
    method: { batches: number; batch_ms: number; statistic: 'median of batch means' };
  };

/** Knobs for tests: fewer, shorter batches. The figures are then rough but the code path is the same. */
export interface CryptoBenchTuning {
  batches?: number;
  batchMs?: number;
  /** false skips the Chromium part. */
  browser?: boolean;
}

/** Tuning for a smoke run (`hush bench --smoke`, tests): one short batch per contestant, figures only rough. */
export const SMOKE_CRYPTO_TUNING: CryptoBenchTuning = { batches: 1, batchMs: 1 };

/** One round trip: text in, text out (what the receiver reads). */
type RoundTrip = (text: string) => Promise<string>;

/** A chat's keys and a member's signing key pair, made once and reused by every round trip. */
export interface HushSetup {
  provider: CryptoProvider;
  keys: EpochKeys;
  signer: SigningKeyPair;
}

/** Derives an epoch's keys from a fresh epoch key and makes a signing key pair with `provider`. */
export async function hushSetup(provider: CryptoProvider): Promise<HushSetup> {
  const [keys, signer] = await Promise.all([
    deriveEpochKeys(provider, randomBytes(32)),
    provider.generateSigningKeyPair(),
  ]);
  return { provider, keys, signer };
}

/** Seals and opens `text` as a 1:1 chat message (AEAD, no signature), as most messages travel. */
export async function hushDirectRoundTrip(setup: HushSetup, text: string): Promise<string> {
  const wire = await sealChatEnvelope(setup.provider, setup.keys, utf8(text));
  const opened = await openChatEnvelope(setup.provider, setup.keys, wire);
  if (opened.signature) throw new Error('bench: a 1:1 envelope came back signed');
  return fromUtf8(opened.content, 'bench');
}

/** Seals, opens and verifies `text` as a group message: AEAD plus the sender's Ed25519 signature. */
export async function hushGroupRoundTrip(setup: HushSetup, text: string): Promise<string> {
  const wire = await sealChatEnvelope(setup.provider, setup.keys, utf8(text), setup.signer);
  const opened = await openChatEnvelope(setup.provider, setup.keys, wire);
  if (
    !opened.signature ||
    !(await verifyContentSignature(
      setup.provider,
      setup.signer.publicKey,
      opened.header,
      opened.content,
      opened.signature,
    ))
  ) {
    throw new Error('bench: group envelope signature does not verify');
  }
  return fromUtf8(opened.content, 'bench');
}

/** The seed's scheme: `CryptoJS.AES.encrypt(text, passphrase).toString()`, then decrypt to UTF-8. */
export function cryptoJsRoundTrip(passphrase: string, text: string): string {
  const wire = CryptoJS.AES.encrypt(text, passphrase).toString();
  return CryptoJS.AES.decrypt(wire, passphrase).toString(CryptoJS.enc.Utf8);
}

/** `bytes` characters of ASCII text (one byte each in UTF-8), different every call. */
export function benchText(bytes: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz     ';
  const random = randomBytes(bytes);
  let out = '';
  for (let i = 0; i < bytes; i++) out += alphabet[random[i]! % alphabet.length];
  return out;
}

interface Contestant {
  name: string;
  run: RoundTrip;
  /** Round trips per batch, set by the warm-up. */
  iterations: number;
  samples: number[];
}

/** Mean µs per round trip over `iterations` sequential round trips. */
async function timeBatch(c: Contestant, text: string, iterations: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < iterations; i++) await c.run(text);
  return ((performance.now() - start) * 1000) / iterations;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Warms a contestant up for about `ms` (at least 2 round trips) and sizes its batches to about `batchMs`. */
async function warmUp(c: Contestant, text: string, ms: number, batchMs: number): Promise<void> {
  let done = 0;
  const start = performance.now();
  while (done < 2 || performance.now() - start < ms) {
    await c.run(text);
    done++;
  }
  const perRoundTripMs = (performance.now() - start) / done;
  c.iterations = Math.max(1, Math.min(100_000, Math.round(batchMs / perRoundTripMs)));
}

const round = (n: number, digits = 1): number => Number(n.toFixed(digits));

/** Median µs per round trip at one size: CryptoJS, and Hush 1:1 and group on each provider (by name). */
export interface SizeMeasurement {
  cryptojs_us: number;
  providers: Record<string, { hush_us: number; group_hush_us: number }>;
}

/**
 * Times one payload size: every contestant is checked, warmed up, then run in alternating batches. Uses only
 * src/core and crypto-js, so the same code runs in the browser page (./browser-crypto-page.ts).
 */
export async function measureSize(
  size: number,
  setups: HushSetup[],
  passphrase: string,
  timing: { batches: number; batchMs: number },
): Promise<SizeMeasurement> {
  const text = benchText(size);
  const contestant = (name: string, run: RoundTrip): Contestant => ({
    name,
    run,
    iterations: 1,
    samples: [],
  });
  const contestants: Contestant[] = [
    contestant('cryptojs', async (t) => cryptoJsRoundTrip(passphrase, t)),
    ...setups.flatMap((setup) => [
      contestant(`hush:${setup.provider.name}`, (t) => hushDirectRoundTrip(setup, t)),
      contestant(`group:${setup.provider.name}`, (t) => hushGroupRoundTrip(setup, t)),
    ]),
  ];
  for (const c of contestants) {
    if ((await c.run(text)) !== text) throw new Error(`bench: ${c.name} did not round-trip ${size} bytes`);
  }
  for (const c of contestants) await warmUp(c, text, timing.batchMs, timing.batchMs);
  for (let b = 0; b < timing.batches; b++) {
    for (let k = 0; k < contestants.length; k++) {
      const c = contestants[(b + k) % contestants.length]!;
      c.samples.push(await timeBatch(c, text, c.iterations));
    }
  }
  const us = (name: string): number => round(median(contestants.find((c) => c.name === name)!.samples));
  const providers: SizeMeasurement['providers'] = {};
  for (const { provider } of setups) {
    providers[provider.name] = {
      hush_us: us(`hush:${provider.name}`),
      group_hush_us: us(`group:${provider.name}`),
    };
  }
  return { cryptojs_us: us('cryptojs'), providers };
}

/** A random passphrase per chat, as the seed recommends (its strongest use). */
export const benchPassphrase = (): string => toB64u(randomBytes(24));

/**
 * Measures Hush's envelope (1:1 and group, on node:crypto and on the SDK's default WebCrypto provider) against
 * CryptoJS passphrase mode at each size, then the same in Chromium when it is there; `progress` gets one line
 * per size and per browser size.
 */
export async function runCryptoBench(
  opts: { quick: boolean; progress: (line: string) => void },
  tuning: CryptoBenchTuning = {},
): Promise<CryptoBenchDetail> {
  const timing = {
    batches: tuning.batches ?? (opts.quick ? 5 : 9),
    batchMs: tuning.batchMs ?? (opts.quick ? 25 : 120),
  };
  // Loaded here, not at the top: the browser page bundles this file and must not see node:crypto.
  const { nodeCryptoProvider } = await import('../crypto-node/provider.ts');
  // Hush's Node side (the CLI, hush chat/send/listen) gives the SDK node:crypto: that is the headline. The SDK's
  // own default, defaultProvider() (WebCrypto, what a browser runs), is measured beside it.
  const headline: CryptoProvider = nodeCryptoProvider;
  const providers = [headline, defaultProvider()].filter((p, i, all) => all.indexOf(p) === i);
  const setups = await Promise.all(providers.map(hushSetup));
  const passphrase = benchPassphrase();

  const result = {
    provider: headline.name,
    method: {
      batches: timing.batches,
      batch_ms: timing.batchMs,
      statistic: 'median of batch means' as const,
    },
  } as CryptoBenchDetail;
  for (const size of CRYPTO_SIZES) {
    const measured = await measureSize(Number(size), setups, passphrase, timing);
    const perProvider: CryptoSizeDetail['providers'] = {};
    for (const [name, figures] of Object.entries(measured.providers)) {
      perProvider[name] = { ...figures, speedup: round(measured.cryptojs_us / figures.hush_us, 2) };
    }
    const main = perProvider[headline.name]!;
    result[size] = {
      hush_us: main.hush_us,
      cryptojs_us: measured.cryptojs_us,
      speedup: main.speedup,
      group_hush_us: main.group_hush_us,
      providers: perProvider,
    };
    opts.progress(
      `crypto ${size} B: hush ${main.hush_us} µs (${headline.name}), group ${main.group_hush_us} µs, ` +
        `cryptojs ${measured.cryptojs_us} µs, ${main.speedup}x` +
        providers
          .filter((p) => p !== headline)
          .map(
            (p) => `; ${p.name}: hush ${perProvider[p.name]!.hush_us} µs (${perProvider[p.name]!.speedup}x)`,
          )
          .join(''),
    );
  }

  if (tuning.browser === false) return result;
  const { runBrowserCryptoBench } = await import('./browser-crypto.ts');
  const browser = await runBrowserCryptoBench({ ...opts, timing });
  result.browser = browser.browser;
  for (const size of CRYPTO_SIZES) {
    const figures = browser.sizes?.[size];
    if (!figures) continue;
    const hush = figures.providers[browser.provider]!;
    Object.assign(result[size], {
      browser_hush_us: hush.hush_us,
      browser_cryptojs_us: figures.cryptojs_us,
      browser_speedup: round(figures.cryptojs_us / hush.hush_us, 2),
      browser_group_hush_us: hush.group_hush_us,
    });
  }
  return result;
}
