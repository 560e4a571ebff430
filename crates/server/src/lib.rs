//! The `integrations` binary's library half: configuration, wiring, and the
//! commands. `main` only parses the command line and calls [`run`].

pub mod config;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use integrations_app::{Adapters, App, Feed, FeedPump, PumpOptions};
use integrations_auth::JwtVerifier;
use integrations_crypto::AesGcmCipher;
use integrations_domain::{Caller, OrgId, Role, UserId};
use integrations_http::{HttpOptions, HttpState};
use integrations_ports::{SystemClock, UlidGenerator};
use integrations_store::{Channels, DieselStore, PoolOptions, migrations};
use time::OffsetDateTime;

use config::{SecretSource, Settings};

/// The org of the owner token printed on a zero-configuration start.
pub const DEFAULT_ORG: &str = "org_default";
/// How long that printed token lives (at most `MAX_TOKEN_TTL`).
pub const STARTUP_TOKEN_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// What a start prints for the operator on stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Welcome {
    /// This start generated the JWT secret: a ready-to-use owner token of
    /// [`DEFAULT_ORG`], valid for the given time. Printed on that start only.
    OwnerToken(String, Duration),
    /// A later start on the secret in `DATA_DIR`: one line saying how to mint
    /// a token.
    HowToMint,
    /// The secret came from the environment: nothing to print.
    Nothing,
}

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
        /// Print a link that signs in to the console at `LISTEN_ADDR`
        /// (`http://127.0.0.1:8084/console#token=…`) instead of the bare token.
        #[arg(long)]
        console: bool,
    },
    /// Print the OpenAPI document (JSON), the one served at /openapi.json.
    Openapi,
    /// Print, per key id, how many stored secrets it seals (whole database),
    /// and which keys this configuration holds and seals with.
    Keys,
    /// Re-seal every stored secret under the first configured key, in
    /// batches, while servers keep serving; safe to stop and run again.
    /// Exits non-zero when any value could not be opened.
    Rekey {
        /// Values per transaction.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        batch: u64,
    },
}

/// Runs the command the command line names.
///
/// # Errors
/// Any start-up failure, with the step that failed as context; a password of
/// `DATABASE_URL` never shows in it, even where a driver quoted the URL.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let url = cli.settings.database_url.clone();
    execute(cli).map_err(|err| match url {
        Some(url) => anyhow::anyhow!(integrations_store::scrub(&format!("{err:#}"), &url)),
        None => err,
    })
}

fn execute(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.settings;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            init_logging(&settings);
            serve_blocking(&settings)
        }
        Command::Migrate => {
            init_logging(&settings);
            let database = settings.database()?;
            config::prepare_database_files(&database)?;
            let applied = migrations::run_pending(&database).context("migrating")?;
            tracing::info!(database = %database, applied = ?applied, "migrations are up to date");
            Ok(())
        }
        Command::Token {
            org,
            sub,
            role,
            ttl,
            console,
        } => {
            let caller = Caller {
                org: OrgId::parse(&org).map_err(|e| anyhow::anyhow!("--org {e}"))?,
                user: UserId::parse(&sub).map_err(|e| anyhow::anyhow!("--sub {e}"))?,
                role,
            };
            let ttl = token_ttl(&settings, ttl)?;
            let verifier = verifier(&settings)?.0;
            let token = verifier
                .mint(&caller, ttl, OffsetDateTime::now_utc())
                .context("signing the token")?;
            #[expect(
                clippy::print_stdout,
                reason = "printing the token is the command's output"
            )]
            {
                if console {
                    println!("{}", console_link(&settings.listen_addr, &token));
                } else {
                    println!("{token}");
                }
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
        Command::Keys => {
            print_stdout(&key_table(&keys(&settings)?));
            Ok(())
        }
        Command::Rekey { batch } => {
            init_logging(&settings);
            let batch = usize::try_from(batch).unwrap_or(usize::MAX);
            let report = rekey(&settings, batch)?;
            print_stdout(&rekey_summary(&report));
            if report.failed > 0 {
                anyhow::bail!(
                    "{} stored values could not be opened (listed above by place and key id): \
                     give this process the keys they name and run rekey again",
                    report.failed
                );
            }
            Ok(())
        }
    }
}

#[expect(clippy::print_stdout, reason = "the command's output")]
fn print_stdout(text: &str) {
    print!("{text}");
}

/// Per key id, how many stored values it seals in the whole database, which
/// key is active and which ones this configuration holds (`integrations keys`).
///
/// # Errors
/// When the database cannot be opened or read, or the keyring is invalid.
pub fn keys(settings: &Settings) -> anyhow::Result<Vec<integrations_app::KeyStatus>> {
    operator_app(settings)?
        .all_keys()
        .context("counting the sealed values")
}

/// Re-seals every stored value under the first configured key, `batch`
/// values per transaction (`integrations rekey`); see [`App::rekey`].
///
/// # Errors
/// When the database cannot be opened or fails midway (run it again: it
/// resumes), or the keyring is invalid. Values that do not open are in the
/// report, not errors.
pub fn rekey(settings: &Settings, batch: usize) -> anyhow::Result<integrations_app::RekeyReport> {
    operator_app(settings)?
        .rekey(batch, |resealed| tracing::info!(resealed, "re-sealing"))
        .context("re-sealing")
}

/// The app for an operator's command: the store and the keyring, no token
/// verification (the command line serves no request).
fn operator_app(settings: &Settings) -> anyhow::Result<App> {
    Ok(open_app(settings, Arc::new(NoTokens))?.0)
}

/// The app on the configured database and keyring, and its store (for the
/// pool's metrics): prepares the database files, opens the store (running
/// pending migrations) and keeps SQLite's files private.
fn open_app(
    settings: &Settings,
    tokens: Arc<dyn integrations_ports::TokenVerifier>,
) -> anyhow::Result<(App, DieselStore)> {
    let database = settings.database()?;
    let cipher = cipher(settings)?;
    config::prepare_database_files(&database)?;
    let feed = Feed::new();
    let store = DieselStore::open(&database, PoolOptions::for_url(&database))
        .with_context(|| format!("opening the database {database}"))?
        .with_on_commit(feed.on_commit())
        .with_clock(Arc::new(SystemClock));
    if let integrations_store::DatabaseUrl::Sqlite(path) = &database {
        // Files SQLite made before this version kept them private.
        config::restrict_database_files(path)?;
    }
    let app = App::new(Adapters {
        store: Arc::new(store.clone()),
        tokens,
        cipher: Arc::new(cipher),
        clock: Arc::new(SystemClock),
        ids: Arc::new(UlidGenerator),
    })
    .with_feed(feed);
    Ok((app, store))
}

/// The token verifier of a command that serves no request: it accepts nothing.
#[derive(Debug)]
struct NoTokens;

impl integrations_ports::TokenVerifier for NoTokens {
    fn verify_token(
        &self,
        _token: &str,
    ) -> Result<integrations_ports::VerifiedToken, integrations_ports::AuthError> {
        Err(integrations_ports::AuthError::Invalid(
            "this command accepts no token".to_owned(),
        ))
    }
}

/// `integrations keys`: one line per key id.
fn key_table(keys: &[integrations_app::KeyStatus]) -> String {
    use std::fmt::Write as _;
    let yes = |b: bool| if b { "yes" } else { "no" };
    let mut out = format!(
        "{:<34} {:<7} {:<11} SEALED VALUES\n",
        "KID", "ACTIVE", "CONFIGURED"
    );
    for key in keys {
        let _ = writeln!(
            out,
            "{:<34} {:<7} {:<11} {}",
            key.kid,
            yes(key.active),
            yes(key.configured),
            key.sealed_values
        );
    }
    out
}

/// `integrations rekey`: the counts before and after, and what did not open.
fn rekey_summary(report: &integrations_app::RekeyReport) -> String {
    use std::fmt::Write as _;
    let mut out = format!("before:\n{}", key_table(&report.before));
    let _ = write!(
        out,
        "moved {} values sealed inline by an older release into the sealed-values table\n\
         re-sealed {} values under {}\nafter:\n{}",
        report.adopted,
        report.resealed,
        report.active,
        key_table(&report.after)
    );
    if report.failed > 0 {
        let _ = writeln!(out, "{} values could not be opened:", report.failed);
        for failure in &report.failures {
            let _ = writeln!(
                out,
                "  org {} {} {} {}: key {}: {}",
                failure.org,
                failure.place.owner_kind,
                failure.place.owner_id,
                failure.place.field_path,
                failure.kid,
                failure.reason
            );
        }
        let listed = u64::try_from(report.failures.len()).unwrap_or(u64::MAX);
        if report.failed > listed {
            let _ = writeln!(out, "  … and {} more", report.failed - listed);
        }
    }
    out
}

/// The lifetime of a token `integrations token` mints: `--ttl`, or else
/// `ACCESS_TOKEN_TTL`; never above `MAX_TOKEN_TTL` (such a token would be
/// refused).
fn token_ttl(settings: &Settings, requested: Option<u64>) -> anyhow::Result<Duration> {
    let max = settings.max_token_ttl;
    let (ttl, name) = match requested {
        Some(ttl) => (ttl, "--ttl"),
        None => (settings.access_token_ttl, "ACCESS_TOKEN_TTL"),
    };
    if ttl > max {
        anyhow::bail!(
            "{name} {ttl} is above MAX_TOKEN_TTL ({max} s): the service refuses tokens that live longer; \
             ask for at most {max} s"
        );
    }
    Ok(Duration::from_secs(ttl))
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
    )?
    .with_max_ttl(Duration::from_secs(settings.max_token_ttl));
    Ok((verifier, secret.source))
}

/// The keyring for secrets at rest: `ENCRYPTION_KEYS` (several keys, the
/// first seals), `ENCRYPTION_KEY` (one key), or the key kept in `DATA_DIR`.
/// Setting both variables is refused: which one wins would be a guess.
fn cipher(settings: &Settings) -> anyhow::Result<AesGcmCipher> {
    let keyring = match settings.encryption_key.as_deref() {
        Some(given) => Some(given.to_owned()),
        None => std::env::var("ENCRYPTION_KEYS").ok(),
    };
    if let Some(text) = keyring {
        if settings.encryption_key.is_none() && std::env::var_os("ENCRYPTION_KEY").is_some() {
            anyhow::bail!(
                "both ENCRYPTION_KEY and ENCRYPTION_KEYS are set: set only ENCRYPTION_KEYS \
                 (it may list the ENCRYPTION_KEY value as one of its entries)"
            );
        }
        return AesGcmCipher::from_keyring(&text)
            .map_err(|err| anyhow::anyhow!("ENCRYPTION_KEYS {err}"));
    }
    let key = config::secret(
        settings,
        None,
        "ENCRYPTION_KEY",
        "encryption_key",
        AesGcmCipher::generate_key,
    )?;
    let text = String::from_utf8(key.bytes)
        .map_err(|_| anyhow::anyhow!("ENCRYPTION_KEY must be base64 text"))?;
    AesGcmCipher::from_base64(&text).map_err(|err| anyhow::anyhow!("ENCRYPTION_KEY {err}"))
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
    /// The application the server runs (it shares its state with every
    /// clone: the feed, the counters, the caps on work at once).
    pub app: App,
}

/// How the open connections are capped: actix counts them per worker, so
/// `MAX_CONNECTIONS` is divided among the workers, rounding up (the process
/// may hold up to `workers - 1` more than the cap when it does not divide).
///
/// Each worker is given at least two connections: actix-server marks a full
/// worker available again only once *two* of its connections have closed
/// (a counting quirk of actix-server, actix-web issue 2703), so a worker
/// limited to one connection would never accept again. Hence there are never
/// more workers than half the cap, and the cap is at least 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionCap {
    /// HTTP worker threads.
    pub workers: usize,
    /// Open connections each worker serves at once.
    pub per_worker: usize,
}

impl ConnectionCap {
    /// The split of `max_connections` over at most `cpus` workers.
    pub fn new(max_connections: u32, cpus: usize) -> Self {
        let max = usize::try_from(max_connections)
            .unwrap_or(usize::MAX)
            .max(2);
        let workers = cpus.clamp(1, max / 2);
        Self {
            workers,
            per_worker: max.div_ceil(workers),
        }
    }
}

/// Opens the store, wires the app, and starts serving on `listener`. The
/// returned future runs until the server stops (SIGTERM/SIGINT or the handle).
///
/// # Errors
/// When the store cannot be opened or the secret is missing or weak.
pub fn start(
    settings: &Settings,
    listener: TcpListener,
) -> anyhow::Result<(Running, impl Future<Output = std::io::Result<()>>, Welcome)> {
    let database = settings.database()?;
    let (verifier, source) = verifier(settings)?;
    let welcome = match source {
        SecretSource::Generated => {
            let owner = Caller {
                org: OrgId::parse(DEFAULT_ORG)?,
                user: UserId::parse("owner")?,
                role: Role::Owner,
            };
            let ttl = STARTUP_TOKEN_TTL.min(verifier.max_ttl());
            let token = verifier
                .mint(&owner, ttl, OffsetDateTime::now_utc())
                .context("signing the owner token")?;
            Welcome::OwnerToken(token, ttl)
        }
        SecretSource::DataDir => Welcome::HowToMint,
        SecretSource::Environment => Welcome::Nothing,
    };
    let (app, pool) = open_app(settings, Arc::new(verifier))?;
    let app = app.with_max_held_per_user(settings.max_held_requests_per_user);
    check_keys_in_background(app.clone());
    start_pump(settings, &app, &pool)?;
    let app_feed = app.feed().clone();
    let running_app = app.clone();
    let state = HttpState::new(
        app,
        HttpOptions {
            rate_limit_per_minute: settings.rate_limit_per_minute,
            service_rate_limit_per_minute: settings.service_rate_limit_per_minute,
            auth_failures_per_minute: settings.auth_failures_per_minute,
            pool_state: Arc::new(move || pool.pool_state()),
        },
    )
    .context("registering metrics")?;
    let addr = listener
        .local_addr()
        .context("reading the listen address")?;
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let cap = ConnectionCap::new(settings.max_connections, cpus);
    let server = actix_web::HttpServer::new(move || integrations_http::application(state.clone()))
        .workers(cap.workers)
        .max_connections(cap.per_worker)
        // A client has 5 s to send its request head, and idle keep-alive
        // connections close after 30 s: slow or idle clients cannot pile up.
        .client_request_timeout(Duration::from_secs(5))
        .client_disconnect_timeout(Duration::from_secs(2))
        .keep_alive(Duration::from_secs(30))
        .shutdown_timeout(30)
        // SIGTERM and SIGINT are handled below: held requests are answered
        // before the server stops.
        .disable_signals()
        .listen(listener)
        .context("listening")?
        .run();
    let handle = server.handle();
    stop_on_signal(handle.clone(), app_feed.clone());
    // However the server stops, the feed closes with it (and its pump).
    let server = async move {
        let stopped = server.await;
        app_feed.close();
        stopped
    };
    tracing::info!(
        %addr,
        database = %database,
        workers = cap.workers,
        max_connections = settings.max_connections,
        max_connections_per_worker = cap.per_worker,
        "serving"
    );
    Ok((
        Running {
            addr,
            handle,
            app: running_app,
        },
        server,
        welcome,
    ))
}

/// Starts the change feed's pump on a thread of its own: it publishes new
/// events to this process's waiters, tells the other processes, and prunes
/// events older than `EVENT_RETENTION_DAYS`. It stops when the feed closes.
fn start_pump(settings: &Settings, app: &App, store: &DieselStore) -> anyhow::Result<()> {
    let options = PumpOptions {
        retention: Duration::from_secs(u64::from(settings.event_retention_days) * 86_400),
        ..PumpOptions::default()
    };
    let pump = FeedPump::new(
        app.feed().clone(),
        Arc::new(store.clone()),
        Arc::new(Channels::new(store.url())),
        Arc::new(SystemClock),
        options,
    );
    std::thread::Builder::new()
        .name("feed-pump".into())
        .spawn(move || pump.run())
        .context("starting the feed's thread")?;
    Ok(())
}

/// On SIGTERM or SIGINT: answers every held request at once (an empty list,
/// a 304) and ends the event streams, then stops the server gracefully
/// (requests in flight finish, within 30 s).
fn stop_on_signal(server: actix_web::dev::ServerHandle, feed: Feed) {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    actix_web::rt::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot listen for SIGTERM and SIGINT");
            return;
        };
        let first = std::pin::pin!(term.recv());
        let second = std::pin::pin!(int.recv());
        futures_util::future::select(first, second).await;
        tracing::info!("shutting down: answering held requests, finishing the others");
        feed.close();
        server.stop(true).await;
    });
}

/// Logs a warning naming every key id that seals stored values but that no
/// configured key has (those values cannot be opened: rendering them reports
/// `KEY_UNAVAILABLE`). Runs beside the start, so a large table never delays it.
fn check_keys_in_background(app: App) {
    let spawned = std::thread::Builder::new()
        .name("key-check".to_owned())
        .spawn(move || match app.all_keys() {
            Ok(keys) => {
                for key in keys.iter().filter(|k| !k.configured && k.sealed_values > 0) {
                    tracing::warn!(
                        kid = %key.kid,
                        sealed_values = key.sealed_values,
                        "stored secrets are sealed under a key this process does not have: \
                         add it to ENCRYPTION_KEYS, or they cannot be opened"
                    );
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot check the keys of the stored secrets"),
        });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "cannot start the key check");
    }
}

fn serve_blocking(settings: &Settings) -> anyhow::Result<()> {
    raise_open_file_limit(settings.max_connections);
    let listener = TcpListener::bind(&settings.listen_addr)
        .with_context(|| format!("binding LISTEN_ADDR {}", settings.listen_addr))?;
    actix_web::rt::System::new().block_on(async {
        let (running, server, welcome) = start(settings, listener)?;
        print_welcome(&running, &welcome);
        server.await.context("serving HTTP")
    })?;
    tracing::info!("stopped");
    Ok(())
}

/// Raises the open-file soft limit to the hard limit, so that
/// `MAX_CONNECTIONS` (and the database's files and sockets) fit, and logs the
/// figure; warns when the cap cannot be reached.
fn raise_open_file_limit(max_connections: u32) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::info!(
                open_files = limit,
                "open-file limit raised to the hard limit"
            );
            // Room for the listener, the database and the log: a few dozen files.
            if limit < u64::from(max_connections).saturating_add(64) {
                tracing::warn!(
                    open_files = limit,
                    max_connections,
                    "the open-file limit is below MAX_CONNECTIONS: raise the hard limit (ulimit -Hn) or lower MAX_CONNECTIONS"
                );
            }
        }
        Err(err) => tracing::warn!(error = %err, "cannot raise the open-file limit"),
    }
}

/// The link that signs in to the console with `token` on a server
/// listening at `listen` (`host:port`). A server listening on every
/// interface (`0.0.0.0`, `[::]`) is reached at the loopback address; a
/// listen address that is not an IP address and port is used as written.
/// The token goes in the fragment, which a browser never sends to a server.
fn console_link(listen: &str, token: &str) -> String {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
    let host = match listen.parse::<SocketAddr>() {
        Ok(addr) => {
            let ip = match addr.ip() {
                IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
                ip => ip,
            };
            SocketAddr::new(ip, addr.port()).to_string()
        }
        Err(_) => listen.to_owned(),
    };
    format!("http://{host}/console#token={token}")
}

/// "24 hours", "90 minutes", "45 s".
fn lifetime(ttl: Duration) -> String {
    match ttl.as_secs() {
        3600 => "1 hour".to_owned(),
        s if s % 3600 == 0 => format!("{} hours", s / 3600),
        s if s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} s"),
    }
}

#[expect(
    clippy::print_stdout,
    reason = "the zero-configuration welcome is meant for the terminal"
)]
fn print_welcome(running: &Running, welcome: &Welcome) {
    let base = format!("http://{}", running.addr);
    match welcome {
        Welcome::OwnerToken(token, ttl) => println!(
            "\nIntegrations Management API on {base}\n\
             Owner token for {DEFAULT_ORG} (valid {}; printed on this first start only, \
             mint others with `integrations token --help`):\n\n\
             export TOKEN={token}\n\n\
             Sign in to the console: {}\n\n\
             Try: curl -H \"Authorization: Bearer $TOKEN\" {base}/v1/admin/integration-templates\n",
            lifetime(*ttl),
            console_link(&running.addr.to_string(), token),
        ),
        Welcome::HowToMint => println!(
            "Integrations Management API on {base}; mint a token with: \
             integrations token --org {DEFAULT_ORG} --sub YOUR_NAME --role owner"
        ),
        Welcome::Nothing => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_is_divided_among_workers_rounding_up() {
        let cap = |max, cpus| {
            let cap = ConnectionCap::new(max, cpus);
            (cap.workers, cap.per_worker)
        };
        assert_eq!(cap(25_000, 2), (2, 12_500));
        assert_eq!(cap(25_000, 3), (3, 8_334));
        assert_eq!(cap(25_000, 1), (1, 25_000));
        // Never fewer than two connections per worker (see `ConnectionCap`).
        assert_eq!(cap(2, 8), (1, 2));
        assert_eq!(cap(3, 8), (1, 3));
        assert_eq!(cap(4, 8), (2, 2));
        assert_eq!(cap(5, 2), (2, 3));
        assert_eq!(cap(0, 4), (1, 2));
    }

    #[test]
    fn console_links_point_at_a_reachable_host() {
        let link = |listen| console_link(listen, "a.b.c");
        assert_eq!(
            link("127.0.0.1:8084"),
            "http://127.0.0.1:8084/console#token=a.b.c"
        );
        assert_eq!(
            link("0.0.0.0:9000"),
            "http://127.0.0.1:9000/console#token=a.b.c"
        );
        assert_eq!(link("[::]:8084"), "http://[::1]:8084/console#token=a.b.c");
        assert_eq!(
            link("[2001:db8::1]:80"),
            "http://[2001:db8::1]:80/console#token=a.b.c"
        );
        assert_eq!(
            link("localhost:8084"),
            "http://localhost:8084/console#token=a.b.c"
        );
    }

    #[test]
    fn a_token_lifetime_above_the_maximum_is_refused() {
        use clap::Parser as _;
        let cli = Cli::parse_from(["integrations", "--max-token-ttl", "600"]);
        let settings = cli.settings;
        assert!(token_ttl(&settings, Some(600)).is_ok());
        let refused = token_ttl(&settings, Some(601)).map_err(|e| e.to_string());
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.contains("--ttl 601 is above MAX_TOKEN_TTL (600 s)")),
            "{refused:?}"
        );
        // ACCESS_TOKEN_TTL (900 by default) is checked when --ttl is not given.
        assert!(token_ttl(&settings, None).is_err());
    }
}
