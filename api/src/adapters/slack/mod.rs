//! Slack (SPEC §2 and §4, protocols.md §2): the team operates the status page from a
//! channel, and the channel mirrors every incident. Two sides that share only the wire
//! formats:
//!
//! - Answering Slack: [`incoming`] takes `POST /integrations/slack/events` (Events
//!   API and interactivity on one URL) and `POST /integrations/slack/commands`
//!   (`/status`), verifies each request ([`verify`]) and answers within Slack's three
//!   seconds. [`interactions`] (events, clicks, the command) and `submissions` (modal
//!   forms) call the services and hand back what Slack must hear afterwards as jobs,
//!   which `incoming` enqueues through the job service. [`inbound`] holds what they
//!   need; only `views.open` (its `trigger_id` expires in 3 s), a click's
//!   `response_url` (while the database is away, or to refuse) and the questions of
//!   `trust` are called while answering.
//! - Trust: a signed request is taken once ([`replay`]), and acted on only when it
//!   comes from the bot token's workspace and app and, for a change, from someone the
//!   Slack settings allow (`trust`, asking Slack through [`directory`]).
//! - Calling Slack: [`jobs`] run `slack.sync` (each incident's parent message kept
//!   current with `chat.update`, a thread reply per change), `slack.home` (the App Home
//!   tab) and `slack.ephemeral` (telling one person that their click did not work)
//!   through [`outbound`], the Web API [`client`] with the bot token and the channel;
//!   its errors decide between retry-after (429), back-off (5xx, network) and a dead
//!   job with a plain-words reason (bad token…). The console's "test Slack" button
//!   uses `outbound` too.
//!
//! Settings are read on every use, so a new token, signing secret or channel is in
//! force at once on every replica. Without a bot token Slack is off: sync jobs finish
//! without doing anything, and an incident gets its parent message at its next change
//! after Slack is set up. [`views`] and [`blocks`] are the messages and modals both
//! sides show; `refusals` is the one place a service's error becomes words in Slack.

pub mod blocks;
pub mod client;
pub mod directory;
pub mod inbound;
pub mod incoming;
pub mod interactions;
pub mod jobs;
pub mod outbound;
mod refusals;
pub mod replay;
mod submissions;
mod trust;
pub mod verify;
pub mod views;

pub use client::SlackApi;
pub use inbound::SlackInbound;
pub use incoming::SlackState;
pub use jobs::{SlackEphemeralHandler, SlackHomeHandler, SlackSyncHandler};
pub use outbound::SlackOutbound;
