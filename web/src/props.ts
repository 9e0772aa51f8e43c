// What the app hands every page: shared by app.tsx and pages/*, so neither imports
// the other's module for it.

import type { Live } from "./api";
import type { Status } from "./types";

export interface PageProps {
  status: Status;
  live: Live;
  /** Sets the document title and moves focus after navigation. */
  setTitle: (title: string) => void;
}
