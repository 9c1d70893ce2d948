/**
 * V8 settings for a broker process. V8 watches where objects are allocated and, when most objects from one
 * place in the code outlive a young-generation collection, allocates the later ones there straight into the
 * old generation ("allocation-site pretenuring"). A broker trips it: the code that parses and sets up a
 * burst of connections (which live long) is the code that parses every message (which lives a millisecond).
 * After 10,000 WebSocket connections came and went, every message's objects were pretenured, and CPU per
 * message rose by a third until the next full collection (`hush bench`: the memory step runs first).
 * The flag is read at each collection, so it can be set at run time, unlike heap sizes (bin/hush.js).
 */
import v8 from 'node:v8';

let applied = false;

/** Turns allocation-site pretenuring off for this process (idempotent). */
export function tuneV8ForBroker(): void {
  if (applied) return;
  applied = true;
  v8.setFlagsFromString('--no-allocation-site-pretenuring');
}
