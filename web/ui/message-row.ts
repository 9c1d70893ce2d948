/**
 * Draws one row of the message list: a day separator, a message bubble (sender, text, time, delivery state for
 * own messages, protection badges for received ones) or a notice (a refused or tampered message, a key change, a
 * member change). Decrypted text only ever goes in as textContent.
 */
import type { ChatSummary, StoredMessage } from '../../src/client/api.ts';
import type { AppClient } from '../app-client.ts';
import { h } from '../dom.ts';
import { clockTime } from './format.ts';
import { memberName, verifiedMark } from './names.ts';
import type { TimelineRow } from './timeline.ts';

const STATE_TEXT: Record<StoredMessage['state'], string> = {
  sending: 'Sending…',
  sent: 'Sent ✓',
  // A recipient never got it (it receipted a later message first, or none came in time); a late receipt clears it.
  undelivered: 'Not delivered',
  delivered: 'Delivered ✓✓',
  read: 'Read ✓✓',
  received: '',
};

const MEMBER_NOTICES = new Set(['member-added', 'member-removed', 'member-left']);

/** Badges for a received text that is not in the normal state (authenticated, from a verified contact). */
function protectionBadges(m: StoredMessage): HTMLElement[] {
  const badges: HTMLElement[] = [];
  if (m.protection === 'legacy-unauthenticated')
    badges.push(
      h('span', {
        className: 'badge warn',
        text: '⚠ Not authenticated (legacy format): anyone with the passphrase could have written this',
        attrs: { 'data-protection': 'legacy-unauthenticated' },
      }),
    );
  if (m.senderTrust === 'key-changed')
    badges.push(
      h('span', {
        className: 'badge warn',
        text: '⚠ Sent after the sender’s keys changed — compare the safety number',
        attrs: { 'data-trust': 'key-changed' },
      }),
    );
  else if (m.senderTrust === 'unverified')
    badges.push(
      h('span', {
        className: 'badge muted',
        text: 'unverified sender',
        attrs: {
          'data-trust': 'unverified',
          title: 'You have not compared safety numbers with this person yet',
        },
      }),
    );
  return badges;
}

/** A stable key for the virtual list. */
export function rowKey(row: TimelineRow): string {
  return row.key;
}

/** What must change for a row to be drawn again: state, protection, the sender's name and verified mark. */
export function rowVersion(client: AppClient, chat: ChatSummary | undefined, row: TimelineRow): string {
  if (row.kind === 'day') return row.label;
  const m = row.message;
  const verified = m.from !== '' && client.contact(m.from)?.verified ? 'v' : '';
  return `${m.state}|${m.protection ?? ''}|${m.senderTrust ?? ''}|${memberName(client, chat, m.from)}|${verified}`;
}

/** A height guess before a row is drawn: day separators are short, long texts wrap. */
export function rowEstimate(row: TimelineRow): number {
  if (row.kind === 'day') return 36;
  return 62 + Math.floor(row.message.text.length / 60) * 20;
}

/** The <li> for one row. */
export function renderRow(client: AppClient, chat: ChatSummary | undefined, row: TimelineRow): HTMLLIElement {
  if (row.kind === 'day')
    return h('li', { className: 'day', attrs: { 'data-day': row.key } }, [h('span', { text: row.label })]);
  const m = row.message;
  const time = h('time', { text: clockTime(m.ts), attrs: { datetime: new Date(m.ts).toISOString() } });
  if (m.kind === 'notice') {
    // Membership changes are news; everything else (a refused, tampered or undecryptable message, a key
    // change) is a warning and looks like one.
    const info = MEMBER_NOTICES.has(m.notice?.code ?? '');
    return h(
      'li',
      {
        className: info ? 'notice-row info' : 'notice-row warn',
        attrs: { 'data-id': m.id, 'data-code': m.notice?.code ?? '' },
      },
      [h('span', { className: 'notice-text', text: info ? m.text : `⚠ ${m.text}` }), time],
    );
  }
  const mine = m.from === client.clientId;
  const group = chat?.name !== undefined;
  const from =
    !mine && group
      ? h('span', { className: 'from' }, [
          document.createTextNode(memberName(client, chat, m.from)),
          verifiedMark(client, m.from),
        ])
      : undefined;
  const state = mine
    ? h('span', { className: 'state', text: STATE_TEXT[m.state], attrs: { 'data-state': m.state } })
    : undefined;
  return h('li', { className: mine ? 'message mine' : 'message theirs', attrs: { 'data-id': m.id } }, [
    h('div', { className: 'bubble' }, [
      from,
      h('span', { className: 'text', text: m.text }),
      ...(mine ? [] : protectionBadges(m)),
      h('span', { className: 'meta' }, [time, state]),
    ]),
  ]);
}
