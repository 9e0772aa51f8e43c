// The console shell: restores the session from the refresh cookie, shows the login
// until there is one, then the navigation and the page of the current URL.

import { useEffect, useRef, useState } from "preact/hooks";
import { logout, refresh, startSession, whenSessionLost, type User } from "./api";
import { Login } from "./pages/Login";
import { IncidentList } from "./pages/Incidents";
import { IncidentDetail } from "./pages/IncidentDetail";
import { NewIncident } from "./pages/NewIncident";
import { SiteSettings } from "./pages/Site";
import { NotificationSettingsPage, SlackSettingsPage, AlertSourcesPage } from "./pages/Integrations";
import { SubscribersPage } from "./pages/Subscribers";
import { UsersPage, AccountPage } from "./pages/Users";
import { JobsPage, AuditPage } from "./pages/Jobs";
import { Link } from "./ui";
import { StepUpDialog } from "./StepUp";

const NAV: [string, string][] = [
  ["/admin/", "Incidents"],
  ["/admin/settings/site", "Site"],
  ["/admin/settings/notifications", "Notifications"],
  ["/admin/settings/slack", "Slack"],
  ["/admin/settings/alerts", "Alert sources"],
  ["/admin/subscribers", "Subscribers"],
  ["/admin/users", "Users"],
  ["/admin/jobs", "Jobs"],
  ["/admin/audit", "Audit log"],
  ["/admin/account", "My account"],
];

function page(path: string, user: User) {
  const incident = /^\/admin\/incidents\/(\d+)$/.exec(path);
  if (incident) return <IncidentDetail id={Number(incident[1])} />;
  switch (path.replace(/\/$/, "")) {
    case "/admin":
    case "/admin/incidents":
      return <IncidentList />;
    case "/admin/incidents/new":
      return <NewIncident />;
    case "/admin/settings/site":
      return <SiteSettings />;
    case "/admin/settings/notifications":
      return <NotificationSettingsPage />;
    case "/admin/settings/slack":
      return <SlackSettingsPage />;
    case "/admin/settings/alerts":
      return <AlertSourcesPage />;
    case "/admin/subscribers":
      return <SubscribersPage />;
    case "/admin/users":
      return <UsersPage self={user} />;
    case "/admin/jobs":
      return <JobsPage />;
    case "/admin/audit":
      return <AuditPage />;
    case "/admin/account":
      return <AccountPage user={user} />;
  }
  return (
    <>
      <h1 tabIndex={-1}>Not found</h1>
      <p>
        The console has no page here. <Link href="/admin/">Go to the incidents</Link>.
      </p>
    </>
  );
}

export function Console() {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [path, setPath] = useState(location.pathname);
  const main = useRef<HTMLElement>(null);

  useEffect(() => {
    whenSessionLost(() => setUser(null));
    refresh().then((session) => {
      if (session) {
        startSession(session);
        setUser(session.user);
      } else setUser(null);
    });
    const onPop = () => setPath(location.pathname);
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);

  // After navigating, focus moves to the new page's heading, as on the public pages.
  useEffect(() => {
    main.current?.querySelector<HTMLElement>("h1")?.focus();
  }, [path]);

  useEffect(() => {
    const heading = main.current?.querySelector("h1")?.textContent;
    document.title = heading ? `${heading} · monostat console` : "monostat console";
  });

  if (user === undefined) return <main class="container" aria-busy="true" />;
  if (user === null)
    return (
      <main class="container narrow" ref={main}>
        <Login onLoggedIn={setUser} />
      </main>
    );

  const current = (href: string) =>
    href === "/admin/" ? path === "/admin" || path === "/admin/" || path.startsWith("/admin/incidents") : path.startsWith(href);

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="console-header">
        <div class="container wide bar">
          <span class="brand">monostat console</span>
          <span class="who">
            Logged in as <strong>{user.username}</strong>{" "}
            <button
              type="button"
              class="link"
              onClick={async () => {
                await logout().catch(() => {});
                setUser(null);
                history.replaceState(null, "", "/admin/");
                setPath("/admin/");
              }}
            >
              Log out
            </button>
          </span>
        </div>
        <nav aria-label="Console" class="container wide">
          <ul>
            {NAV.map(([href, label]) => (
              <li>
                <Link href={href} current={current(href)}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" class="container wide" ref={main} key={path}>
        {page(path, user)}
      </main>
      <StepUpDialog />
    </>
  );
}
