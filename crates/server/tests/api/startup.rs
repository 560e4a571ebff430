//! The binary's hardening: private files, the owner token printed on the first
//! start only, `token --ttl` bounded by `MAX_TOKEN_TTL`, weak secrets refused,
//! `DATABASE_URL` passwords never shown, and the log format chosen by stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use integrations_testing::TestDb;
use serde_json::json;

use crate::process::{BINARY, KEY, Process, VARIABLES, command};

const SECRET: &str = "startup-test-secret-0123456789-ABCDEFGHIJ";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `integrations serve` from `command`, as a server process.
fn serve(mut command: Command) -> Process {
    command.arg("serve");
    Process::start(command)
}

/// Creates a template named `name` and returns the status.
fn create_template(server: &Process, token: &str, name: &str) -> u16 {
    server
        .create_template(token, &json!({ "name": name, "vendor": "ga4" }))
        .status
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[cfg(unix)]
#[test]
fn files_are_private_and_the_owner_token_is_printed_on_the_first_start_only() {
    let dir = tempfile::tempdir().expect("a folder");
    let data = dir.path().join("data");
    let database = data.join("integrations.db");
    // First start: it generates the JWT secret, so it prints an owner token.
    let first = serve(command(dir.path()));
    let lines = first.stdout_until("export TOKEN=");
    let token = lines
        .last()
        .and_then(|l| l.strip_prefix("export TOKEN="))
        .expect("the token line")
        .to_owned();
    assert_eq!(create_template(&first, &token, "First"), 201);
    // While it runs (WAL mode), every file is private.
    assert_eq!(mode(&data), 0o700, "DATA_DIR");
    for file in [
        "integrations.db",
        "integrations.db-wal",
        "integrations.db-shm",
    ] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    for secret in ["jwt_secret", "encryption_key"] {
        assert_eq!(mode(&data.join(secret)), 0o600, "{secret}");
    }
    first.stop();

    // A database made readable by an older version is made private again.
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&database, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    // Later starts: no token, one line saying how to mint one.
    let second = serve(command(dir.path()));
    let lines = second.stdout_until("integrations token");
    assert_eq!(lines.len(), 1, "one line: {lines:?}");
    let line = &lines[0];
    assert!(
        line.contains("integrations token --org org_default --sub") && line.contains("--role"),
        "{line}"
    );
    assert!(!line.contains("TOKEN=") && !line.contains("eyJ"), "{line}");
    assert_eq!(mode(&database), 0o600);
    // The first token still works: the secret is the same.
    assert_eq!(create_template(&second, &token, "Second"), 201);
    for file in ["integrations.db-wal", "integrations.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    second.stop();
}

#[cfg(unix)]
#[test]
fn migrate_creates_the_database_privately() {
    let dir = tempfile::tempdir().expect("a folder");
    let output = command(dir.path())
        .arg("migrate")
        .output()
        .expect("migrate runs");
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(mode(&dir.path().join("data")), 0o700);
    assert_eq!(mode(&dir.path().join("data/integrations.db")), 0o600);
}

fn token(dir: &Path, variables: &[(&str, &str)], ttl: Option<&str>) -> Output {
    let mut command = command(dir);
    command
        .env("JWT_SECRET", SECRET)
        .envs(variables.iter().copied())
        .args([
            "token", "--org", "org_a", "--sub", "ops", "--role", "viewer",
        ]);
    if let Some(ttl) = ttl {
        command.args(["--ttl", ttl]);
    }
    command.output().expect("token runs")
}

#[test]
fn the_token_command_refuses_a_lifetime_above_max_token_ttl() {
    let dir = tempfile::tempdir().expect("a folder");
    let refused = token(dir.path(), &[], Some("86401"));
    assert!(!refused.status.success());
    assert!(refused.stdout.is_empty(), "no token printed");
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("--ttl 86401 is above MAX_TOKEN_TTL (86400 s)"),
        "{stderr}"
    );
    assert!(token(dir.path(), &[], Some("86400")).status.success());
    // The limit is configurable, and the default lifetime is checked too.
    let refused = token(dir.path(), &[("MAX_TOKEN_TTL", "600")], None);
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains("ACCESS_TOKEN_TTL 900 is above MAX_TOKEN_TTL (600 s)"),
        "{stderr}"
    );
    let minted = token(dir.path(), &[("MAX_TOKEN_TTL", "600")], Some("600"));
    assert!(minted.status.success(), "{}", text(&minted.stderr));
}

#[test]
fn the_token_command_prints_a_console_link_with_console() {
    let dir = tempfile::tempdir().expect("a folder");
    let run = |listen: Option<&str>| {
        let mut command = command(dir.path());
        command.env("JWT_SECRET", SECRET).args([
            "token",
            "--org",
            "org_a",
            "--sub",
            "ops",
            "--role",
            "viewer",
            "--console",
        ]);
        if let Some(listen) = listen {
            command.env("LISTEN_ADDR", listen);
        }
        let output = command.output().expect("token runs");
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout).trim_end().to_owned()
    };
    let bare = text(&token(dir.path(), &[], None).stdout)
        .trim_end()
        .to_owned();
    let link = run(None);
    let minted = link
        .strip_prefix("http://127.0.0.1:8084/console#token=")
        .unwrap_or_else(|| panic!("{link}"));
    // A token like the bare one: three parts, the same header.
    assert_eq!(minted.split('.').count(), 3, "{link}");
    assert_eq!(minted.split('.').next(), bare.split('.').next());
    // The configured address and port; every interface is reached on loopback.
    assert!(run(Some("0.0.0.0:9191")).starts_with("http://127.0.0.1:9191/console#token="));
    assert!(run(Some("127.0.0.2:8000")).starts_with("http://127.0.0.2:8000/console#token="));
}

#[test]
fn weak_jwt_secrets_are_refused_at_startup_without_being_shown() {
    let dir = tempfile::tempdir().expect("a folder");
    for (weak, expected) in [
        (
            "short-secret",
            "JWT_SECRET must be at least 32 bytes (got 12)",
        ),
        (
            "abcdabcdabcdabcdabcdabcdabcdabcdabcdabcd",
            "JWT_SECRET must hold at least 16 distinct byte values (got 4)",
        ),
    ] {
        for args in [
            &["serve"][..],
            &["token", "--org", "o", "--sub", "s", "--role", "viewer"],
        ] {
            let output = command(dir.path())
                .env("JWT_SECRET", weak)
                .env("ENCRYPTION_KEY", KEY)
                .env("LISTEN_ADDR", "127.0.0.1:0")
                .args(args)
                .output()
                .expect("the binary runs");
            assert!(!output.status.success(), "{args:?} with {weak}");
            let stderr = text(&output.stderr);
            assert!(stderr.contains(expected), "{args:?}: {stderr}");
            assert!(
                !stderr.contains(weak),
                "the secret is never shown: {stderr}"
            );
            assert!(!text(&output.stdout).contains(weak));
        }
    }
}

#[test]
fn a_password_quoted_by_the_database_driver_is_not_shown() {
    let dir = tempfile::tempdir().expect("a folder");
    // libpq quotes the part of a URL it cannot decode: here, the password.
    for url in [
        "postgres://app:p%zzhunter2@127.0.0.1:1/x",
        "postgres://app@127.0.0.1:1/x?password=hunter2%zz",
    ] {
        let output = command(dir.path())
            .env("DATABASE_URL", url)
            .env("JWT_SECRET", SECRET)
            .env("ENCRYPTION_KEY", KEY)
            .arg("migrate")
            .output()
            .expect("the binary runs");
        assert!(!output.status.success());
        let stderr = text(&output.stderr);
        assert!(
            stderr.contains("cannot connect to postgres://app"),
            "{stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{url}: {stderr}");
    }
}

#[test]
fn database_passwords_never_reach_the_logs() {
    let Some(db) = TestDb::postgres() else { return };
    let dir = tempfile::tempdir().expect("a folder");
    // The test server trusts local connections: the passwords are ignored,
    // but they are in the URL, in both forms.
    let url = db
        .url()
        .replacen("postgres://postgres@", "postgres://postgres:hunter2@", 1)
        + "?sslmode=disable&password=hunter3";
    assert!(url.contains(":hunter2@"), "{url}");
    let migrate = command(dir.path())
        .env("DATABASE_URL", &url)
        .env("LOG_FORMAT", "json")
        .arg("migrate")
        .output()
        .expect("migrate runs");
    assert!(migrate.status.success(), "{}", text(&migrate.stderr));
    let mut serve_command = command(dir.path());
    serve_command
        .env("DATABASE_URL", &url)
        .env("JWT_SECRET", SECRET)
        .env("ENCRYPTION_KEY", KEY)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "debug");
    let server = serve(serve_command);
    let log = server.log();
    server.stop();
    let logs = format!("{}{log}", text(&migrate.stderr));
    assert!(
        logs.contains("postgres://postgres:***@") && logs.contains("&password=***"),
        "the database is named, redacted: {logs}"
    );
    assert!(
        !logs.contains("hunter2") && !logs.contains("hunter3"),
        "{logs}"
    );
}

#[test]
fn the_log_format_follows_stderr_not_stdout() {
    let Ok(script) = which("script") else {
        eprintln!("skipped: `script` (util-linux) is not installed to give stdout a terminal");
        return;
    };
    let dir = tempfile::tempdir().expect("a folder");
    let log = dir.path().join("stderr.log");
    // stdout is a terminal (script's), stderr a file: the logs must be JSON.
    let inner = format!("exec '{BINARY}' migrate 2>'{}'", log.display());
    let mut run = Command::new(script);
    run.current_dir(dir.path());
    for variable in VARIABLES {
        run.env_remove(variable);
    }
    let status = run
        .args(["-qec", &inner, "/dev/null"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("script runs");
    assert!(status.success());
    let logs = std::fs::read_to_string(&log).expect("the log");
    let first = logs.lines().next().expect("a log line");
    assert!(
        serde_json::from_str::<serde_json::Value>(first).is_ok(),
        "JSON logs when stderr is not a terminal: {logs}"
    );
}

fn which(program: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(program))
                .find(|path| path.is_file())
        })
        .ok_or(())
}
