//! Configuration from the environment, and the secrets kept in `DATA_DIR`
//! for the zero-configuration SQLite default.
//!
//! Files this service creates are private: `DATA_DIR` (and any folder it
//! creates for the database) is created 0700, the generated secrets and the
//! SQLite database with its `-wal`/`-shm` files are 0600 (SQLite creates those
//! two with the database file's mode).

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, ValueEnum};
use integrations_store::DatabaseUrl;

/// Settings shared by every command; each also reads its environment variable.
/// `Debug` shows the database URL without its password, and no secret.
#[derive(Clone, Args)]
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
    /// The longest lifetime (`exp - iat`) of an accepted token, in seconds;
    /// `integrations token --ttl` refuses more.
    #[arg(long, env = "MAX_TOKEN_TTL", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..), global = true)]
    pub max_token_ttl: u64,
    /// Requests per human user and minute, counted per process; 0 turns the
    /// limit off.
    #[arg(
        long,
        env = "RATE_LIMIT_PER_MINUTE",
        default_value_t = 100,
        global = true
    )]
    pub rate_limit_per_minute: u32,
    /// Requests per `service` user and minute, counted per process; 0 turns
    /// the limit off.
    #[arg(
        long,
        env = "SERVICE_RATE_LIMIT_PER_MINUTE",
        default_value_t = 6_000,
        global = true
    )]
    pub service_rate_limit_per_minute: u32,
    /// Days the change feed keeps events (1 to 3650); a reader further
    /// behind gets 410 `CURSOR_EXPIRED` and starts again from a snapshot.
    #[arg(
        long,
        env = "EVENT_RETENTION_DAYS",
        default_value_t = 7,
        value_parser = clap::value_parser!(u32).range(1..=3650),
        global = true
    )]
    pub event_retention_days: u32,
    /// Failed authentications (401) per client address and minute, counted
    /// per process, before further failing requests get 429; 0 turns the
    /// limit off.
    #[arg(
        long,
        env = "AUTH_FAILURES_PER_MINUTE",
        default_value_t = 30,
        global = true
    )]
    pub auth_failures_per_minute: u32,
    /// Requests one user (org and `sub`) may hold open at once, counted per
    /// process: long polls (`wait`), config watches and event streams; the
    /// next gets 429. 0 turns the cap off.
    #[arg(
        long,
        env = "MAX_HELD_REQUESTS_PER_USER",
        default_value_t = integrations_app::DEFAULT_MAX_HELD_PER_USER,
        global = true
    )]
    pub max_held_requests_per_user: u32,
    /// The most open connections the process serves at once (at least 2).
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 25_000, value_parser = clap::value_parser!(u32).range(2..), global = true)]
    pub max_connections: u32,
    /// `pretty` (default when stderr, where logs go, is a terminal) or `json`
    /// (default otherwise).
    #[arg(long, env = "LOG_FORMAT", global = true)]
    pub log_format: Option<LogFormat>,
    /// The JWT secret when given in code (tests); otherwise `JWT_SECRET` or `DATA_DIR`.
    #[arg(skip)]
    pub jwt_secret: Option<Vec<u8>>,
    /// The keyring (as `ENCRYPTION_KEYS` writes it) when given in code (tests);
    /// otherwise `ENCRYPTION_KEYS`, `ENCRYPTION_KEY` or the key kept in `DATA_DIR`.
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

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field(
                "database_url",
                &self.database_url.as_deref().map(integrations_store::redact),
            )
            .field("data_dir", &self.data_dir)
            .field("listen_addr", &self.listen_addr)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("max_token_ttl", &self.max_token_ttl)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field(
                "service_rate_limit_per_minute",
                &self.service_rate_limit_per_minute,
            )
            .field("auth_failures_per_minute", &self.auth_failures_per_minute)
            .field("event_retention_days", &self.event_retention_days)
            .field(
                "max_held_requests_per_user",
                &self.max_held_requests_per_user,
            )
            .field("max_connections", &self.max_connections)
            .field("log_format", &self.log_format)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// The log format in effect: auto-detection looks at stderr, where the
    /// logs go.
    pub fn log_format(&self) -> LogFormat {
        self.log_format.unwrap_or_else(|| {
            if std::io::stderr().is_terminal() {
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
    /// A file in `DATA_DIR` that this service generated on an earlier start.
    DataDir,
    /// A file in `DATA_DIR` that this very call generated.
    Generated,
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
    let (bytes, generated) = read_or_generate(&path, generate)
        .with_context(|| format!("cannot read or create {}", path.display()))?;
    Ok(Secret {
        bytes,
        source: if generated {
            SecretSource::Generated
        } else {
            SecretSource::DataDir
        },
    })
}

/// 48 random bytes, base64url-encoded: a generated `JWT_SECRET`.
pub fn random_jwt_secret() -> String {
    let mut random = [0_u8; 48];
    rand::fill(&mut random);
    URL_SAFE_NO_PAD.encode(random)
}

/// The file's trimmed contents, and whether this call created it from
/// `generate` (mode 0600, in a folder created 0700). The new secret is written
/// to a temporary file in the same folder, flushed to disk, then hard-linked
/// into place, which fails if the file exists: a crash never leaves a partly
/// written file, and of concurrent first starts the first link wins and every
/// other start reads that one secret.
///
/// # Errors
/// An empty (or blank) file is refused, naming it: nothing this process
/// writes can be empty, and deleting a secret others may already use is the
/// operator's call (see `docs/decisions.md`).
fn read_or_generate(path: &Path, generate: fn() -> String) -> std::io::Result<(Vec<u8>, bool)> {
    if let Some(bytes) = read_secret_file(path)? {
        return Ok((bytes, false));
    }
    let folder = path.parent().unwrap_or_else(|| Path::new(""));
    create_private_dir(folder)?;
    let encoded = generate();
    let name = path.file_name().map_or_else(
        || "secret".into(),
        |name| name.to_string_lossy().into_owned(),
    );
    let temporary = path.with_file_name(format!(
        ".{name}.{}.{:016x}.tmp",
        std::process::id(),
        rand::random::<u64>()
    ));
    let written = create_private_file(&temporary).and_then(|mut file| {
        std::io::Write::write_all(&mut file, encoded.as_bytes())?;
        file.sync_all()
    });
    let linked = written.and_then(|()| std::fs::hard_link(&temporary, path));
    // Best effort: a temporary file left by a crash holds only an unused secret.
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Ok(()) => {
            sync_dir(folder)?;
            Ok((encoded.into_bytes(), true))
        }
        // Another process linked its secret first: use that one.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => read_secret_file(path)?
            .map(|bytes| (bytes, false))
            .ok_or(err),
        Err(err) => Err(err),
    }
}

/// The trimmed contents of an existing secret file; `None` when there is none.
fn read_secret_file(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} is empty (an earlier start may have crashed while creating it): \
                 delete it to have a new secret generated, or write the secret into it",
                path.display()
            ),
        )),
        Ok(text) => Ok(Some(text.trim().as_bytes().to_vec())),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// Flushes `folder`'s entries to disk, so a new link survives a power loss.
fn sync_dir(folder: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let folder = if folder.as_os_str().is_empty() {
            Path::new(".")
        } else {
            folder
        };
        std::fs::File::open(folder)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = folder;
    Ok(())
}

/// Creates `folder` and its missing parents, mode 0700 (an existing folder is
/// left as it is: the operator chose it).
pub fn create_private_dir(folder: &Path) -> std::io::Result<()> {
    if folder.as_os_str().is_empty() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(folder)
}

/// Creates a new file, mode 0600; fails with `AlreadyExists` if there is one.
fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Makes the embedded database private before SQLite opens it: its folder is
/// created 0700, the file is created empty with mode 0600 (SQLite gives its
/// `-wal` and `-shm` files the database's mode), and an existing database and
/// its `-wal`/`-shm` files are set to 0600. Nothing to do for PostgreSQL.
pub fn prepare_database_files(database: &DatabaseUrl) -> anyhow::Result<()> {
    let DatabaseUrl::Sqlite(path) = database else {
        return Ok(());
    };
    if let Some(folder) = path.parent() {
        create_private_dir(folder)
            .with_context(|| format!("cannot create the folder of {}", path.display()))?;
    }
    match create_private_file(path) {
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => {
            return Err(err).with_context(|| format!("cannot create {}", path.display()));
        }
    }
    restrict_database_files(path)
}

/// Sets the database file and its `-wal`/`-shm` files (those present) to 0600.
pub fn restrict_database_files(path: &Path) -> anyhow::Result<()> {
    let mut files = vec![path.to_owned()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        files.push(PathBuf::from(name));
    }
    for file in files {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => {
                    return Err(err).with_context(|| {
                        format!("cannot make {} private (mode 0600)", file.display())
                    });
                }
            }
        }
        #[cfg(not(unix))]
        let _ = file;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use crate::Cli;

    #[test]
    fn settings_show_no_password_and_no_secret() {
        let cli = Cli::parse_from([
            "integrations",
            "--database-url",
            "postgres://app:hunter2@db/x?sslmode=require&password=hunter3",
        ]);
        let mut settings = cli.settings;
        settings.jwt_secret = Some(b"jwt-secret-bytes-0123456789-ABCDEFGHIJ".to_vec());
        settings.encryption_key = Some("ZW5jcnlwdGlvbi1rZXktYnl0ZXM=".to_owned());
        let shown = format!("{settings:?}");
        assert!(
            shown.contains("postgres://app:***@db/x?sslmode=require&password=***"),
            "{shown}"
        );
        for secret in ["hunter2", "hunter3", "jwt-secret", "ZW5jcnlwdGlvbi"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[test]
    fn an_empty_secret_file_is_refused_naming_it() {
        let data = tempfile::tempdir().expect("a folder");
        let path = data.path().join("jwt_secret");
        for left in ["", " \n"] {
            std::fs::write(&path, left).expect("written");
            let err = super::read_or_generate(&path, super::random_jwt_secret)
                .expect_err("an empty secret is refused");
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
            assert_eq!(std::fs::read_to_string(&path).expect("read"), left);
        }
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_secret() {
        const STARTS: usize = 8;
        for _ in 0..20 {
            let data = tempfile::tempdir().expect("a folder");
            let path = data.path().join("keys").join("encryption_key");
            let ready = std::sync::Barrier::new(STARTS);
            let found: Vec<(Vec<u8>, bool)> = std::thread::scope(|scope| {
                let starts: Vec<_> = (0..STARTS)
                    .map(|_| {
                        scope.spawn(|| {
                            ready.wait();
                            super::read_or_generate(&path, super::random_jwt_secret)
                                .expect("read or generated")
                        })
                    })
                    .collect();
                starts
                    .into_iter()
                    .map(|start| start.join().expect("no panic"))
                    .collect()
            });
            let on_disk = std::fs::read(&path).expect("the secret file");
            assert!(!on_disk.is_empty());
            assert!(found.iter().all(|(bytes, _)| *bytes == on_disk));
            assert_eq!(found.iter().filter(|(_, generated)| *generated).count(), 1);
            let left: Vec<_> = std::fs::read_dir(path.parent().expect("a folder"))
                .expect("listed")
                .map(|entry| entry.expect("an entry").file_name())
                .collect();
            assert_eq!(left, ["encryption_key"], "no temporary file is left");
        }
    }
}
