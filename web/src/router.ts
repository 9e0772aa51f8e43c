import { isValidDate } from "./time";

// The public URLs of SPEC §3. The server knows the same list (api/src/http/web.rs)
// and answers 404 for everything else.

export type Route =
  | { page: "status" }
  | { page: "history" }
  | { page: "subscribe" }
  | { page: "day"; date: string }
  | { page: "incident"; date: string; id: number }
  | { page: "notFound" };

export function route(path: string): Route {
  if (path === "/" || path === "") return { page: "status" };
  if (path === "/history") return { page: "history" };
  if (path === "/subscribe") return { page: "subscribe" };
  const day = /^\/(\d{4}-\d{2}-\d{2})$/.exec(path);
  if (day && isValidDate(day[1])) return { page: "day", date: day[1] };
  const incident = /^\/(\d{4}-\d{2}-\d{2})\/(\d{1,15})$/.exec(path);
  if (incident && isValidDate(incident[1])) return { page: "incident", date: incident[1], id: Number(incident[2]) };
  return { page: "notFound" };
}

/** Follows same-site links to pages of this app without a reload. */
export function interceptLinks(navigate: (path: string) => void) {
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
      return;
    const link = (event.target as Element).closest?.("a");
    if (!link || link.target || link.hasAttribute("download")) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin) return;
    if (route(url.pathname).page === "notFound") return;
    event.preventDefault();
    if (url.pathname !== location.pathname) history.pushState(null, "", url.pathname);
    navigate(url.pathname);
  });
}
