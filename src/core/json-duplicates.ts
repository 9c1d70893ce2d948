/**
 * Finds duplicate keys in JSON text. JSON.parse keeps the last of two equal keys, other parsers keep the
 * first: one signed content could then show different messages in two implementations. RFC 8259 only says
 * names SHOULD be unique, so the protocol makes it a MUST and this scanner enforces it. Runs on text that
 * JSON.parse already accepted, so it only needs to track strings, nesting and which strings are keys.
 */

/** Returns the first key that appears twice in one object, or undefined. */
export function findDuplicateKey(json: string): string | undefined {
  const stack: Array<Set<string> | null> = []; // a Set for objects, null for arrays
  let i = 0;
  while (i < json.length) {
    const c = json[i]!;
    if (c === '{') {
      stack.push(new Set());
      i++;
    } else if (c === '[') {
      stack.push(null);
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      const raw = json.slice(i, j + 1);
      i = j + 1;
      let k = i;
      while (k < json.length && (json[k] === ' ' || json[k] === '\n' || json[k] === '\r' || json[k] === '\t'))
        k++;
      const keys = stack[stack.length - 1];
      if (json[k] === ':' && keys) {
        // Compare decoded names: "a" and "\u0061" are the same key.
        const name = JSON.parse(raw) as string;
        if (keys.has(name)) return name;
        keys.add(name);
      }
    } else {
      i++;
    }
  }
  return undefined;
}
