import { useEffect, useState } from "preact/hooks";
import { Icon, statusIcon } from "./icons";
import { t } from "./i18n";
import { duration, formatSpan, formatTime, relative } from "./time";
import type { Incident } from "./types";

/** A time in the visitor's zone with a relative hint, refreshed every minute. */
export function Time({ iso }: { iso: string }) {
  useMinuteTick();
  return (
    <time dateTime={iso}>
      {formatTime(iso)} <span class="relative">({relative(iso)})</span>
    </time>
  );
}

/** Re-renders every minute, so relative hints stay true on a page left open. */
function useMinuteTick() {
  const [, tick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => tick((n) => n + 1), 60_000);
    return () => clearInterval(timer);
  }, []);
}

/** HTML the server rendered from Markdown and sanitised (api/src/markdown.rs). */
export function Prose({ html }: { html: string }) {
  return <div class="prose" dangerouslySetInnerHTML={{ __html: html }} />;
}

export function SeverityBadge({ incident }: { incident: Incident }) {
  return <span class={`badge sev-${incident.severity.toLowerCase()}`}>{t(`severity.${incident.severity}`)}</span>;
}

export function StatusLabel({ incident }: { incident: Incident }) {
  return (
    <span class="status-label">
      <Icon name={statusIcon(incident.status)} size={16} /> {t(`status.${incident.status}`)}
    </span>
  );
}

/** When it happened: start and end in one range with its length, or since when. */
export function Span({ incident }: { incident: Incident }) {
  useMinuteTick();
  if (incident.status === "PLANNED")
    return (
      <p class="meta">
        {t("scheduledFor", { time: "" })}
        <Time iso={incident.start} />
      </p>
    );
  if (!incident.end)
    return (
      <p class="meta">
        <Time iso={incident.start} /> – {t("ongoing")}
      </p>
    );
  return (
    <p class="meta">
      <time dateTime={incident.start}>{formatSpan(incident.start, incident.end)}</time> ·{" "}
      {duration(incident.start, incident.end)} <span class="relative">({relative(incident.end)})</span>
    </p>
  );
}

/** One incident as the lists on the status and day pages show it. */
export function IncidentCard({ incident, level = 3 }: { incident: Incident; level?: 2 | 3 }) {
  const Heading = level === 2 ? "h2" : "h3";
  const latest = incident.updates[0];
  return (
    <article class={`card card-${incident.severity.toLowerCase()}`}>
      <Heading class="card-title">
        <a href={incident.path}>{incident.title}</a>
      </Heading>
      <p class="tags">
        <SeverityBadge incident={incident} /> <StatusLabel incident={incident} />
      </p>
      <Span incident={incident} />
      {incident.summaryHtml ? (
        <Prose html={incident.summaryHtml} />
      ) : incident.status === "SUSPECTED" ? (
        <p class="no-details">{t("noDetailsYet")}</p>
      ) : null}
      {latest && incident.status !== "SUSPECTED" ? (
        <div class="latest">
          <p class="meta">
            {t("latestUpdate")} · <Time iso={latest.created} />
          </p>
          <Prose html={latest.messageHtml} />
        </div>
      ) : null}
    </article>
  );
}

export function Failed({ retry }: { retry: () => void }) {
  return (
    <div role="alert">
      <p>{t("loadFailed")}</p>
      <button type="button" onClick={retry}>
        {t("retry")}
      </button>
    </div>
  );
}

/** Links from the settings: web addresses only, never `javascript:` and the like. */
export function safeUrl(url: string): string {
  try {
    return ["http:", "https:", "mailto:"].includes(new URL(url, location.href).protocol) ? url : "#";
  } catch {
    return "#";
  }
}
