import { language, t } from "./i18n";

// Times are shown in the visitor's own time zone and language, with a relative hint.

export function formatTime(iso: string): string {
  return new Intl.DateTimeFormat(language(), { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}

export function formatDate(date: string, timeZone = "UTC"): string {
  // A calendar date (YYYY-MM-DD) names a day, not an instant: show it as that day.
  return new Intl.DateTimeFormat(language(), { dateStyle: "long", timeZone }).format(
    new Date(`${date}T12:00:00Z`),
  );
}

export function relative(iso: string, now = Date.now()): string {
  const seconds = (new Date(iso).getTime() - now) / 1000;
  const format = new Intl.RelativeTimeFormat(language(), { numeric: "auto" });
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ["year", 31_536_000],
    ["month", 2_592_000],
    ["week", 604_800],
    ["day", 86_400],
    ["hour", 3_600],
    ["minute", 60],
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return t("justNow");
}

/** "Nov 28, 2026, 1:29 – 2:45 AM": the second date only where it differs. */
export function formatSpan(startIso: string, endIso: string): string {
  const format = new Intl.DateTimeFormat(language(), { dateStyle: "medium", timeStyle: "short" });
  return format.formatRange(new Date(startIso), new Date(endIso));
}

export function duration(startIso: string, endIso: string): string {
  const minutes = Math.max(0, Math.round((new Date(endIso).getTime() - new Date(startIso).getTime()) / 60_000));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const rest = minutes % 60;
  const unit = (value: number, name: "day" | "hour" | "minute") =>
    new Intl.NumberFormat(language(), { style: "unit", unit: name, unitDisplay: "short" }).format(value);
  const parts = [];
  if (days) parts.push(unit(days, "day"));
  if (hours) parts.push(unit(hours, "hour"));
  if (minutes === 0) return `< ${unit(1, "minute")}`;
  if (rest) parts.push(unit(rest, "minute"));
  return parts.join(" ");
}

/** The `YYYY-MM-DD` of today in a time zone. */
export function today(timeZone: string): string {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(
      new Date(),
    );
  } catch {
    return new Date().toISOString().slice(0, 10);
  }
}

export function isValidDate(date: string): boolean {
  const parsed = new Date(`${date}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === date;
}
