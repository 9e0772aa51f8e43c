import type { MessageKey, Messages } from "./en";
import en from "./en";
import de from "./de";

// To add a language: copy en.ts, translate, and list it here.
export const LANGUAGES: Record<string, Messages> = { en, de };
const STORAGE_KEY = "monostat.language";

let messages: Messages = en;
let current = "en";

/** The visitor's choice, else the browser's languages, else the site's default. */
export function pickLanguage(siteDefault: string): string {
  const stored = safeStorage(() => localStorage.getItem(STORAGE_KEY));
  if (stored && stored in LANGUAGES) return stored;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const base = tag.toLowerCase().split("-")[0];
    if (base in LANGUAGES) return base;
  }
  const site = siteDefault.toLowerCase().split("-")[0];
  return site in LANGUAGES ? site : "en";
}

export function setLanguage(language: string, remember = false) {
  current = language in LANGUAGES ? language : "en";
  messages = LANGUAGES[current];
  document.documentElement.lang = current;
  if (remember) safeStorage(() => localStorage.setItem(STORAGE_KEY, current));
}

export function language(): string {
  return current;
}

export function t(key: MessageKey, values: Record<string, string | number> = {}): string {
  return messages[key].replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? ""));
}

function safeStorage<T>(action: () => T): T | null {
  try {
    return action();
  } catch {
    return null;
  }
}
