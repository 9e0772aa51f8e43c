import { useEffect } from "preact/hooks";
import type { PageProps } from "../props";
import { IncidentCard } from "../components";
import { Icon } from "../icons";
import { t } from "../i18n";
import type { Headline, Incident } from "../types";

const TONE: Record<Headline, string> = {
  DOWN: "danger",
  PARTIALLY_UNAVAILABLE: "danger",
  MIGHT_HAVE_ISSUES: "warning",
  KNOWN_ISSUE: "warning",
  UP_WITH_NOTICE: "success",
  MAINTENANCE: "info",
  RECOVERING: "info",
  OPERATIONAL: "success",
};

const ICON: Record<Headline, string> = {
  DOWN: "alert",
  PARTIALLY_UNAVAILABLE: "alert",
  MIGHT_HAVE_ISSUES: "search",
  KNOWN_ISSUE: "alert",
  UP_WITH_NOTICE: "check",
  MAINTENANCE: "wrench",
  RECOVERING: "eye",
  OPERATIONAL: "check",
};

export function StatusPage({ status, setTitle }: PageProps) {
  const site = status.site;
  const headline = t(`headline.${status.headline}`, { name: site.systemName });
  useEffect(() => setTitle(""), [site.systemName]);
  return (
    <>
      <section class={`headline tone-${TONE[status.headline]}`} aria-labelledby="headline">
        <Icon name={ICON[status.headline]} size={32} />
        <div>
          <h1 id="headline" tabIndex={-1} data-headline={status.headline}>
            {headline}
          </h1>
          <p>{t(`detail.${status.headline}`)}</p>
          {status.headline === "OPERATIONAL" && (site.supportEmail || site.supportPhone) ? (
            <p>{t("contactSupport")}</p>
          ) : null}
          {status.headline === "OPERATIONAL" && (site.supportEmail || site.supportPhone) ? (
            <p class="support">
              {site.supportEmail ? (
                <span>
                  {t("supportEmail", { value: "" })}
                  <a href={`mailto:${site.supportEmail}`}>{site.supportEmail}</a>
                </span>
              ) : null}
              {site.supportPhone ? (
                <span>
                  {t("supportPhone", { value: "" })}
                  <a href={`tel:${site.supportPhone.replace(/[^+\d]/g, "")}`}>{site.supportPhone}</a>
                </span>
              ) : null}
            </p>
          ) : null}
        </div>
      </section>
      <List id="current" title={t("currentIncidents")} incidents={status.current} />
      <List id="recent" title={t("recentIncidents")} incidents={status.recent} />
      <List id="planned" title={t("plannedMaintenance")} incidents={status.planned} />
    </>
  );
}

function List({ id, title, incidents }: { id: string; title: string; incidents: Incident[] }) {
  if (incidents.length === 0) return null;
  return (
    <section class="list" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {incidents.map((incident) => (
        <IncidentCard key={incident.id} incident={incident} />
      ))}
    </section>
  );
}
