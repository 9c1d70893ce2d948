// `hush bench` crypto and end-to-end parts (issue 8), run small: the figures are rough here and never asserted
// against a threshold (no timed assertions); what is checked is that each measured operation really does its
// job and that every figure is a usable number.
import { describe, expect, it } from 'vitest';
import { webCryptoProvider } from '../../src/core/crypto/webcrypto.ts';
import { nodeCryptoProvider } from '../../src/crypto-node/provider.ts';
import {
  benchText,
  cryptoJsRoundTrip,
  hushDirectRoundTrip,
  hushGroupRoundTrip,
  hushSetup,
  runCryptoBench,
  SMOKE_CRYPTO_TUNING,
} from '../../src/bench/crypto.ts';
import { runEndToEndBench, SMOKE_E2E_TUNING } from '../../src/bench/e2e.ts';
import { CRYPTO_SIZES } from '../../src/bench/types.ts';
import { openChatEnvelope, sealChatEnvelope } from '../../src/core/envelope.ts';
import { utf8 } from '../../src/core/bytes.ts';

const positive = (n: unknown): void => {
  expect(typeof n).toBe('number');
  expect(Number.isFinite(n)).toBe(true);
  expect(n as number).toBeGreaterThan(0);
};

describe('crypto bench', () => {
  it.each([webCryptoProvider, nodeCryptoProvider])(
    'the timed Hush round trips give back the text, and the wire does not contain it ($name)',
    async (provider) => {
      const setup = await hushSetup(provider);
      for (const text of ['', 'hi', 'grüße, 你好 🙂', benchText(4096), benchText(70_000)]) {
        expect(await hushDirectRoundTrip(setup, text)).toBe(text);
        expect(await hushGroupRoundTrip(setup, text)).toBe(text);
      }
      const secret = 'the quick brown fox jumps over the lazy dog';
      const wire = await sealChatEnvelope(provider, setup.keys, utf8(secret));
      expect(Buffer.from(wire).includes(Buffer.from(secret))).toBe(false);
      // Flipping one ciphertext bit must make the open fail: the round trip measures a checked AEAD.
      wire[wire.length - 20]! ^= 1;
      await expect(openChatEnvelope(provider, setup.keys, wire)).rejects.toThrow(/decryption failed/);
    },
  );

  it('the CryptoJS round trip gives back the text', () => {
    for (const text of ['hi', 'grüße, 你好 🙂', benchText(5000)]) {
      expect(cryptoJsRoundTrip('passphrase', text)).toBe(text);
    }
  });

  it('reports every size with positive figures for Hush (both providers) and CryptoJS, in Node and Chromium', async () => {
    const lines: string[] = [];
    const result = await runCryptoBench(
      { quick: true, progress: (line) => lines.push(line) },
      SMOKE_CRYPTO_TUNING,
    );
    expect(result.provider).toBe('node-crypto');
    for (const size of CRYPTO_SIZES) {
      const r = result[size];
      for (const n of [r.hush_us, r.cryptojs_us, r.speedup, r.group_hush_us]) positive(n);
      expect(r.speedup).toBeCloseTo(r.cryptojs_us / r.hush_us, 0);
      expect(Object.keys(r.providers).sort()).toEqual(['node-crypto', 'webcrypto']);
      for (const p of Object.values(r.providers)) for (const n of Object.values(p)) positive(n);
      expect(r.providers['node-crypto']!.hush_us).toBe(r.hush_us);
      for (const n of [r.browser_hush_us, r.browser_cryptojs_us, r.browser_speedup, r.browser_group_hush_us])
        positive(n);
    }
    expect(result.browser).toMatch(/^Chromium \d+/);
    expect(lines).toHaveLength(2 * CRYPTO_SIZES.length);
    expect(lines.at(-1)).toMatch(/^crypto 1048576 B in Chromium/);
    expect(lines[0]).toMatch(/^crypto 200 B: hush [\d.]+ µs/);
  }, 60_000);
});

describe('end-to-end bench', () => {
  it('two SDK clients chat through the embedded broker; latency and throughput are positive', async () => {
    const lines: string[] = [];
    const result = await runEndToEndBench(
      { quick: true, progress: (line) => lines.push(line) },
      SMOKE_E2E_TUNING,
    );
    positive(result.latency_p50_ms);
    positive(result.latency_p99_ms);
    positive(result.msgs_per_s);
    expect(result.latency_p99_ms).toBeGreaterThanOrEqual(result.latency_p50_ms);
    expect(result.latency_messages).toBe(12);
    expect(result.throughput_messages).toBeGreaterThan(0);
    expect(result.messages).toBe(12 + result.throughput_messages);
    expect(result.provider).toBe('node-crypto');
    expect(lines.some((l) => l.startsWith('e2e latency over 12 messages'))).toBe(true);
  }, 60_000);
});
