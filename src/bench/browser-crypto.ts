// The Chromium part of the crypto benchmark: bundles ./browser-crypto-page.ts (src/core and crypto-js, unchanged)
// with esbuild, serves it from 127.0.0.1 (a secure context, so crypto.subtle exists), and runs the same sizes
// and method as in Node inside the page. Skipped, with the reason recorded, when Chromium is not there.
import { existsSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { CHROMIUM_PATH, launchChromium } from './chromium.ts';
import type { SizeMeasurement } from './crypto.ts';
import type { PageBench } from './browser-crypto-page.ts';
import { CRYPTO_SIZES, type CryptoSize } from './types.ts';

/** Longest one size may take in the page (1 MiB through CryptoJS is the slow one). */
const SIZE_TIMEOUT_MS = 120_000;

/** Browser figures per size, or only `browser` saying why there are none. */
export interface BrowserCryptoResult {
  /** e.g. "Chromium 140.0.7339.80", or "not measured: …". */
  browser: string;
  /** Name of the provider the page used (the SDK default there: WebCrypto). */
  provider: string;
  sizes?: Record<CryptoSize, SizeMeasurement>;
}

async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./browser-crypto-page.ts', import.meta.url))],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    // crypto.ts loads these lazily and only in Node; the page never reaches them.
    external: ['node:*', 'esbuild', 'playwright-core'],
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

async function serve(script: string): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.url === '/bench.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    else
      res
        .writeHead(200, {
          'content-type': 'text/html',
          'content-security-policy': "default-src 'none'; script-src 'self'",
        })
        .end('<!doctype html><title>hush crypto bench</title><script src="/bench.js"></script>');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return server;
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every crypto size in headless Chromium; never throws for a missing or failing browser, says why instead. */
export async function runBrowserCryptoBench(opts: {
  progress: (line: string) => void;
  timing: { batches: number; batchMs: number };
}): Promise<BrowserCryptoResult> {
  if (!existsSync(CHROMIUM_PATH)) {
    return { browser: `not measured: ${CHROMIUM_PATH} not found`, provider: 'webcrypto' };
  }
  let server: http.Server | undefined;
  let browser: Browser | undefined;
  try {
    server = await serve(await bundlePage());
    browser = await launchChromium();
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`);
    await within(
      page.waitForFunction(() => 'hushCryptoBench' in globalThis),
      30_000,
      `loading the bench page${pageErrors.length ? ` (${pageErrors.join('; ')})` : ''}`,
    );
    const name = `Chromium ${browser.version()}`;
    const provider = await page.evaluate(
      () => (globalThis as unknown as { hushCryptoBench: PageBench }).hushCryptoBench.provider,
    );
    const sizes = {} as Record<CryptoSize, SizeMeasurement>;
    for (const size of CRYPTO_SIZES) {
      const measured = await within(
        page.evaluate(
          ([bytes, timing]) =>
            (globalThis as unknown as { hushCryptoBench: PageBench }).hushCryptoBench.measure(bytes, timing),
          [Number(size), opts.timing] as const,
        ),
        SIZE_TIMEOUT_MS,
        `browser crypto ${size} B`,
      );
      sizes[size] = measured;
      const hush = measured.providers[provider]!;
      opts.progress(
        `crypto ${size} B in ${name}: hush ${hush.hush_us} µs (${provider}), group ${hush.group_hush_us} µs, ` +
          `cryptojs ${measured.cryptojs_us} µs, ${(measured.cryptojs_us / hush.hush_us).toFixed(2)}x`,
      );
    }
    return { browser: name, provider, sizes };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    opts.progress(`crypto in Chromium: not measured: ${reason}`);
    return { browser: `not measured: ${reason}`, provider: 'webcrypto' };
  } finally {
    await browser?.close();
    if (server) await new Promise((resolve) => server!.close(resolve));
  }
}
