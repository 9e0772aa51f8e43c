//! Wiring: from a [`Config`] to a running server and job workers. The web server's
//! router is put together here, from each area's routes and its own small state.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::FromRef;
use axum::middleware;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::adapters::email::web::SubscriptionPagesState;
use crate::adapters::email::{Mailer, NotifyHandler, SubscriberMailHandler};
use crate::adapters::hooks::HookState;
use crate::adapters::slack::{
    SlackApi, SlackEphemeralHandler, SlackHomeHandler, SlackInbound, SlackOutbound, SlackState,
    SlackSyncHandler,
};
use crate::adapters::{alertmanager, email, generic, opsgenie, pagerduty, slack};
use crate::client_ip::TrustedProxies;
use crate::config::{Config, RetentionConfig};
use crate::domain::Origin;
use crate::events::{DomainEvent, EventBus};
use crate::http::graphql::GraphqlState;
use crate::http::public::PublicState;
use crate::http::socket::Sockets;
use crate::http::{self, OpsState};
use crate::jobs::{JobWaker, Queue, RetryPolicy, WorkerPool};
use crate::maintenance::{self, Retention, RetentionHandler};
use crate::public::{PublicSnapshot, WebBuild};
use crate::secret::{Secret, SecretBox};
use crate::services::{AlertIntake, AlertSpool, Services};
use crate::store;

/// What `monostat serve` runs in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Web server and job workers.
    All,
    /// Only the web server.
    Web,
    /// Only the job workers and timers.
    Worker,
}

/// How long running jobs get to finish at shutdown before their leases are released.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
const TIMER_INTERVAL: Duration = Duration::from_secs(30);

pub struct App {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    pub events: EventBus,
    pub services: Services,
    pub jobs: JobWaker,
    pub queue: Queue,
    /// Cancelled to stop everything this app started.
    pub stop: CancellationToken,
    pub secret_key: Secret,
    pub spool: AlertSpool,
    pub intake: AlertIntake,
    pub mailer: Arc<Mailer>,
    /// Subscribed before any setting is first read, so a change made by another
    /// replica while this one starts is not missed (its cache would stay stale).
    settings_changes: tokio::sync::broadcast::Receiver<DomainEvent>,
}

impl App {
    /// Prepares the data directory, connects, migrates (unless `AUTOMIGRATE=skip`),
    /// creates missing settings rows and connects the event bus.
    pub async fn init(config: Config) -> anyhow::Result<Self> {
        prepare_data_dir(&config.data_dir)?;
        let secret_key = ensure_secret_key(&config.data_dir)?;
        let db = store::connect(&config.database)
            .await
            .context("cannot connect to the database")?;
        if config.automigrate {
            store::migrate(&db)
                .await
                .context("database migration failed")?;
            // The schema migrations cannot see secret.key, so sealing the secrets of
            // rows from before sealing existed is a step of its own, right after them.
            seal_stored_secrets(&db, &secret_key).await?;
        }
        let stop = CancellationToken::new();
        let events = match &config.redis {
            Some(redis) => {
                EventBus::with_redis(redis, stop.child_token()).context("invalid Redis settings")?
            }
            None => EventBus::in_process(),
        };
        let settings_changes = events.subscribe();
        let config = Arc::new(config);
        let jobs = JobWaker::default();
        let services = Services::new(
            db.clone(),
            events.clone(),
            jobs.clone(),
            config.clone(),
            &secret_key,
        );
        services
            .settings
            .ensure_defaults()
            .await
            .context("cannot create the default settings")?;
        let queue = Queue::new(db.clone(), config.job_lease, RetryPolicy::default());
        let spool = AlertSpool::open(&config.data_dir, config.retention.rejected_alerts)
            .context("cannot open the alert spool")?;
        let intake = AlertIntake::new(services.incidents.clone(), spool.clone());
        let mailer =
            Arc::new(Mailer::from_config(&config).context("invalid MONOSTAT_MAIL_* settings")?);
        // Read the webhook secrets now, so alerts can be authenticated (and spooled) even
        // if the database goes away before the first one arrives.
        for source in Origin::ALL.iter().filter(|o| **o != Origin::Manual) {
            services.settings.alert_source_secret(*source).await.ok();
        }
        Ok(Self {
            config,
            db,
            events,
            services,
            jobs,
            queue,
            stop,
            secret_key,
            spool,
            intake,
            mailer,
            settings_changes,
        })
    }

    /// Starts the parts of `role` and returns the address the web server listens on
    /// (for the worker role, the configured one). Runs until `self.stop` is cancelled.
    pub async fn start(
        self,
        role: Role,
    ) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = if role == Role::Worker {
            None
        } else {
            Some(
                TcpListener::bind(self.config.listen)
                    .await
                    .with_context(|| format!("cannot listen on {}", self.config.listen))?,
            )
        };
        let address = listener
            .as_ref()
            .map_or(Ok(self.config.listen), TcpListener::local_addr)?;
        let handle = tokio::spawn(self.run(role, listener));
        Ok((address, handle))
    }

    async fn run(mut self, role: Role, listener: Option<TcpListener>) {
        let mut tasks = tokio::task::JoinSet::new();
        // What arrived since `init` is in this receiver; the app keeps a fresh one.
        let settings_changes =
            std::mem::replace(&mut self.settings_changes, self.events.subscribe());
        tasks.spawn(forget_stale_settings(
            settings_changes,
            self.services.clone(),
            self.stop.clone(),
        ));
        // One client, so answering Slack and the jobs that call it share one pool.
        let slack_api = SlackApi::new(&self.config.slack_api_url);
        let slack_outbound = SlackOutbound::new(
            self.services.incidents.clone(),
            self.services.settings.clone(),
            &self.config.site_url,
            slack_api.clone(),
        );
        if let Some(listener) = listener {
            // Compressing every asset of the build takes a while: not on an async worker.
            let web_dir = self.config.web_dir.clone();
            let web = tokio::task::spawn_blocking(move || WebBuild::load(web_dir.as_deref()))
                .await
                .unwrap_or_else(|error| {
                    tracing::error!(%error, "cannot load the web frontend; serving a placeholder page");
                    WebBuild::default()
                });
            let snapshot = PublicSnapshot::new(
                self.services.clone(),
                self.config.site_url.clone(),
                web,
                |view, stale| Box::pin(crate::graphql::status_response(view, stale)),
            );
            let changes = self.events.subscribe();
            if let Err(error) = snapshot.rebuild().await {
                tracing::warn!(%error, "cannot build the public snapshot yet; retrying");
            }
            tasks.spawn(snapshot.clone().keep_current(
                changes,
                self.config.resync_interval,
                self.stop.clone(),
            ));
            let router = router(AppState {
                ops: OpsState {
                    db: self.db.clone(),
                    queue: self.queue.clone(),
                    metrics: http::metrics_handle(),
                    metrics_token: self.config.metrics_token.clone(),
                },
                hooks: HookState {
                    intake: self.intake.clone(),
                    settings: self.services.settings.clone(),
                },
                slack: SlackState {
                    inbound: SlackInbound::new(
                        self.services.incidents.clone(),
                        self.services.settings.clone(),
                        &self.config.site_url,
                        self.config.overrides.slack_signing_secret.clone(),
                        slack_api,
                        &self.services.limits,
                    ),
                    jobs: self.services.jobs.clone(),
                },
                public: PublicState {
                    snapshot: snapshot.clone(),
                },
                graphql: GraphqlState {
                    schema: crate::graphql::schema(
                        self.services.clone(),
                        self.events.clone(),
                        self.queue.clone(),
                        snapshot.clone(),
                        Arc::new(slack_outbound.clone()),
                    ),
                    auth: self.services.auth.clone(),
                    snapshot: snapshot.clone(),
                    sockets: Sockets::new(
                        self.services
                            .limits
                            .open("sockets", self.config.sockets_per_address),
                        self.config.max_sockets,
                        self.config.socket_ping,
                        snapshot,
                    ),
                    memo: Arc::default(),
                },
                subscription_pages: SubscriptionPagesState {
                    subscribers: self.services.subscribers.clone(),
                    settings: self.services.settings.clone(),
                },
                trusted_proxies: TrustedProxies(Arc::new(self.config.trusted_proxies.clone())),
            });
            tasks.spawn(http::serve(
                listener,
                router,
                self.config.max_connections,
                self.stop.clone(),
            ));
        }
        if role != Role::Worker {
            tasks.spawn(self.intake.clone().replay_until(self.stop.clone()));
        }
        if role != Role::Web {
            if self.config.database.is_sqlite() {
                // SQLite is one process's: a lease still held is a killed predecessor's,
                // and waiting for it to run out would only delay its jobs.
                match self.queue.release("").await {
                    Ok(0) => {}
                    Ok(released) => {
                        tracing::info!(released, "took over the jobs of the previous run");
                    }
                    Err(error) => tracing::warn!(%error, "cannot release old job leases"),
                }
            }
            let pool = WorkerPool::new(
                self.queue.clone(),
                self.jobs.clone(),
                self.config.num_workers,
            )
            .register(NotifyHandler::new(
                self.services.clone(),
                self.config.clone(),
                self.mailer.clone(),
            ))
            .register(SubscriberMailHandler::new(
                self.services.clone(),
                self.config.clone(),
                self.mailer.clone(),
            ))
            .register(SlackSyncHandler(slack_outbound.clone()))
            .register(SlackHomeHandler(slack_outbound.clone()))
            .register(SlackEphemeralHandler(slack_outbound))
            .register(RetentionHandler(Retention::new(
                self.db.clone(),
                self.queue.clone(),
                self.services.notifications.clone(),
                self.config.retention.clone(),
            )));
            tasks.spawn(pool.run(self.stop.clone(), SHUTDOWN_GRACE));
            tasks.spawn(timers(
                self.services.clone(),
                self.db.clone(),
                self.config.retention.clone(),
                self.jobs.clone(),
                self.stop.clone(),
            ));
        }
        while tasks.join_next().await.is_some() {}
        self.db.close_by_ref().await.ok();
    }
}

/// The web server's state: one small state per area. Every handler extracts only its
/// own (through [`FromRef`]), so no handler can reach what its area has no business
/// with, and `http/` and the adapters never see this type.
struct AppState {
    ops: OpsState,
    hooks: HookState,
    slack: SlackState,
    public: PublicState,
    graphql: GraphqlState,
    subscription_pages: SubscriptionPagesState,
    trusted_proxies: TrustedProxies,
}

macro_rules! sub_state {
    ($($field:ident: $state:ty),+ $(,)?) => {$(
        impl FromRef<Arc<AppState>> for $state {
            fn from_ref(app: &Arc<AppState>) -> Self {
                app.$field.clone()
            }
        }
    )+};
}

sub_state!(
    ops: OpsState,
    hooks: HookState,
    slack: SlackState,
    public: PublicState,
    graphql: GraphqlState,
    subscription_pages: SubscriptionPagesState,
    trusted_proxies: TrustedProxies,
);

fn router(state: AppState) -> Router {
    Router::new()
        .merge(http::routes())
        .merge(opsgenie::routes())
        .merge(alertmanager::routes())
        .merge(pagerduty::routes())
        .merge(generic::routes())
        .merge(slack::incoming::routes())
        .merge(http::graphql::routes())
        .merge(http::public::routes())
        .merge(http::logo::routes())
        .merge(email::web::routes())
        .merge(http::web::routes())
        .fallback(http::web::not_found)
        // axum clones the state for every request: one reference count, not every
        // service's handles.
        .with_state(Arc::new(state))
        .layer(middleware::from_fn(http::track_requests))
}

/// Work that happens because time passes: maintenance that starts by itself, asking
/// in Slack about maintenance that does not, and offering the retention job.
async fn timers(
    services: Services,
    db: DatabaseConnection,
    retention: RetentionConfig,
    jobs: JobWaker,
    stop: CancellationToken,
) {
    let mut interval = tokio::time::interval(TIMER_INTERVAL);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = stop.cancelled() => return,
        }
        match services.incidents.start_due_maintenance().await {
            Ok(started) if !started.is_empty() => {
                tracing::info!(?started, "started scheduled maintenance");
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not start scheduled maintenance"),
        }
        if let Err(error) = services.incidents.prompt_due_maintenance().await {
            tracing::warn!(%error, "could not ask about due maintenance");
        }
        match maintenance::offer(&db, &retention, chrono::Utc::now()).await {
            Ok(true) => jobs.wake(),
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "could not enqueue the retention job"),
        }
    }
}

/// Settings changed on another replica (or events may have been missed): drop caches.
async fn forget_stale_settings(
    mut receiver: tokio::sync::broadcast::Receiver<DomainEvent>,
    services: Services,
    stop: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            event = receiver.recv() => event,
            () = stop.cancelled() => return,
        };
        match event {
            Ok(DomainEvent::SettingsChanged { .. } | DomainEvent::Resync)
            | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                services.settings.forget_cached();
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Creates the data directory readable by the owner only (it holds secret.key, the
/// SQLite database, spooled alerts and mails), and tightens one an older version
/// made with the umask's mode.
pub fn prepare_data_dir(data_dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};

    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;
    let mode = std::fs::metadata(data_dir)
        .with_context(|| format!("cannot read the data directory {}", data_dir.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0
        && let Err(error) =
            std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))
    {
        // Someone else's directory (a mount the operator prepared): theirs to decide.
        tracing::warn!(%error, path = %data_dir.display(), "cannot make the data directory private");
    }
    Ok(())
}

/// Seals stored secrets still in plaintext; see [`crate::services::seal_stored_secrets`].
pub async fn seal_stored_secrets(
    db: &DatabaseConnection,
    secret_key: &Secret,
) -> anyhow::Result<()> {
    let report = crate::services::seal_stored_secrets(db, &SecretBox::new(secret_key))
        .await
        .context("cannot seal the stored secrets")?;
    if report.sealed > 0 {
        tracing::info!(
            sealed = report.sealed,
            "sealed stored secrets written before sealing existed"
        );
    }
    Ok(())
}

/// The key that signs console sessions and seals stored secrets: made once, readable
/// by the owner only.
pub fn ensure_secret_key(data_dir: &Path) -> anyhow::Result<Secret> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let path = data_dir.join("secret.key");
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut file) => {
            let key = Secret::generate(512);
            file.write_all(key.expose().as_bytes())?;
            file.sync_all()?;
            Ok(key)
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            let key = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let key = key.trim();
            anyhow::ensure!(
                key.len() >= 32,
                "{} is too short to be a signing key",
                path.display()
            );
            Ok(Secret::new(key))
        }
        Err(error) => Err(error).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// Resolves when the process is asked to stop (SIGTERM or Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
