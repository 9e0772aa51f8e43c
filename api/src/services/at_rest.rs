//! Secrets at rest: where each secret the database keeps is sealed (its place, the
//! associated data of [`SecretBox`]), what a person is told when one does not open,
//! and the start-up step that seals rows written before sealing existed.
//!
//! Sealed: the Slack bot token and signing secret, the alert sources' webhook secrets
//! and the TOTP seeds. A security key's stored credential is a public key and stays
//! readable; secrets from the environment are never stored at all.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use crate::domain::FactorKind;
use crate::secret::{SealError, SecretBox};
use crate::services::tx;
use crate::store::{alert_source, second_factor, settings, slack_settings};

pub(crate) const SLACK_BOT_TOKEN: &str = "slack_settings.bot_token";
pub(crate) const SLACK_SIGNING_SECRET: &str = "slack_settings.signing_secret";

/// Bound to the source, so one source's secret copied into another's row fails.
pub(crate) fn alert_source_secret(source: &str) -> String {
    format!("alert_source.secret:{source}")
}

/// Bound to the user, so a seed copied into another account's row fails.
pub(crate) fn totp_seed(user_id: i64) -> String {
    format!("second_factor.secret:totp:user:{user_id}")
}

/// What to tell a person when `what` (e.g. "Slack bot token") does not open, and what
/// to do about it (`fix`). Names the value, never shows it.
pub(crate) fn unreadable(what: &str, error: SealError, fix: &str) -> String {
    let why = match error {
        // Plaintext from an older version that `monostat migrate` has not sealed yet
        // (the server seals at start unless AUTOMIGRATE=skip).
        SealError::NotSealed => "it is not encrypted yet (`monostat migrate` encrypts it).",
        SealError::Malformed => "it is damaged.",
        SealError::WrongKey => {
            "was secret.key replaced, or the database restored without its secret.key?"
        }
    };
    format!("the stored {what} cannot be decrypted: {why} {fix}")
}

/// How many values [`seal_stored_secrets`] sealed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SealReport {
    pub sealed: usize,
}

/// Seals every stored secret that is still plaintext (rows from before secrets were
/// sealed), in one transaction. Values already sealed are left alone, so it is
/// harmless at every start and when two replicas run it at once (both seal with the
/// same key). Run after the schema migrations: those cannot see `secret.key`.
pub async fn seal_stored_secrets(
    db: &sea_orm::DatabaseConnection,
    secrets: &SecretBox,
) -> Result<SealReport, sea_orm::DbErr> {
    tx::write_tx!(db, sea_orm::DbErr, |txn| {
        let mut report = SealReport::default();
        let plain =
            |value: &Option<String>| value.as_deref().is_some_and(|v| !SecretBox::is_sealed(v));
        if let Some(slack) = settings::slack(txn).await?
            && (plain(&slack.bot_token) || plain(&slack.signing_secret))
        {
            let mut row = slack_settings::ActiveModel {
                id: Set(slack.id),
                ..Default::default()
            };
            if let Some(token) = slack
                .bot_token
                .as_deref()
                .filter(|_| plain(&slack.bot_token))
            {
                row.bot_token = Set(Some(secrets.seal(SLACK_BOT_TOKEN, token)));
                report.sealed += 1;
            }
            if let Some(secret) = slack
                .signing_secret
                .as_deref()
                .filter(|_| plain(&slack.signing_secret))
            {
                row.signing_secret = Set(Some(secrets.seal(SLACK_SIGNING_SECRET, secret)));
                report.sealed += 1;
            }
            row.update(txn).await?;
        }
        for source in alert_source::Entity::find().all(txn).await? {
            if SecretBox::is_sealed(&source.secret) {
                continue;
            }
            let sealed = secrets.seal(&alert_source_secret(&source.source), &source.secret);
            alert_source::ActiveModel {
                source: Set(source.source),
                secret: Set(sealed),
                ..Default::default()
            }
            .update(txn)
            .await?;
            report.sealed += 1;
        }
        let seeds = second_factor::Entity::find()
            .filter(second_factor::Column::Kind.eq(FactorKind::Totp))
            .all(txn)
            .await?;
        for factor in seeds {
            if SecretBox::is_sealed(&factor.secret) {
                continue;
            }
            let sealed = secrets.seal(&totp_seed(factor.user_id), &factor.secret);
            second_factor::ActiveModel {
                id: Set(factor.id),
                secret: Set(sealed),
                ..Default::default()
            }
            .update(txn)
            .await?;
            report.sealed += 1;
        }
        Ok::<_, sea_orm::DbErr>(report)
    })
}
