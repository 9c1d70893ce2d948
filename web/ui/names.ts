/** How people and chats are named in the UI (a display name when known, else the start of the client id). */
import type { ChatSummary } from '../../src/client/api.ts';
import type { AppClient } from '../app-client.ts';
import { h } from '../dom.ts';

/** Someone's name as seen from one chat (a former member keeps the name their contact has). */
export function memberName(client: AppClient, chat: ChatSummary | undefined, clientId: string): string {
  const member = chat?.members.find((m) => m.clientId === clientId);
  return member?.displayName ?? client.contact(clientId)?.displayName ?? clientId.slice(0, 8);
}

/** The other members of a chat (everyone but this device). */
export function otherMembers(client: AppClient, chat: ChatSummary): ChatSummary['members'] {
  return chat.members.filter((m) => m.clientId !== client.clientId);
}

/** True for a chat with a name (a group) — 1:1 chats have none and are named after the other person. */
export function isGroup(chat: ChatSummary): boolean {
  return chat.name !== undefined;
}

/** A chat's title: its name, or the other members' names. */
export function chatTitle(client: AppClient, chat: ChatSummary): string {
  if (chat.name) return chat.name;
  const others = otherMembers(client, chat);
  if (others.length === 0) return 'New chat (waiting for someone to join)';
  return others.map((m) => m.displayName ?? m.clientId.slice(0, 8)).join(', ');
}

/** The "verified" mark shown after the name of a contact whose safety number the user compared. */
export function verifiedMark(client: AppClient, clientId: string): HTMLElement | undefined {
  if (!client.contact(clientId)?.verified) return undefined;
  return h('span', {
    className: 'verified-mark',
    text: '✔',
    attrs: { title: 'Verified: you compared the safety number', 'aria-label': 'verified' },
  });
}
