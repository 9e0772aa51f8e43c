//! The `monostat` command.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use monostat::app::{App, Role, shutdown_signal};
use monostat::config::Config;
use monostat::domain::{Actor, ClassifiedError, ErrorKind};
use monostat::services::StepUp;
use monostat::simulate::SimulatedAlert;
use monostat::{store, telemetry};

#[derive(Parser)]
#[command(
    name = "monostat",
    version,
    about = "A self-hosted status page for one monolithic product"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server and job workers (the default).
    Serve {
        /// Which parts to run in this process.
        #[arg(long, value_enum, default_value = "all")]
        role: Role,
    },
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Print the GraphQL schema (SDL); `schema.graphql` is its output.
    ExportSchema,
    /// Ask the server on `MONOSTAT_LISTEN` for `/healthz`; exit 0 when it answers 200.
    /// The container image's HEALTHCHECK, which has no curl.
    Healthcheck {
        /// Give up after this many seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 5)]
        timeout: u64,
    },
    /// Send a test alert to the running server's OpsGenie hook, wait for Enter (or
    /// `--close-after`), then close it.
    SimulateAlert {
        /// Close the alert after this many seconds instead of waiting for Enter.
        #[arg(long, value_name = "SECONDS")]
        close_after: Option<u64>,
    },
    /// Create a console user with full rights.
    Createsuperuser {
        /// Username; asked for when not given.
        #[arg(long)]
        username: Option<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::ExportSchema)) {
        // Needs no configuration, database or runtime.
        print!("{}", monostat::graphql::sdl());
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve { role: Role::All }) {
            Command::Serve { role } => serve(config, role).await,
            Command::Migrate => migrate(config).await,
            Command::ExportSchema => unreachable!("handled before start-up"),
            Command::Healthcheck { timeout } => healthcheck(&config, timeout).await,
            Command::SimulateAlert { close_after } => simulate_alert(config, close_after).await,
            Command::Createsuperuser {
                username,
                password_stdin,
            } => createsuperuser(config, username, password_stdin).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config, role: Role) -> anyhow::Result<()> {
    let site_url = config.site_url.clone();
    let app = App::init(config).await?;
    let stop = app.stop.clone();
    let (address, running) = app.start(role).await?;
    if role == Role::Worker {
        tracing::info!("monostat job workers running");
    } else {
        tracing::info!(%address, "monostat listening");
        println!("monostat is running at {site_url} (listening on {address})");
    }
    tokio::select! {
        () = shutdown_signal() => tracing::info!("shutting down"),
        () = stop.cancelled() => {}
    }
    stop.cancel();
    running.await.context("the server task failed")?;
    Ok(())
}

async fn healthcheck(config: &Config, timeout: u64) -> anyhow::Result<()> {
    // A server bound to every address (0.0.0.0 in the image) answers on loopback.
    let mut address = config.listen;
    if address.ip().is_unspecified() {
        address.set_ip(match address.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let url = format!("http://{address}/healthz");
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(timeout))
        .build()?;
    let response = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("no answer from {url}"))?;
    anyhow::ensure!(
        response.status().is_success(),
        "{url} answered {}",
        response.status()
    );
    Ok(())
}

async fn migrate(config: Config) -> anyhow::Result<()> {
    monostat::app::prepare_data_dir(&config.data_dir)?;
    let secret_key = monostat::app::ensure_secret_key(&config.data_dir)?;
    let db = store::connect(&config.database)
        .await
        .context("cannot connect to the database")?;
    store::migrate(&db)
        .await
        .context("database migration failed")?;
    monostat::app::seal_stored_secrets(&db, &secret_key).await?;
    println!("database schema is up to date");
    Ok(())
}

async fn createsuperuser(
    config: Config,
    username: Option<String>,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let interactive = std::io::stdin().is_terminal();
    let username = match username {
        Some(username) => username,
        None if interactive => prompt("Username: ")?,
        None => anyhow::bail!("give --username when standard input is not a terminal"),
    };
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else if let Ok(password) = std::env::var("MONOSTAT_SUPERUSER_PASSWORD") {
        password
    } else if interactive {
        let password = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Password (again): ")?;
        anyhow::ensure!(password == again, "the passwords do not match");
        password
    } else {
        anyhow::bail!("give the password with --password-stdin or MONOSTAT_SUPERUSER_PASSWORD");
    };
    // Refuse a weak password before touching the database.
    monostat::services::UserService::check_password(&username, &password)?;
    let app = App::init(config).await?;
    let created = app
        .services
        .users
        .create(
            &username,
            &password,
            &Actor::System,
            &StepUp::command_line(),
        )
        .await;
    app.stop.cancel();
    match created {
        Ok(user) => {
            println!("created the user {}", user.username);
            Ok(())
        }
        // The operator's to fix: say just what is wrong.
        Err(error)
            if matches!(
                error.kind(),
                ErrorKind::Invalid { .. } | ErrorKind::Conflict
            ) =>
        {
            Err(error.into())
        }
        Err(error) => Err(error).context("could not create the user"),
    }
}

async fn simulate_alert(config: Config, close_after: Option<u64>) -> anyhow::Result<()> {
    let app = App::init(config).await?;
    let alert = SimulatedAlert::new(&app.config, &app.services.settings).await;
    app.stop.cancel();
    let alert = alert?;
    let opened = alert.open().await?;
    println!("sent a test alert ({}): {opened}", alert.alert_id());
    println!("the public page now shows a suspected incident");
    match close_after {
        Some(seconds) => tokio::time::sleep(std::time::Duration::from_secs(seconds)).await,
        None => {
            prompt("press Enter to close the alert ")?;
        }
    }
    let closed = alert.close().await?;
    println!("closed the test alert: {closed}");
    Ok(())
}

fn prompt(question: &str) -> anyhow::Result<String> {
    print!("{question}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}
