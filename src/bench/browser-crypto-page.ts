// Bundled by esbuild into the Chromium page of the crypto benchmark (./browser-crypto.ts): the same measureSize as
// in Node, on the browser's own WebCrypto (the SDK's default provider there) and crypto-js's browser build.
import { defaultProvider } from '../core/crypto/index.ts';
import { benchPassphrase, hushSetup, measureSize, type HushSetup, type SizeMeasurement } from './crypto.ts';

let setup: HushSetup | undefined;
const passphrase = benchPassphrase();

/** What the Node side calls through page.evaluate. */
export interface PageBench {
  provider: string;
  measure(size: number, timing: { batches: number; batchMs: number }): Promise<SizeMeasurement>;
}

const bench: PageBench = {
  provider: defaultProvider().name,
  async measure(size, timing) {
    setup ??= await hushSetup(defaultProvider());
    return measureSize(size, [setup], passphrase, timing);
  },
};
(globalThis as unknown as { hushCryptoBench: PageBench }).hushCryptoBench = bench;
