//! Configuration from the environment (SPEC §12), and the secrets kept in
//! `DATA_DIR` for the zero-configuration SQLite default.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, ValueEnum};
use integrations_store::DatabaseUrl;

/// Settings shared by every command; each also reads its environment variable.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// `sqlite://PATH` (embedded, the default) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Where the embedded database and generated keys live.
    #[arg(long, env = "DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// The HTTP listen address.
    #[arg(
        long,
        env = "LISTEN_ADDR",
        default_value = "127.0.0.1:8084",
        global = true
    )]
    pub listen_addr: String,
    /// Checked against the tokens' `iss` claim when set.
    #[arg(long, env = "JWT_ISSUER", global = true)]
    pub jwt_issuer: Option<String>,
    /// Checked against the tokens' `aud` claim when set.
    #[arg(long, env = "JWT_AUDIENCE", global = true)]
    pub jwt_audience: Option<String>,
    /// Lifetime of tokens minted by `integrations token`, in seconds.
    #[arg(long, env = "ACCESS_TOKEN_TTL", default_value_t = 900, global = true)]
    pub access_token_ttl: u64,
    /// Requests per user and minute, counted per process; 0 turns the limit off.
    /// `service` tokens are exempt.
    #[arg(
        long,
        env = "RATE_LIMIT_PER_MINUTE",
        default_value_t = 100,
        global = true
    )]
    pub rate_limit_per_minute: u32,
    /// `pretty` (default on a terminal) or `json` (default otherwise).
    #[arg(long, env = "LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,
    /// The JWT secret when given in code (tests); otherwise `JWT_SECRET` or `DATA_DIR`.
    #[arg(skip)]
    pub jwt_secret: Option<Vec<u8>>,
    /// The encryption key when given in code (tests); otherwise `ENCRYPTION_KEY` or `DATA_DIR`.
    #[arg(skip)]
    pub encryption_key: Option<String>,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable, coloured.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl Settings {
    /// The log format in effect.
    pub fn log_format(&self) -> LogFormat {
        self.log_format.unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                LogFormat::Pretty
            } else {
                LogFormat::Json
            }
        })
    }

    /// The database in effect: `DATABASE_URL`, or the embedded file in `DATA_DIR`.
    pub fn database(&self) -> anyhow::Result<DatabaseUrl> {
        let raw = self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.data_dir.join("integrations.db").display()
            )
        });
        DatabaseUrl::parse(&raw).with_context(|| "DATABASE_URL is invalid")
    }
}

/// Where a secret came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    /// The environment variable (or the settings, in tests).
    Environment,
    /// A file in `DATA_DIR` that this service generated (now or earlier).
    DataDir,
}

/// A secret and where it came from.
pub struct Secret {
    /// The secret's bytes.
    pub bytes: Vec<u8>,
    /// Its origin.
    pub source: SecretSource,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// Reads the secret in `variable`, or — for the embedded SQLite default only —
/// the one generated once into `DATA_DIR/file` by `generate`.
pub fn secret(
    settings: &Settings,
    given: Option<&[u8]>,
    variable: &str,
    file: &str,
    generate: fn() -> String,
) -> anyhow::Result<Secret> {
    if let Some(bytes) = given {
        return Ok(Secret {
            bytes: bytes.to_vec(),
            source: SecretSource::Environment,
        });
    }
    let database = settings.database()?;
    if let Ok(value) = std::env::var(variable) {
        return Ok(Secret {
            bytes: value.into_bytes(),
            source: SecretSource::Environment,
        });
    }
    if !database.is_sqlite() {
        bail!(
            "{variable} is required when DATABASE_URL is a PostgreSQL URL (several replicas must share it)"
        );
    }
    let path = settings.data_dir.join(file);
    let bytes = read_or_generate(&path, generate)
        .with_context(|| format!("cannot read or create {}", path.display()))?;
    Ok(Secret {
        bytes,
        source: SecretSource::DataDir,
    })
}

/// 48 random bytes, base64url-encoded: a generated `JWT_SECRET`.
pub fn random_jwt_secret() -> String {
    let mut random = [0_u8; 48];
    rand::fill(&mut random);
    URL_SAFE_NO_PAD.encode(random)
}

/// The file's trimmed contents, creating it (mode 0600) from `generate` if it
/// does not exist.
fn read_or_generate(path: &Path, generate: fn() -> String) -> std::io::Result<Vec<u8>> {
    match std::fs::read_to_string(path) {
        Ok(text) => return Ok(text.trim().as_bytes().to_vec()),
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
        Err(_) => {}
    }
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    let encoded = generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            std::io::Write::write_all(&mut file, encoded.as_bytes())?;
            file.sync_all()?;
            Ok(encoded.into_bytes())
        }
        // Another process created it first: use theirs.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(path)?.trim().as_bytes().to_vec())
        }
        Err(err) => Err(err),
    }
}
