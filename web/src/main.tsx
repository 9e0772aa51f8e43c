import { render } from "preact";
import { App } from "./app";
import type { Status } from "./types";
import "./style.css";

/** The state the server put into index.html; absent under `vite dev`. */
function inlinedState(): Status | null {
  const element = document.getElementById("monostat-state");
  try {
    const parsed = JSON.parse(element?.textContent ?? "");
    return parsed && typeof parsed === "object" && "headline" in parsed ? (parsed as Status) : null;
  } catch {
    return null;
  }
}

render(<App initial={inlinedState()} />, document.getElementById("app")!);
