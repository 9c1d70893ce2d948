/**
 * A tiny DOM builder. Text only ever goes in through textContent (never innerHTML): decrypted messages and names
 * are data, not markup.
 */

export interface Props {
  className?: string;
  text?: string;
  attrs?: Record<string, string>;
  hidden?: boolean;
  on?: { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };
}

/** Creates an element with class, text (as text), attributes, listeners and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  children: Array<Node | undefined> = [],
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (props.className !== undefined) element.className = props.className;
  if (props.text !== undefined) element.textContent = props.text;
  if (props.hidden) element.hidden = true;
  for (const [name, value] of Object.entries(props.attrs ?? {})) element.setAttribute(name, value);
  for (const [type, handler] of Object.entries(props.on ?? {}))
    element.addEventListener(type, handler as EventListener);
  for (const child of children) if (child) element.append(child);
  return element;
}

/** Replaces the children of `parent`. */
export function mount(parent: Element, ...children: Node[]): void {
  parent.replaceChildren(...children);
}
