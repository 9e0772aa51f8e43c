import { useEffect, useState } from "preact/hooks";
import type { PageProps } from "../props";
import { graphql, HISTORY_QUERY } from "../api";
import { Failed } from "../components";
import { language, t } from "../i18n";
import { severityColor, textOn, themeOf } from "../theme";
import { formatDate } from "../time";
import { SEVERITIES, type Day, type Severity, type Theme } from "../types";

interface Month {
  key: string;
  /** Day of week of the 1st, Monday = 0. */
  offset: number;
  length: number;
  days: Map<number, Day>;
}

function months(days: Day[]): Month[] {
  const byMonth = new Map<string, Month>();
  for (const day of days) {
    const key = day.date.slice(0, 7);
    let month = byMonth.get(key);
    if (!month) {
      const [year, number] = key.split("-").map(Number);
      const first = new Date(Date.UTC(year, number - 1, 1));
      month = {
        key,
        offset: (first.getUTCDay() + 6) % 7,
        length: new Date(Date.UTC(year, number, 0)).getUTCDate(),
        days: new Map(),
      };
      byMonth.set(key, month);
    }
    month.days.set(Number(day.date.slice(8)), day);
  }
  return [...byMonth.values()].reverse();
}

function weekdays(): string[] {
  const format = new Intl.DateTimeFormat(language(), { weekday: "short", timeZone: "UTC" });
  // 2024-01-01 was a Monday.
  return [...Array(7)].map((_, i) => format.format(new Date(Date.UTC(2024, 0, 1 + i))));
}

function swatch(theme: Theme, severity: Severity) {
  const background = severityColor(theme, severity);
  return { background, color: textOn(background) };
}

export function HistoryPage({ status, setTitle }: PageProps) {
  const [days, setDays] = useState<Day[] | null | "failed">(null);
  const load = () =>
    graphql(HISTORY_QUERY).then(
      (data) => setDays(data.history),
      () => setDays("failed"),
    );
  useEffect(() => {
    load();
  }, []);
  useEffect(() => setTitle(t("history")), []);
  const theme = themeOf(status.site.theme);
  const names = weekdays();
  const monthName = new Intl.DateTimeFormat(language(), { month: "long", year: "numeric", timeZone: "UTC" });

  return (
    <section class="page">
      <h1 tabIndex={-1}>{t("history")}</h1>
      <p>{t("historyIntro", { zone: status.site.timeZone })}</p>
      <section aria-labelledby="legend" class="legend-box">
        <h2 id="legend" class="small-heading">
          {t("legend")}
        </h2>
        <ul class="legend">
          <li>
            <span class="swatch quiet" aria-hidden="true" /> {t("noIncidents")}
          </li>
          {SEVERITIES.map((severity) => (
            <li key={severity}>
              <span class="swatch" style={swatch(theme, severity)} aria-hidden="true" /> {t(`severity.${severity}`)}
            </li>
          ))}
        </ul>
      </section>
      {days === "failed" ? (
        <Failed retry={load} />
      ) : days === null ? (
        <p aria-busy="true">{t("loading")}</p>
      ) : (
        <div class="months">
          {months(days).map((month) => {
            const [year, number] = month.key.split("-").map(Number);
            const cells = [...Array(month.offset).fill(0), ...[...Array(month.length)].map((_, i) => i + 1)];
            const weeks: number[][] = [];
            for (let i = 0; i < cells.length; i += 7) weeks.push(cells.slice(i, i + 7));
            const id = `m-${month.key}`;
            return (
              <section class="month" key={month.key} aria-labelledby={id}>
                <h2 id={id}>{monthName.format(new Date(Date.UTC(year, number - 1, 1)))}</h2>
                <table class="calendar">
                  <thead>
                    <tr>
                      {names.map((name) => (
                        <th scope="col" key={name}>
                          {name}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {weeks.map((week, w) => (
                      <tr key={w}>
                        {week.map((n, i) => {
                          const day = n ? month.days.get(n) : undefined;
                          if (!day) return <td key={i} />;
                          const label = `${formatDate(day.date)}: ${
                            day.worstSeverity ? t(`severity.${day.worstSeverity}`) : t("noIncidents")
                          }`;
                          return (
                            <td key={i}>
                              {day.worstSeverity ? (
                                <a
                                  class="day"
                                  href={`/${day.date}`}
                                  style={swatch(theme, day.worstSeverity)}
                                  aria-label={label}
                                  title={label}
                                >
                                  {n}
                                </a>
                              ) : (
                                <span class="day quiet" title={label}>
                                  {n}
                                </span>
                              )}
                            </td>
                          );
                        })}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </section>
            );
          })}
        </div>
      )}
    </section>
  );
}
