//! The real `integrations` binary as a child process: the one harness every
//! test that runs the binary uses.
//!
//! [`command`] builds an invocation in a folder of the test's with none of
//! the variables the binary reads inherited from the test's environment, so
//! each test sets exactly what it means. [`Process::start`] runs it as a
//! server on a free port, keeps its stdout lines and its stderr (the logs),
//! waits until `/healthz` answers, and kills it when dropped. A process
//! dereferences to the same [`Client`] as the in-process test app, so the
//! verb and endpoint helpers of `support.rs` work on it too (each request
//! on a connection of its own, like separate clients).

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::Client;

/// The binary Cargo built for these tests.
pub const BINARY: &str = env!("CARGO_BIN_EXE_integrations");
/// A JWT secret for server processes (strong enough to be accepted).
pub const SECRET: &str = "process-test-secret-0123456789-ABCDEFGHIJ";
/// The encryption key of the test app, base64.
pub const KEY: &str = crate::support::ENCRYPTION_KEY;

/// Every variable the binary reads, removed by [`command`].
pub const VARIABLES: [&str; 20] = [
    "DATABASE_URL",
    "DATA_DIR",
    "LISTEN_ADDR",
    "JWT_SECRET",
    "ENCRYPTION_KEY",
    "ENCRYPTION_KEYS",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "ACCESS_TOKEN_TTL",
    "MAX_TOKEN_TTL",
    "RATE_LIMIT_PER_MINUTE",
    "SERVICE_RATE_LIMIT_PER_MINUTE",
    "EVENT_RETENTION_DAYS",
    "AUTH_FAILURES_PER_MINUTE",
    "MAX_HELD_REQUESTS_PER_USER",
    "MAX_CONNECTIONS",
    "LOG_FORMAT",
    "RUST_LOG",
    "INTEGRATIONS_FAULT_PAUSE_AFTER_COMMIT_MS",
    "INTEGRATIONS_FAULT_REKEY_BATCH_PAUSE_MS",
];

/// How long a server may take to answer `/healthz`.
const STARTUP: Duration = Duration::from_secs(60);
/// How long a stdout line may take to come.
const STDOUT: Duration = Duration::from_secs(10);
/// How long a server may take to stop after SIGTERM.
const SHUTDOWN: Duration = Duration::from_secs(40);

/// The binary, run in `dir`, with none of the variables it reads inherited.
pub fn command(dir: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command.current_dir(dir);
    for variable in VARIABLES {
        command.env_remove(variable);
    }
    command
}

/// Runs `integrations token` in `dir` with `variables` (`JWT_SECRET` and
/// whatever else the test's servers use) and returns the printed token.
pub fn mint(dir: &Path, variables: &[(&str, &str)], org: &str, sub: &str, role: &str) -> String {
    let output = command(dir)
        .envs(variables.iter().copied())
        .args(["token", "--org", org, "--sub", sub, "--role", role])
        .output()
        .expect("token runs");
    assert!(
        output.status.success(),
        "token failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("text")
        .trim()
        .to_owned()
}

/// A server process: its client, its stdout lines as they come, its stderr
/// in a file; killed when dropped.
pub struct Process {
    pub child: Child,
    client: Client,
    stdout: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
    stderr: PathBuf,
    _logs: tempfile::TempDir,
}

impl std::ops::Deref for Process {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Process {
    /// Starts `command` listening on a free port and waits until it is
    /// healthy (panicking with its logs if it exits or never answers).
    pub fn start(mut command: Command) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let logs = tempfile::tempdir().expect("a folder for the logs");
        let stderr = logs.path().join("stderr.log");
        let mut child = command
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).expect("a log file"))
            .spawn()
            .expect("the binary starts");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("piped stdout");
        let sink = Arc::clone(&stdout);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().expect("not poisoned").push(line);
            }
        });
        let mut process = Self {
            child,
            client: Client::unpooled(format!("http://127.0.0.1:{port}")),
            stdout,
            reader: Some(reader),
            stderr,
            _logs: logs,
        };
        process.wait_until_healthy();
        process
    }

    fn wait_until_healthy(&mut self) {
        let deadline = Instant::now() + STARTUP;
        while ureq::get(format!("{}/healthz", self.base)).call().is_err() {
            if let Some(status) = self.child.try_wait().expect("waitable") {
                panic!("the server exited with {status}: {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "the server did not become healthy: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for a stdout line `found` accepts; returns the lines up to and
    /// including it.
    fn stdout_through(&self, what: &str, found: impl Fn(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + STDOUT;
        loop {
            {
                let lines = self.stdout.lock().expect("not poisoned");
                if let Some(at) = lines.iter().position(|l| found(l)) {
                    return lines[..=at].to_vec();
                }
                assert!(
                    Instant::now() < deadline,
                    "no stdout line {what} in {lines:?}"
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The first stdout line starting with `prefix` (without the prefix).
    pub fn stdout_line(&self, prefix: &str) -> String {
        let lines = self.stdout_through(&format!("starting with {prefix:?}"), |l| {
            l.starts_with(prefix)
        });
        lines
            .last()
            .and_then(|l| l.strip_prefix(prefix))
            .expect("the line found")
            .to_owned()
    }

    /// The stdout lines up to and including the first containing `wanted`.
    pub fn stdout_until(&self, wanted: &str) -> Vec<String> {
        self.stdout_through(&format!("with {wanted:?}"), |l| l.contains(wanted))
    }

    /// Everything the process wrote to stderr so far: its logs.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Sends `signal` (`"TERM"`, `"KILL"`) to the process.
    pub fn signal(&self, signal: &str) {
        let killed = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success(), "kill -{signal}");
    }

    /// Sends SIGTERM and waits for the process to exit (panicking if it
    /// ignores the signal); returns its exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal("TERM");
        let deadline = Instant::now() + SHUTDOWN;
        loop {
            if let Some(status) = self.child.try_wait().expect("waitable") {
                return status;
            }
            assert!(Instant::now() < deadline, "the server ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the process with SIGTERM, asserts that it exited with 0, and
    /// returns everything it wrote: (stdout, stderr).
    pub fn stop(mut self) -> (String, String) {
        let status = self.terminate();
        assert!(
            status.success(),
            "SIGTERM exits 0: {status}: {}",
            self.log()
        );
        if let Some(reader) = self.reader.take() {
            reader.join().expect("the reader ends with the process");
        }
        let stdout = self.stdout.lock().expect("not poisoned").join("\n");
        (stdout, self.log())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
