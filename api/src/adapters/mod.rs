//! Adapters translate the outside world's wire formats into service calls and back.
//! They parse and validate at the edge and hold no business rules.

pub mod alertmanager;
pub mod email;
pub mod generic;
pub mod hooks;
pub mod opsgenie;
pub mod pagerduty;
pub mod slack;
