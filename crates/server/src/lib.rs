//! The `integrations` binary's library half: configuration, wiring, and the
//! commands. `main` only parses the command line and calls [`run`].

pub mod config;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use integrations_app::{Adapters, App};
use integrations_auth::JwtVerifier;
use integrations_crypto::AesGcmCipher;
use integrations_domain::{Caller, OrgId, Role, UserId};
use integrations_http::{HttpOptions, HttpState};
use integrations_ports::{SystemClock, UlidGenerator};
use integrations_store::{DieselStore, PoolOptions, migrations};
use time::OffsetDateTime;

use config::{SecretSource, Settings};

/// The org of the owner token printed on a zero-configuration start.
pub const DEFAULT_ORG: &str = "org_default";
/// How long that printed token lives.
pub const STARTUP_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "integrations",
    version,
    about = "The Integrations Management API"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: Settings,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run pending migrations, then serve HTTP (the default).
    Serve,
    /// Run pending migrations and exit.
    Migrate,
    /// Print a signed access token.
    Token {
        /// The organisation (`org_id` claim).
        #[arg(long)]
        org: String,
        /// The user (`sub` claim).
        #[arg(long)]
        sub: String,
        /// owner, admin, editor, viewer or service.
        #[arg(long)]
        role: Role,
        /// Lifetime in seconds (default: the access-token TTL setting, 900).
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// Print the OpenAPI document (JSON), the one served at /openapi.json.
    Openapi,
}

/// Runs the command the command line names.
///
/// # Errors
/// Any start-up failure, with the step that failed as context.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            init_logging(&settings);
            serve_blocking(&settings)
        }
        Command::Migrate => {
            init_logging(&settings);
            let database = settings.database()?;
            let applied = migrations::run_pending(&database).context("migrating")?;
            tracing::info!(database = %database, applied = ?applied, "migrations are up to date");
            Ok(())
        }
        Command::Token {
            org,
            sub,
            role,
            ttl,
        } => {
            let caller = Caller {
                org: OrgId::parse(&org).map_err(|e| anyhow::anyhow!("--org {e}"))?,
                user: UserId::parse(&sub).map_err(|e| anyhow::anyhow!("--sub {e}"))?,
                role,
            };
            let verifier = verifier(&settings)?.0;
            let ttl = Duration::from_secs(ttl.unwrap_or(settings.access_token_ttl));
            let token = verifier
                .mint(&caller, ttl, OffsetDateTime::now_utc())
                .context("signing the token")?;
            #[expect(
                clippy::print_stdout,
                reason = "printing the token is the command's output"
            )]
            {
                println!("{token}");
            }
            Ok(())
        }
        Command::Openapi => {
            let document = integrations_http::openapi::document()
                .to_pretty_json()
                .context("rendering the OpenAPI document")?;
            #[expect(
                clippy::print_stdout,
                reason = "printing the document is the command's output"
            )]
            {
                println!("{document}");
            }
            Ok(())
        }
    }
}

/// The token verifier and where its secret came from.
fn verifier(settings: &Settings) -> anyhow::Result<(JwtVerifier, SecretSource)> {
    let secret = config::secret(
        settings,
        settings.jwt_secret.as_deref(),
        "JWT_SECRET",
        "jwt_secret",
        config::random_jwt_secret,
    )?;
    let verifier = JwtVerifier::new(
        &secret.bytes,
        settings.jwt_issuer.clone(),
        settings.jwt_audience.clone(),
    )?;
    Ok((verifier, secret.source))
}

/// The cipher for secrets at rest, from `ENCRYPTION_KEY` or `DATA_DIR`.
fn cipher(settings: &Settings) -> anyhow::Result<AesGcmCipher> {
    let key = config::secret(
        settings,
        settings.encryption_key.as_deref().map(str::as_bytes),
        "ENCRYPTION_KEY",
        "encryption_key",
        AesGcmCipher::generate_key,
    )?;
    let text = String::from_utf8(key.bytes)
        .map_err(|_| anyhow::anyhow!("ENCRYPTION_KEY must be base64 text"))?;
    Ok(AesGcmCipher::from_base64(&text)?)
}

fn init_logging(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.log_format() {
        config::LogFormat::Pretty => builder.try_init(),
        config::LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// A running server: its address and a handle to stop it.
#[derive(Debug)]
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: std::net::SocketAddr,
    /// Stops the server gracefully.
    pub handle: actix_web::dev::ServerHandle,
}

/// Opens the store, wires the app, and starts serving on `listener`. The
/// returned future runs until the server stops (SIGTERM/SIGINT or the handle).
///
/// # Errors
/// When the store cannot be opened or the secret is missing or weak.
pub fn start(
    settings: &Settings,
    listener: TcpListener,
) -> anyhow::Result<(Running, actix_web::dev::Server, Option<String>)> {
    let database = settings.database()?;
    let (verifier, source) = verifier(settings)?;
    let startup_token = (source == SecretSource::DataDir)
        .then(|| {
            let owner = Caller {
                org: OrgId::parse(DEFAULT_ORG).ok()?,
                user: UserId::parse("owner").ok()?,
                role: Role::Owner,
            };
            verifier
                .mint(&owner, STARTUP_TOKEN_TTL, OffsetDateTime::now_utc())
                .ok()
        })
        .flatten();
    let cipher = cipher(settings)?;
    let store = DieselStore::open(&database, PoolOptions::for_url(&database))
        .with_context(|| format!("opening the database {database}"))?;
    let pool = store.clone();
    let app = App::new(Adapters {
        store: Arc::new(store),
        tokens: Arc::new(verifier),
        cipher: Arc::new(cipher),
        clock: Arc::new(SystemClock),
        ids: Arc::new(UlidGenerator),
    });
    let state = HttpState::new(
        app,
        HttpOptions {
            rate_limit_per_minute: settings.rate_limit_per_minute,
            pool_state: Arc::new(move || pool.pool_state()),
        },
    )
    .context("registering metrics")?;
    let addr = listener
        .local_addr()
        .context("reading the listen address")?;
    let server = actix_web::HttpServer::new(move || integrations_http::application(state.clone()))
        // A client has 5 s to send its request head, and idle keep-alive
        // connections close after 30 s: slow or idle clients cannot pile up.
        .client_request_timeout(Duration::from_secs(5))
        .client_disconnect_timeout(Duration::from_secs(2))
        .keep_alive(Duration::from_secs(30))
        .shutdown_timeout(30)
        .listen(listener)
        .context("listening")?
        .run();
    tracing::info!(%addr, database = %database, "serving");
    Ok((
        Running {
            addr,
            handle: server.handle(),
        },
        server,
        startup_token,
    ))
}

fn serve_blocking(settings: &Settings) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&settings.listen_addr)
        .with_context(|| format!("binding LISTEN_ADDR {}", settings.listen_addr))?;
    actix_web::rt::System::new().block_on(async {
        let (running, server, token) = start(settings, listener)?;
        if let Some(token) = token {
            print_welcome(&running, &token);
        }
        server.await.context("serving HTTP")
    })?;
    tracing::info!("stopped");
    Ok(())
}

#[expect(
    clippy::print_stdout,
    reason = "the zero-configuration welcome is meant for the terminal"
)]
fn print_welcome(running: &Running, token: &str) {
    let base = format!("http://{}", running.addr);
    println!(
        "\nIntegrations Management API on {base}\n\
         Owner token for {DEFAULT_ORG} (valid 24 hours; mint others with `integrations token --help`):\n\n\
         export TOKEN={token}\n\n\
         Try: curl -H \"Authorization: Bearer $TOKEN\" {base}/v1/admin/integration-templates\n"
    );
}
