// The shapes of the GraphQL API (see schema.graphql) as this page asks for them.

export type Headline =
  | "DOWN"
  | "PARTIALLY_UNAVAILABLE"
  | "MIGHT_HAVE_ISSUES"
  | "KNOWN_ISSUE"
  | "UP_WITH_NOTICE"
  | "MAINTENANCE"
  | "RECOVERING"
  | "OPERATIONAL";

export type IncidentStatus = "PLANNED" | "SUSPECTED" | "DISMISSED" | "CONFIRMED" | "WATCHING" | "RESOLVED";

export type Severity = "MAINTENANCE" | "NOTICE" | "BUG" | "PARTIAL" | "OUTAGE";

export interface Theme {
  primary: string;
  link: string;
  success: string;
  warning: string;
  danger: string;
  info: string;
  textPrimary: string;
  textSecondary: string;
}

export interface Site {
  systemName: string;
  supportEmail: string | null;
  supportPhone: string | null;
  legalNoticeUrl: string | null;
  privacyUrl: string | null;
  logoUrl: string | null;
  timeZone: string;
  defaultLanguage: string;
  subscriptionsOpen: boolean;
  theme: Theme;
}

export interface IncidentUpdate {
  id: number;
  created: string;
  /** Sanitised HTML rendered by the server from the Markdown message. */
  messageHtml: string;
  newStatus: IncidentStatus | null;
}

export interface Incident {
  id: number;
  status: IncidentStatus;
  severity: Severity;
  title: string;
  /** Sanitised HTML rendered by the server; null without a summary. */
  summaryHtml: string | null;
  start: string;
  end: string | null;
  path: string;
  updates: IncidentUpdate[];
}

export interface Status {
  headline: Headline;
  generatedAt: string;
  stale: boolean;
  site: Site;
  current: Incident[];
  recent: Incident[];
  planned: Incident[];
}

export interface Day {
  date: string;
  worstSeverity: Severity | null;
}

export const SEVERITIES: Severity[] = ["MAINTENANCE", "NOTICE", "BUG", "PARTIAL", "OUTAGE"];
