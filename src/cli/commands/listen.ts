/**
 * `hush listen --profile DIR [--json] [--count N] [--timeout S]` (DESIGN.md, "Scripting the chat"): holds the
 * profile (lock + socket, so a `hush send` on the same profile hands its work over instead of opening a second
 * connection) and prints each received text message on one line:
 *   human:  [chat] from: text        (control characters shown as \u escapes, so a sender cannot drive the terminal)
 *   --json: {"chat","from","text","id","ts","protection",…}
 * Messages a short command received while it held the profile are printed first (the listen backlog). Warnings
 * and chat changes go to stderr, and so does an own message that was not delivered (a recipient receipted a later
 * one first, or none within the bound): `hush: message ID (chat C): not delivered`, and `…: delivered` if a late
 * receipt clears it. Warnings that count messages (a coalesced flood of unreadable ones, a queue overflow, a
 * sequence gap) carry the count: `hush: warning: CODE [N] …`. --count counts text messages only; with --timeout, running out of time before
 * the count is reached is exit 1, without --count it is a normal end (exit 0).
 */
import type { Command } from 'commander';
import type { ReceivedText } from '../../client/api.ts';
import type { ChatClientLike } from '../profile/chat-client.ts';
import { UserError } from '../shared/errors.ts';
import { parseCount } from '../shared/options.ts';
import { appendBacklog, consumeBacklog, readBacklog } from '../profile/backlog.ts';
import { holdProfile, openProfileStore, type ProfileHolder } from '../profile/holder.ts';
import { ProfileLockedError } from '../profile/lock.ts';
import { parseSeconds } from './invite.ts';

interface ListenFlags {
  profile: string;
  json?: boolean;
  count?: number;
  timeout?: number;
}

/** Registers `hush listen`. */
export function registerListenCommand(program: Command): void {
  program
    .command('listen')
    .description('print received chat messages, one per line, while holding the profile')
    .requiredOption('--profile <dir>', 'profile directory')
    .option('--json', 'one JSON object per line: chat, from, text, id, ts, protection')
    .option('--count <n>', 'exit 0 after this many text messages', parseCount)
    .option('--timeout <seconds>', 'stop after this long (exit 1 if --count was not reached)', parseSeconds)
    .action(async (flags: ListenFlags) => {
      await runListen(flags);
    });
}

/** Escapes C0/C1 control characters and line/paragraph separators for a one-line terminal display. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** One output line for a received message. */
export function formatMessage(
  message: ReceivedText,
  options: { json: boolean; chatName?: string; fromName?: string },
): string {
  if (options.json) {
    return `${JSON.stringify({
      chat: message.chatId,
      from: message.from,
      text: message.text,
      id: message.id,
      ts: message.ts,
      protection: message.protection,
      ...(options.chatName !== undefined ? { chatName: options.chatName } : {}),
      ...(options.fromName !== undefined ? { fromName: options.fromName } : {}),
    })}\n`;
  }
  const chat = printable(options.chatName ?? message.chatId);
  const from = printable(options.fromName ?? message.from);
  const legacy = message.protection === 'legacy-unauthenticated' ? ' (legacy, unauthenticated)' : '';
  return `[${chat}] ${from}${legacy}: ${printable(message.text)}\n`;
}

/** Chat and member names for display, from the client's chat list (best effort). */
async function namesFor(
  client: ChatClientLike,
  message: ReceivedText,
): Promise<{ chatName?: string; fromName?: string }> {
  try {
    const chat = (await client.chats()).find((c) => c.chatId === message.chatId);
    const member = chat?.members.find((m) => m.clientId === message.from);
    return {
      ...(chat?.name !== undefined ? { chatName: chat.name } : {}),
      ...(member?.displayName !== undefined ? { fromName: member.displayName } : {}),
    };
  } catch {
    return {};
  }
}

/** How listen names an own message's state on stderr. */
function stateText(state: string): string {
  return state === 'undelivered' ? 'not delivered' : state;
}

function write(text: string): Promise<void> {
  return new Promise((resolve, reject) =>
    process.stdout.write(text, (error) => (error ? reject(error) : resolve())),
  );
}

async function runListen(flags: ListenFlags): Promise<void> {
  const json = flags.json === true;
  const want = flags.count;
  const store = await openProfileStore(flags.profile);
  let printed = 0;
  let finish: (outcome: { error?: UserError }) => void = () => undefined;
  const finished = new Promise<{ error?: UserError }>((resolve) => (finish = resolve));
  // Printing is sequential: one chain, so lines come out in arrival order even with async name look-ups.
  let printing: Promise<void> = Promise.resolve();
  let client: ChatClientLike | undefined;

  const print = (message: ReceivedText, fromBacklog: boolean) => {
    printing = printing.then(async () => {
      if (want !== undefined && printed >= want) {
        // Count reached: keep it for the next listen rather than dropping it (the SDK has acknowledged it).
        if (!fromBacklog) await appendBacklog(store, message);
        return;
      }
      const names = client ? await namesFor(client, message) : {};
      await write(formatMessage(message, { json, ...names }));
      printed += 1;
      if (want !== undefined && printed >= want) finish({});
    });
  };

  let holder: ProfileHolder;
  try {
    holder = await holdProfile(flags.profile, {
      keepBacklog: false,
      beforeConnect: async (opened) => {
        client = opened;
        // The backlog first, in order, before anything new arrives; removed once printed (what is left after
        // --count stays for the next listen).
        for (const message of await readBacklog(store)) print(message, true);
        await printing;
        await consumeBacklog(store, printed);
        opened.on('message', (message) => print(message, false));
        opened.on('warning', (warning) => {
          const where = warning.chatId !== undefined ? ` (chat ${warning.chatId})` : '';
          const count = warning.count !== undefined ? ` [${warning.count}]` : '';
          process.stderr.write(
            `hush: warning: ${warning.code}${count}${where}: ${printable(warning.detail)}\n`,
          );
        });
        // Stdout stays one received message per line; the fate of own messages is news for stderr.
        const flagged = new Set<string>();
        opened.on('message-state', ({ chatId, id, state }) => {
          if (state === 'undelivered') flagged.add(id);
          else if (!flagged.delete(id)) return;
          process.stderr.write(`hush: message ${id} (chat ${chatId}): ${stateText(state)}\n`);
        });
        opened.on('chat', ({ chatId, change }) => process.stderr.write(`hush: chat ${chatId}: ${change}\n`));
        let wasOnline = false;
        opened.on('connection', ({ state, detail }) => {
          if (state === 'replaced' || state === 'auth-failed') {
            finish({ error: new UserError(`listen: connection ${state}${detail ? `: ${detail}` : ''}`) });
          } else if (state === 'online') {
            if (wasOnline) process.stderr.write('hush: connection back\n');
            wasOnline = true;
          } else if (state === 'reconnecting' && wasOnline) {
            process.stderr.write('hush: connection lost, reconnecting\n');
          }
        });
      },
    });
  } catch (error) {
    if (error instanceof ProfileLockedError) {
      throw new UserError(
        `profile ${flags.profile} is already held by process ${error.pid} (another listen or chat); ` +
          `one device has one connection — stop that process first, or use 'hush send' which hands over to it`,
      );
    }
    throw error;
  }

  if (want !== undefined && printed >= want) finish({});

  const timer =
    flags.timeout !== undefined
      ? setTimeout(() => {
          if (want === undefined) finish({});
          else
            finish({
              error: new UserError(
                `listen: timed out after ${flags.timeout} s with ${printed} of ${want} messages`,
              ),
            });
        }, flags.timeout * 1000)
      : undefined;
  const onSignal = () => finish({});
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const outcome = await finished;
  if (timer) clearTimeout(timer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await printing;
  await holder.release();
  await printing; // messages that arrived while closing went to the backlog
  if (outcome.error) throw outcome.error;
}
