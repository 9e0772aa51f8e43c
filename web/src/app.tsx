import { Fragment } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { graphql, graphqlGet, Live, STATUS_QUERY, STATUS_SUBSCRIPTION, type LiveState } from "./api";
import { LANGUAGES, language, pickLanguage, setLanguage, t } from "./i18n";
import { route, interceptLinks, type Route } from "./router";
import { applyTheme } from "./theme";
import { formatTime } from "./time";
import type { Status } from "./types";
import { StatusPage } from "./pages/Status";
import { IncidentPage } from "./pages/Incident";
import { HistoryPage } from "./pages/History";
import { DayPage } from "./pages/Day";
import { SubscribePage } from "./pages/Subscribe";
import { NotFound } from "./pages/NotFound";
import { Icon } from "./icons";
import { safeUrl } from "./components";
import type { PageProps } from "./props";

// A page opened at the moment of an outage must not cry "stale" for every blip.
const OFFLINE_GRACE_MS = 4000;
// Without a live socket (refused by a full server, or cut by a proxy), the page asks
// for the status this often instead: a status page must not freeze during the very
// outage it reports. Jittered so the pages of one incident do not ask in step.
const POLL_MS = 30_000;

export function App({ initial }: { initial: Status | null }) {
  const [status, setStatus] = useState<Status | null>(initial);
  const [current, setCurrent] = useState<Route>(() => route(location.pathname));
  const [lang, setLang] = useState(() => {
    const picked = pickLanguage(initial?.site.defaultLanguage ?? "en");
    setLanguage(picked);
    return picked;
  });
  const [offline, setOffline] = useState(false);
  const [announcement, setAnnouncement] = useState("");
  const [lastGood, setLastGood] = useState<string | null>(initial?.generatedAt ?? null);
  const navigated = useRef(false);
  const shownHeadline = useRef(initial?.headline);
  const offlineTimer = useRef<number | undefined>(undefined);

  const show = (next: Status) => {
    // Announced to screen readers only when it changes, not on every reconnect or poll.
    if (shownHeadline.current && shownHeadline.current !== next.headline) {
      setAnnouncement(
        t("announceChange", { headline: t(`headline.${next.headline}`, { name: next.site.systemName }) }),
      );
    }
    shownHeadline.current = next.headline;
    setStatus(next);
  };

  const live = useMemo(
    () =>
      new Live((state: LiveState) => {
        if (state === "live") {
          clearTimeout(offlineTimer.current);
          offlineTimer.current = undefined;
          setOffline(false);
        } else if (state === "offline" && offlineTimer.current === undefined) {
          // Counted from the first loss, not from each failed retry.
          offlineTimer.current = setTimeout(() => setOffline(true), OFFLINE_GRACE_MS) as unknown as number;
        }
      }),
    [],
  );

  useEffect(() => {
    interceptLinks((path) => {
      navigated.current = true;
      setCurrent(route(path));
    });
    addEventListener("popstate", () => {
      navigated.current = true;
      setCurrent(route(location.pathname));
    });
    if (!initial) graphql(STATUS_QUERY).then((d) => setStatus(d.status), () => {});
    return live.subscribe(STATUS_SUBSCRIPTION, {}, (data) => show(data.statusChanged));
  }, []);

  useEffect(() => {
    if (!offline) return;
    let timer: number | undefined;
    const poll = () => {
      graphqlGet(STATUS_QUERY).then((d) => show(d.status), () => {});
      timer = setTimeout(poll, POLL_MS * (0.75 + Math.random() / 2)) as unknown as number;
    };
    poll();
    return () => clearTimeout(timer);
  }, [offline]);

  useEffect(() => {
    if (status && !status.stale) setLastGood(status.generatedAt);
  }, [status]);

  applyTheme(status?.site.theme);

  const setTitle = (title: string) => {
    const name = status?.site.systemName ?? "";
    document.title = title ? `${title} – ${t("statusOf", { name })}` : t("statusOf", { name });
    if (navigated.current) {
      navigated.current = false;
      const heading = document.querySelector<HTMLElement>("main h1");
      heading?.focus();
    }
  };

  if (!status) {
    return (
      <main id="main" class="container">
        <p>{t("loading")}</p>
      </main>
    );
  }

  const site = status.site;
  const props: PageProps = { status, live, setTitle };
  let page;
  switch (current.page) {
    case "status":
      page = <StatusPage {...props} />;
      break;
    case "history":
      page = <HistoryPage {...props} />;
      break;
    case "day":
      page = <DayPage key={current.date} {...props} date={current.date} />;
      break;
    case "incident":
      page = <IncidentPage key={current.id} {...props} date={current.date} id={current.id} />;
      break;
    case "subscribe":
      page = site.subscriptionsOpen ? <SubscribePage {...props} /> : <NotFound {...props} />;
      break;
    default:
      page = <NotFound {...props} />;
  }

  const staleSince = lastGood ?? status.generatedAt;
  return (
    <>
      <a class="skip" href="#main">
        {t("skipToContent")}
      </a>
      <header class="site-header">
        <div class="container header-row">
          <a class="brand" href="/">
            {site.logoUrl ? <img src={site.logoUrl} alt="" height={32} /> : null}
            <span>{t("statusOf", { name: site.systemName })}</span>
          </a>
          <nav>
            <a href="/history" aria-current={current.page === "history" ? "page" : undefined}>
              {t("history")}
            </a>
          </nav>
        </div>
      </header>
      {offline || status.stale ? (
        <div class="stale" role="status">
          <div class="container">
            {t(offline ? "staleOffline" : "staleServer", { time: formatTime(staleSince) })}
          </div>
        </div>
      ) : null}
      <main id="main" tabIndex={-1} class="container">
        {/* A new language renders the page afresh, title included. */}
        <Fragment key={lang}>{page}</Fragment>
      </main>
      <div class="visually-hidden" aria-live="polite" aria-atomic="true">
        {announcement}
      </div>
      <footer class="site-footer">
        <div class="container footer-row">
          <ul class="footer-links">
            <li>
              <a href="/feed/atom">
                <Icon name="feed" size={16} /> Atom
              </a>
            </li>
            <li>
              <a href="/feed/rss">
                <Icon name="feed" size={16} /> RSS
              </a>
            </li>
            {site.subscriptionsOpen ? (
              <li>
                <a href="/subscribe">
                  <Icon name="mail" size={16} /> {t("subscribe")}
                </a>
              </li>
            ) : null}
            {site.legalNoticeUrl ? (
              <li>
                <a href={safeUrl(site.legalNoticeUrl)}>{t("legalNotice")}</a>
              </li>
            ) : null}
            {site.privacyUrl ? (
              <li>
                <a href={safeUrl(site.privacyUrl)}>{t("privacy")}</a>
              </li>
            ) : null}
          </ul>
          <label class="language">
            {t("language")}{" "}
            <select
              value={lang}
              onChange={(event) => {
                const chosen = (event.target as HTMLSelectElement).value;
                setLanguage(chosen, true);
                setLang(language());
              }}
            >
              {Object.entries(LANGUAGES).map(([code, messages]) => (
                <option value={code} lang={code}>
                  {messages.languageName}
                </option>
              ))}
            </select>
          </label>
        </div>
      </footer>
    </>
  );
}
