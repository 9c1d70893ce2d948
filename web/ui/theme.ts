/**
 * Light/dark theme: follows the system (prefers-color-scheme) unless the user picked one, which is kept in
 * localStorage and applied as <html data-theme>. The stylesheet does the rest.
 */
import { h } from '../dom.ts';

export type ThemeChoice = 'system' | 'light' | 'dark';
const KEY = 'hush-theme';

function stored(): ThemeChoice {
  const value = localStorage.getItem(KEY);
  return value === 'light' || value === 'dark' ? value : 'system';
}

/** Applies the stored choice; call before the first paint. */
export function applyStoredTheme(): void {
  apply(stored());
}

function apply(choice: ThemeChoice): void {
  if (choice === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = choice;
}

/** A labelled select that switches the theme and remembers it. */
export function themePicker(): HTMLElement {
  const select = h('select', {
    attrs: { id: 'theme' },
    on: {
      change: () => {
        const choice = select.value as ThemeChoice;
        if (choice === 'system') localStorage.removeItem(KEY);
        else localStorage.setItem(KEY, choice);
        apply(choice);
      },
    },
  });
  for (const [value, label] of [
    ['system', 'Same as system'],
    ['light', 'Light'],
    ['dark', 'Dark'],
  ] as const)
    select.append(h('option', { text: label, attrs: { value } }));
  select.value = stored();
  return h('div', { className: 'field' }, [h('label', { text: 'Theme', attrs: { for: 'theme' } }), select]);
}
