import type { Severity, Theme } from "./types";

// The site's colours become CSS custom properties. Text on a coloured surface is black
// or white, whichever contrasts more, so any configured colour stays readable.

const DEFAULTS: Theme = {
  primary: "#1f2937",
  link: "#1d4ed8",
  success: "#15803d",
  warning: "#b45309",
  danger: "#b91c1c",
  info: "#0e7490",
  textPrimary: "#111827",
  textSecondary: "#4b5563",
};

function valid(color: string | undefined, fallback: string): string {
  return color && /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(color) ? color : fallback;
}

function rgb(color: string): [number, number, number] {
  let hex = color.slice(1);
  if (hex.length === 3) hex = [...hex].map((c) => c + c).join("");
  return [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

function luminance(color: string): number {
  const [r, g, b] = rgb(color).map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function contrast(a: string, b: string): number {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

export function textOn(background: string): string {
  return contrast(background, "#ffffff") >= contrast(background, "#000000") ? "#ffffff" : "#000000";
}

/** `color` mixed with white; `amount` 0 keeps the colour, 1 is white. */
export function tint(color: string, amount: number): string {
  return (
    "#" +
    rgb(color)
      .map((v) => Math.round(v + (255 - v) * amount).toString(16).padStart(2, "0"))
      .join("")
  );
}

export function severityColor(theme: Theme, severity: Severity): string {
  switch (severity) {
    case "OUTAGE":
      return theme.danger;
    case "PARTIAL":
      return tint(theme.danger, 0.45);
    case "BUG":
      return theme.warning;
    case "NOTICE":
      return theme.link;
    case "MAINTENANCE":
      return theme.info;
  }
}

/** The configured colours, each replaced by its default unless it is a hex colour. */
export function themeOf(given: Partial<Theme> | undefined): Theme {
  return Object.fromEntries(
    Object.entries(DEFAULTS).map(([key, value]) => [key, valid(given?.[key as keyof Theme], value)]),
  ) as unknown as Theme;
}

export function applyTheme(given: Partial<Theme> | undefined): Theme {
  const theme = themeOf(given);
  const style = document.documentElement.style;
  for (const [key, value] of Object.entries(theme)) {
    style.setProperty(`--${key}`, value);
    style.setProperty(`--on-${key}`, textOn(value));
  }
  return theme;
}
