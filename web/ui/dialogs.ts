/**
 * Modal dialogs on the native <dialog> element: focus moves into it, Escape closes it, the page behind is inert,
 * and focus returns to where it was. Used for confirmations and for the members and verification panels.
 */
import { h } from '../dom.ts';

/** Opens a modal dialog with `content`; returns a function that closes it. `onClose` runs once it is gone. */
export function openDialog(
  id: string,
  title: string,
  content: Node[],
  onClose: () => void = () => undefined,
): { dialog: HTMLDialogElement; close: () => void } {
  document.getElementById(id)?.remove();
  const back = document.activeElement instanceof HTMLElement ? document.activeElement : undefined;
  const heading = h('h2', { text: title, attrs: { id: `${id}-title` } });
  const closeButton = h('button', {
    text: 'Close',
    className: 'secondary',
    attrs: { type: 'button', 'data-close': '' },
  });
  const dialog = h('dialog', { className: 'panel', attrs: { id, 'aria-labelledby': `${id}-title` } }, [
    h('header', { className: 'panel-header' }, [heading, closeButton]),
    ...content,
  ]);
  const close = () => dialog.close();
  closeButton.addEventListener('click', close);
  dialog.addEventListener('close', () => {
    dialog.remove();
    onClose();
    if (back?.isConnected) back.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, close };
}

/** Asks a yes/no question in a modal dialog; resolves true only if the user pressed the confirm button. */
export function confirmAction(question: string, confirmLabel: string, detail?: string): Promise<boolean> {
  return new Promise((resolve) => {
    let answer = false;
    const yes = h('button', {
      text: confirmLabel,
      className: 'danger',
      attrs: { type: 'button', id: 'confirm-yes' },
    });
    const no = h('button', {
      text: 'Cancel',
      className: 'secondary',
      attrs: { type: 'button', id: 'confirm-no' },
    });
    const { close } = openDialog(
      'confirm',
      question,
      [...(detail ? [h('p', { text: detail })] : []), h('div', { className: 'actions' }, [no, yes])],
      () => resolve(answer),
    );
    yes.addEventListener('click', () => {
      answer = true;
      close();
    });
    no.addEventListener('click', close);
    no.focus();
  });
}
