//! Incidents (SPEC §2): one [`IncidentService`] whose use cases are split by area —
//! [`alerts`] from monitoring, the human [`lifecycle`], planned [`maintenance`], and
//! [`corrections`] of the record after the fact. What they share is in files of their
//! own, so that none of them imports this one: the error and the reads in [`service`],
//! the transaction machinery every transition runs in [`transition`].
//!
//! Each public method is one transaction that changes the incident, writes its timeline
//! entry and audit entry, decides about notifications, and enqueues the follow-up jobs.
//! Only after the commit is the domain event published and are local workers woken.

pub(super) mod alerts;
mod corrections;
mod lifecycle;
mod maintenance;
pub(super) mod service;
mod transition;

pub use alerts::{AlertActivity, AlertEvent, AlertOutcome, AlertReport};
pub use corrections::{ConsoleFilter, ConsolePage, ENTRY_MAX_CHARS, IncidentEdit};
pub use lifecycle::{IncidentChange, NewIncident};
pub use service::{IncidentError, IncidentService};
