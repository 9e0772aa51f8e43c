//! The states and kinds the job queue, the mail fan-out and second factors store; their
//! spellings are the stored ones, so no reader compares strings.

string_enum!(
    /// Where a background job stands.
    JobState, "job state" {
        /// Waiting for its time or a worker.
        Pending => "pending",
        /// A worker holds it now.
        Running => "running",
        /// Finished; forgotten after the retention period.
        Done => "done",
        /// Gave up after its attempts, or failed for good; waits for someone to retry it.
        Dead => "dead",
    }
);

string_enum!(
    /// Where one subscriber's mail about one announcement stands.
    DeliveryState, "delivery state" {
        Pending => "pending",
        /// The SMTP server accepted it.
        Sent => "sent",
        /// Refused for this address for good.
        Failed => "failed",
    }
);

string_enum!(
    /// The two kinds of second factor.
    FactorKind, "second factor kind" {
        Totp => "totp",
        Webauthn => "webauthn",
    }
);

impl FactorKind {
    /// How the console and the audit log name it.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Totp => "authenticator app",
            Self::Webauthn => "security key",
        }
    }
}

string_enum!(
    /// Which WebAuthn ceremony a stored challenge belongs to.
    ChallengePurpose, "challenge purpose" {
        Login => "login",
        Register => "register",
    }
);
