import { describe, expect, it } from 'vitest';
import { renderScreen, type TuiState } from '../../src/cli/tui/screen.ts';
import { displayWidth, fitToWidth, sanitizeForTerminal, wrapToWidth } from '../../src/cli/tui/sanitize.ts';

const ME = 'MeMeMeMeMeMeMeMeMeMeMe';
const BOB = 'BobBobBobBobBobBobBobB';

function state(overrides: Partial<TuiState> = {}): TuiState {
  return {
    width: 60,
    height: 12,
    me: ME,
    connection: 'online',
    chats: [
      {
        chatId: 'c1',
        members: [{ clientId: ME }, { clientId: BOB, displayName: 'bob' }],
        epoch: 1,
        unread: 2,
        me: { admin: true },
      },
      { chatId: 'c2', name: 'team', members: [{ clientId: ME }], epoch: 1, unread: 0, me: { admin: true } },
    ],
    selected: 0,
    messages: [
      { chatId: 'c1', id: '1', from: BOB, text: 'hello', ts: Date.UTC(2026, 0, 1, 9, 5), state: 'received' },
      { chatId: 'c1', id: '2', from: ME, text: 'hi bob', ts: Date.UTC(2026, 0, 1, 9, 6), state: 'delivered' },
    ],
    scroll: 0,
    typing: [],
    notice: '',
    input: '',
    ...overrides,
  };
}

describe('the hush chat screen', () => {
  it('is exactly height lines of exactly width columns', () => {
    const lines = renderScreen(state());
    expect(lines).toHaveLength(12);
    for (const line of lines) expect(displayWidth(line)).toBe(60);
  });

  it('shows the chat list with unread counts, the conversation with delivery marks, and the input', () => {
    const text = renderScreen(state({ input: 'typing here' })).join('\n');
    expect(text).toMatch(/▸ bob \(2\)/);
    expect(text).toMatch(/team/);
    expect(text).toMatch(/bob: hello/);
    expect(text).toMatch(/me: hi bob {2}✓✓/);
    expect(text).toMatch(/> typing here/);
    expect(text).toMatch(/Hush · MeMeMe · online/);
  });

  it('never passes control characters from a message to the terminal', () => {
    const evil = 'pwn\u001b]52;c;ZXZpbA==\u0007\u001b[2J\u009b31m\u202eabc';
    const lines = renderScreen(
      state({
        messages: [{ chatId: 'c1', id: '3', from: BOB, text: evil, ts: 0, state: 'received' }],
        notice: evil,
        input: evil,
      }),
    );
    // eslint-disable-next-line no-control-regex -- asserting their absence
    for (const line of lines) expect(line).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/);
  });

  it('keeps the newest messages visible and scrolls back on request', () => {
    const messages = Array.from({ length: 30 }, (_, i) => ({
      chatId: 'c1',
      id: String(i),
      from: BOB,
      text: `message ${i}`,
      ts: 0,
      state: 'received' as const,
    }));
    expect(renderScreen(state({ messages })).join('\n')).toContain('message 29');
    const scrolled = renderScreen(state({ messages, scroll: 20 })).join('\n');
    expect(scrolled).not.toContain('message 29');
    expect(scrolled).toContain('message 9');
  });
});

describe('the hush chat screen in seed mode', () => {
  it("uses each chat's own id to tell my messages and title apart", () => {
    const seedMe = 'SeedChatIdSeedChatIdAA';
    const text = renderScreen(
      state({
        me: 'seed mode',
        selfIds: { c1: seedMe },
        chats: [
          {
            chatId: 'c1',
            members: [{ clientId: seedMe }, { clientId: BOB, displayName: 'bob' }],
            epoch: 1,
            unread: 0,
            me: { admin: false },
          },
        ],
        messages: [{ chatId: 'c1', id: '9', from: seedMe, text: 'mine', ts: 0, state: 'sent' }],
      }),
    ).join('\n');
    expect(text).toMatch(/▸ bob/);
    expect(text).toMatch(/me: mine/);
    expect(text).toMatch(/Hush · seed mode · /);
  });
});

describe('terminal text helpers', () => {
  it('count wide characters as two columns and cut with an ellipsis', () => {
    expect(displayWidth('日本')).toBe(4);
    expect(fitToWidth('日本語テキスト', 7)).toBe('日本語…');
    expect(displayWidth(fitToWidth('日本語テキスト', 7))).toBe(7);
  });

  it('wrap at spaces and break words longer than a line', () => {
    expect(wrapToWidth('aaa bbb ccc', 7)).toEqual(['aaa bbb', 'ccc']);
    expect(wrapToWidth('x'.repeat(10), 4)).toEqual(['xxxx', 'xxxx', 'xx']);
  });

  it('show newlines as a visible mark', () => {
    expect(sanitizeForTerminal('a\nb')).toBe('a⏎b');
  });
});
