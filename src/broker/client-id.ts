/**
 * Client id rules. Mosquitto only refuses `+` and `#`; Hush also refuses `/` (an id `a/b` turns
 * `chats/%c/messages` into a deeper topic another client may own) and anything outside base64url,
 * which is what Hush's 22-character random ids are made of.
 */
const VALID_CLIENT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Returns why a client id is refused, or undefined when it is acceptable. */
export function clientIdProblem(clientId: string): string | undefined {
  if (VALID_CLIENT_ID.test(clientId)) return undefined;
  if (clientId.length > 64) return `client id is ${clientId.length} characters; at most 64 are allowed`;
  return 'client id may only contain A-Z a-z 0-9 _ - (Hush refuses +, #, / and other characters)';
}
