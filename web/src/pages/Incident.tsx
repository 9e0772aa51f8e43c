import { useEffect, useState } from "preact/hooks";
import type { PageProps } from "../props";
import { graphql, INCIDENT_QUERY, INCIDENT_SUBSCRIPTION } from "../api";
import { Failed, Prose, SeverityBadge, Span, StatusLabel, Time } from "../components";
import { Icon, statusIcon } from "../icons";
import { t } from "../i18n";
import type { Incident } from "../types";
import { NotFound } from "./NotFound";

type Loaded = { state: "loading" } | { state: "failed" } | { state: "missing" } | { state: "ok"; incident: Incident };

export function IncidentPage({ live, setTitle, date, id }: PageProps & { date: string; id: number }) {
  const [loaded, setLoaded] = useState<Loaded>({ state: "loading" });
  const path = `/${date}/${id}`;
  const accept = (incident: Incident | null) =>
    // The date in the address must be the incident's start date, or it is not this page.
    setLoaded(incident && incident.path === path ? { state: "ok", incident } : { state: "missing" });
  const load = () =>
    graphql(INCIDENT_QUERY, { id }).then(
      (data) => accept(data.incident),
      () => setLoaded({ state: "failed" }),
    );
  useEffect(() => {
    load();
    return live.subscribe(INCIDENT_SUBSCRIPTION, { id }, (data) =>
      accept(data.incidentChanged),
    );
  }, [id]);
  const title = loaded.state === "ok" ? loaded.incident.title : "";
  useEffect(() => {
    if (loaded.state === "ok") setTitle(title);
  }, [title]);

  if (loaded.state === "missing") return <NotFound setTitle={setTitle} />;
  if (loaded.state === "failed") return <Failed retry={load} />;
  if (loaded.state === "loading") return <p aria-busy="true">{t("loading")}</p>;
  const incident = loaded.incident;
  return (
    <article class="page incident">
      <p class="eyebrow">{t("incidentTitle", { id: incident.id })}</p>
      <h1 tabIndex={-1}>{incident.title}</h1>
      <p class="tags">
        <SeverityBadge incident={incident} /> <StatusLabel incident={incident} />
      </p>
      <Span incident={incident} />
      {incident.summaryHtml ? (
        <Prose html={incident.summaryHtml} />
      ) : incident.status === "SUSPECTED" ? (
        <p class="no-details">{t("noDetailsYet")}</p>
      ) : null}
      <section aria-labelledby="timeline">
        <h2 id="timeline">{t("timeline")}</h2>
        <ol class="timeline">
          {incident.updates.map((update) => (
            <li key={update.id}>
              <span class={`dot status-${(update.newStatus ?? "none").toLowerCase()}`}>
                <Icon name={statusIcon(update.newStatus)} size={16} />
              </span>
              <div>
                <p class="meta">
                  <strong>{update.newStatus ? t(`status.${update.newStatus}`) : t("update")}</strong> ·{" "}
                  <Time iso={update.created} />
                </p>
                <Prose html={update.messageHtml} />
              </div>
            </li>
          ))}
        </ol>
      </section>
      <p>
        <a href="/">{t("backToStatus")}</a>
      </p>
    </article>
  );
}
