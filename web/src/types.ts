// The shapes of the GraphQL API as this page asks for them: generated from
// schema.graphql and src/graphql/*.graphql (`npm run codegen`), named here for the
// components.

import type { HistoryQuery, IncidentFieldsFragment, StatusFieldsFragment } from "./graphql/generated";

export type { Headline, IncidentStatus, Severity } from "./graphql/generated";
import type { Severity } from "./graphql/generated";

export type Status = StatusFieldsFragment;
export type Site = Status["site"];
export type Theme = Site["theme"];
export type Incident = IncidentFieldsFragment;
export type IncidentUpdate = Incident["updates"][number];
export type Day = HistoryQuery["history"][number];

export const SEVERITIES: Severity[] = ["MAINTENANCE", "NOTICE", "BUG", "PARTIAL", "OUTAGE"];
