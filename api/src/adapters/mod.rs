//! Adapters translate the outside world's wire formats into service calls and back.
//! They parse and validate at the edge and hold no business rules.

pub mod email;
pub mod opsgenie;
pub mod slack;
