// What a username and a password may be, so that Mosquitto 2.0.11 reads back exactly what we wrote.
// Follows mosquitto_passwd's is_username_valid() and its 65535-byte limits
// (apps/mosquitto_passwd/mosquitto_passwd.c), plus cases it lets through but the broker then mangles:
// the broker reads a line starting with '#' as a comment, trims blanks around a username, and stops a
// password at its first NUL (strlen).
// Each check returns a problem sentence, or undefined when the value is fine; callers add the context.

const MAX_BYTES = 65535;
const encoder = new TextEncoder();

/** Why `username` cannot go into a password file, or undefined if it can. */
export function usernameProblem(username: string): string | undefined {
  if (username.length === 0) return 'username must not be empty';
  if (/\p{Cs}/u.test(username)) return 'username must be valid Unicode (it contains a lone surrogate)';
  if (encoder.encode(username).length > MAX_BYTES) return 'username must be less than 65536 bytes long';
  // \p{Cc} is C's iscntrl() (0-31, 127) plus the C1 controls, which are no more printable in UTF-8.
  if (/\p{Cc}/u.test(username)) return 'username must not contain control characters';
  if (username.includes(':')) return "username must not contain the ':' character";
  // The broker skips any line whose first character is '#' as a comment; mosquitto_passwd 2.0.11 still
  // writes such a user, who then can never log in.
  if (username.startsWith('#'))
    return "username must not start with '#' (Mosquitto would read the line as a comment)";
  // Mosquitto trims the username it reads from the file, so " bob" would be stored as one user and
  // checked as another: nobody could ever log in with it.
  if (username.startsWith(' ') || username.endsWith(' '))
    return 'username must not start or end with a space';
  return undefined;
}

/** Why `password` cannot be hashed for Mosquitto, or undefined if it can (the empty password can). */
export function passwordProblem(password: string): string | undefined {
  if (/\p{Cs}/u.test(password)) return 'password must be valid Unicode (it contains a lone surrogate)';
  if (encoder.encode(password).length > MAX_BYTES) return 'password must be less than 65536 bytes long';
  // Mosquitto hashes strlen(password) bytes, so everything after a NUL would silently not count.
  if (password.includes('\0')) return 'password must not contain a NUL character';
  return undefined;
}
