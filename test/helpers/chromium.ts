/** The browser tests launch Chromium exactly as the benchmark does (src/bench/chromium.ts). */
export { launchChromium } from '../../src/bench/chromium.ts';
