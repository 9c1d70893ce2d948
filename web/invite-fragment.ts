/**
 * Invite links arrive as `#invite=…` in the address bar. The fragment is a bearer secret: it is read once and
 * removed from the address bar and the session history entry right away.
 */

/** The invite link in the address bar, if any, removing it from there. */
export function takeInviteFragment(): string | undefined {
  if (!location.hash.startsWith('#invite=')) return undefined;
  const link = location.href;
  history.replaceState(null, '', location.pathname + location.search);
  return link;
}
