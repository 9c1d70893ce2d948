/**
 * Builds the web app (issue 6) into dist/web: `npm run build:web`, or programmatically by the test suite's global
 * setup. No inline script or style ends up in index.html, so the server's CSP needs no 'unsafe-inline'.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  publicDir: 'public',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // No polyfill (it would be inline-able code) and no data: URLs for assets.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    // One bundle (SDK, core, MQTT.js, zod): code splitting comes with a later slice.
    chunkSizeWarningLimit: 1024,
  },
});
