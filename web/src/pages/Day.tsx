import { useEffect, useState } from "preact/hooks";
import type { PageProps } from "../props";
import { DAY_QUERY, graphql } from "../api";
import { Failed, IncidentCard } from "../components";
import { t } from "../i18n";
import { formatDate } from "../time";
import type { Incident } from "../types";

export function DayPage({ setTitle, date }: PageProps & { date: string }) {
  const [incidents, setIncidents] = useState<Incident[] | null | "failed">(null);
  const load = () =>
    graphql(DAY_QUERY, { date }).then(
      (data) => setIncidents(data.day),
      () => setIncidents("failed"),
    );
  useEffect(() => {
    load();
  }, [date]);
  const title = t("dayTitle", { date: formatDate(date) });
  useEffect(() => setTitle(title), [title]);
  return (
    <section class="page">
      <h1 tabIndex={-1}>{title}</h1>
      {incidents === "failed" ? (
        <Failed retry={load} />
      ) : incidents === null ? (
        <p aria-busy="true">{t("loading")}</p>
      ) : incidents.length === 0 ? (
        <p>{t("dayNoIncidents")}</p>
      ) : (
        incidents.map((incident) => <IncidentCard key={incident.id} incident={incident} level={2} />)
      )}
      <p>
        <a href="/history">{t("backToHistory")}</a>
      </p>
    </section>
  );
}
