//! What kind of failure a service error is. Every edge (HTTP, GraphQL, Slack) has to
//! tell the person or program on the other side whether to fix their input, log in,
//! wait or give up; services say which it is once, here, and each edge turns the kind
//! into its own words once.

use std::fmt;

/// The kinds of failure a caller can act on differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// What was asked for does not exist.
    NotFound,
    /// The request itself is wrong; `field` names the form field to fix, if one is.
    Invalid { field: Option<Field> },
    /// The request is fine but clashes with the current state (a taken name, a
    /// transition the lifecycle does not allow, a setting the environment owns).
    Conflict,
    /// Who is asking is unknown: wrong password, expired session.
    Unauthenticated,
    /// Who is asking is known, or nobody may: the site said no.
    Forbidden,
    /// Who is asking is known, but this change needs their password (or second factor)
    /// given again just now.
    StepUpRequired,
    /// Too many attempts; try again later.
    RateLimited,
    /// The database cannot be reached right now; the same request can work shortly.
    /// The details name the infrastructure and stay in the log.
    Unavailable,
    /// This server is not set up to do it (e.g. no host name for security keys); the
    /// message says what is missing, and retrying will not help until someone fixes it.
    Unconfigured,
    /// A bug or corrupt data: logged in full, shown to nobody.
    Internal,
}

/// What every edge tells a person when the kind is [`ErrorKind::Unavailable`].
pub const UNAVAILABLE_MESSAGE: &str = "the database is unreachable; try again shortly";

/// An error that knows its [`ErrorKind`]. Every service error implements it, so the
/// edges classify errors through this one method and never by variant or message.
pub trait ClassifiedError: std::error::Error {
    fn kind(&self) -> ErrorKind;

    /// The database is away; the same request will work once it is back.
    fn is_unavailable(&self) -> bool {
        self.kind() == ErrorKind::Unavailable
    }
}

/// The form fields a validation error can point at. The console and GraphQL clients
/// see [`Field::as_str`] in `extensions.field`, and Slack puts the message under the
/// matching input of its modal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    // An incident and its timeline.
    Title,
    Status,
    Text,
    End,
    AutoStart,
    Message,
    Entry,
    AlertId,
    // The site's settings.
    SystemName,
    SupportEmail,
    ReplyTo,
    Language,
    TimeZone,
    LegalNoticeUrl,
    PrivacyUrl,
    Logo,
    Colour,
    PrimaryColour,
    LinkColour,
    SuccessColour,
    WarningColour,
    DangerColour,
    InfoColour,
    PrimaryTextColour,
    SecondaryTextColour,
    // Slack's settings.
    SlackChannel,
    SlackBotToken,
    SlackAllowedUsers,
    // A visitor's subscription.
    Email,
    Consent,
}

impl Field {
    /// The field's name as clients see it, and as error messages start.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Title => "title",
            Self::Status => "status",
            Self::Text => "text",
            Self::End => "end",
            Self::AutoStart => "auto start",
            Self::Message => "message",
            Self::Entry => "entry",
            Self::AlertId => "alert id",
            Self::SystemName => "system name",
            Self::SupportEmail => "support e-mail",
            Self::ReplyTo => "reply-to",
            Self::Language => "language",
            Self::TimeZone => "time zone",
            Self::LegalNoticeUrl => "legal notice URL",
            Self::PrivacyUrl => "privacy URL",
            Self::Logo => "logo",
            Self::Colour => "colour",
            Self::PrimaryColour => "primary colour",
            Self::LinkColour => "link colour",
            Self::SuccessColour => "success colour",
            Self::WarningColour => "warning colour",
            Self::DangerColour => "danger colour",
            Self::InfoColour => "info colour",
            Self::PrimaryTextColour => "primary text colour",
            Self::SecondaryTextColour => "secondary text colour",
            Self::SlackChannel => "channel",
            Self::SlackBotToken => "bot token",
            Self::SlackAllowedUsers => "allowed users",
            Self::Email => "email",
            Self::Consent => "consent",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
