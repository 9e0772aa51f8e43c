//! Second factors of console users: TOTP authenticator apps and WebAuthn security keys.
//!
//! Enrolment is two steps each. TOTP: `begin_totp` stores an unconfirmed factor and
//! hands out its secret once; `confirm_totp` activates it with a first code. WebAuthn:
//! `begin_webauthn` returns the creation options and keeps the ceremony state in the
//! database; `finish_webauthn` verifies the authenticator's answer and stores the key.
//!
//! At login, [`super::AuthService`] asks which factors a user has and calls the checks
//! here. Each TOTP code is good once (the accepted time step is stored and compared in
//! the same UPDATE, so two replicas cannot both accept it); each WebAuthn challenge is
//! deleted as it is used, so an answer cannot be replayed either.
//!
//! [`totp`] and [`webauthn`] hold each kind's enrolment and login check; [`service`]
//! what both share: the service, the error, listing, removing and resetting factors,
//! and which factors a login must pass.

mod relying_party;
pub(super) mod service;
mod totp;
mod webauthn;

pub use service::{SecondFactorError, SecondFactorService};
pub use totp::TotpEnrolment;
pub use webauthn::WebauthnRegistration;
