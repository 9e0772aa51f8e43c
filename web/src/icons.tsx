import type { IncidentStatus } from "./types";

// Inline SVG icons: no icon font, no extra request. Decorative: the text next to them
// says the same.

const PATHS: Record<string, string> = {
  check: "M5 12.5l4.5 4.5L19 7.5",
  alert: "M12 8v5M12 16.5v.5M10.3 3.9L2.6 17.3A2 2 0 004.3 20h15.4a2 2 0 001.7-2.7L13.7 3.9a2 2 0 00-3.4 0z",
  search: "M11 18a7 7 0 100-14 7 7 0 000 14zM20 20l-4-4",
  wrench: "M14.7 6.3a4 4 0 00-5.4 5.2L3.5 17.3a1.5 1.5 0 002.1 2.1l5.8-5.8a4 4 0 005.2-5.4l-2.4 2.4-2.1-.5-.5-2.1z",
  eye: "M2 12s3.6-7 10-7 10 7 10 7-3.6 7-10 7S2 12 2 12zM12 15a3 3 0 100-6 3 3 0 000 6z",
  calendar: "M4 6h16v14H4zM4 10h16M8 3v4M16 3v4",
  info: "M12 11v6M12 7.5v.5M12 21a9 9 0 100-18 9 9 0 000 18z",
  feed: "M5 19a1 1 0 100-2 1 1 0 000 2zM4 11a9 9 0 019 9M4 4a16 16 0 0116 16",
  mail: "M3 6h18v12H3zM3 7l9 6 9-6",
};

export function Icon({ name, size = 20 }: { name: keyof typeof PATHS | string; size?: number }) {
  return (
    <svg
      class="icon"
      width={size}
      height={size}
      viewBox="0 0 24 24"
      fill="none"
      stroke="currentColor"
      stroke-width="2"
      stroke-linecap="round"
      stroke-linejoin="round"
      aria-hidden="true"
      focusable="false"
    >
      <path d={PATHS[name] ?? PATHS.info} />
    </svg>
  );
}

export function statusIcon(status: IncidentStatus | null): string {
  switch (status) {
    case "RESOLVED":
      return "check";
    case "WATCHING":
      return "eye";
    case "SUSPECTED":
      return "search";
    case "CONFIRMED":
      return "alert";
    case "PLANNED":
      return "calendar";
    default:
      return "info";
  }
}
