// Bundled by esbuild for the Chromium interop test: exposes src/core, unchanged, to the page.
import * as bytes from '../../src/core/bytes.ts';
import * as envelope from '../../src/core/envelope.ts';
import * as sealedBox from '../../src/core/sealed-box.ts';
import * as identity from '../../src/core/identity.ts';
import { defaultProvider } from '../../src/core/crypto/index.ts';

(globalThis as unknown as { hush: unknown }).hush = {
  bytes,
  envelope,
  sealedBox,
  identity,
  provider: defaultProvider(),
};
