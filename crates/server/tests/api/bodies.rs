//! Request bodies on the wire: read only after the role check, refused
//! before they are read when declared too large, given 10 s to arrive, and
//! a connection that still holds unread body bytes is announced closed
//! (`Connection: close`) rather than dropped under a pooling client.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use integrations_domain::Role;
use serde_json::{Value, json};

use crate::support::{TestApp, paths::TEMPLATES};

/// A raw HTTP/1.1 connection to the test server.
struct Wire {
    stream: TcpStream,
}

/// One response read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_ascii_lowercase())
        })
    }
}

impl Wire {
    fn open(app: &TestApp) -> Self {
        let address = app.base.trim_start_matches("http://");
        let stream = TcpStream::connect(address).expect("connects");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("a timeout");
        Self { stream }
    }

    /// Sends a request head announcing `length` body bytes, and `sent` of them.
    fn send(&mut self, method: &str, path: &str, token: Option<&str>, length: usize, sent: &[u8]) {
        let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {length}\r\n\r\n"
        );
        self.stream.write_all(head.as_bytes()).expect("head sent");
        self.stream.write_all(sent).expect("body sent");
    }

    /// Reads one response (the server sends `Content-Length` on every answer here).
    fn answer(&mut self) -> Answer {
        let mut raw = Vec::new();
        let mut byte = [0_u8; 1];
        while !raw.ends_with(b"\r\n\r\n") {
            let read = self.stream.read(&mut byte).expect("an answer");
            assert!(read == 1, "the connection closed before an answer");
            raw.push(byte[0]);
        }
        let head = String::from_utf8(raw).expect("a text head");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status");
        let mut answer = Answer {
            status,
            head,
            body: Value::Null,
        };
        let length: usize = answer
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).expect("the body");
        answer.body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        answer
    }

    /// Whether the server closed the connection (reads end of stream).
    fn closed(&mut self) -> bool {
        let mut rest = [0_u8; 1];
        matches!(self.stream.read(&mut rest), Ok(0))
    }
}

fn a_body_left_unread_is_announced_with_connection_close(app: &TestApp) {
    let mut wire = Wire::open(app);
    wire.send("POST", TEMPLATES, None, 1000, b"{\"name\":");
    let answer = wire.answer();
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.header("connection").as_deref(), Some("close"));
    assert!(wire.closed());
}

fn a_body_read_to_its_end_keeps_the_connection(app: &TestApp) {
    let token = app.owner();
    let mut wire = Wire::open(app);
    let body = json!({ "name": "Kept", "vendor": "webhook" }).to_string();
    wire.send("POST", TEMPLATES, Some(&token), body.len(), body.as_bytes());
    let created = wire.answer();
    assert_eq!(created.status, 201, "{created:?}");
    assert_ne!(created.header("connection").as_deref(), Some("close"));
    // The same connection serves the next request.
    wire.send("GET", TEMPLATES, Some(&token), 0, b"");
    let listed = wire.answer();
    assert_eq!((listed.status, &listed.body["total"]), (200, &json!(1)));
}

fn the_role_is_checked_before_the_body_is_read(app: &TestApp) {
    let viewer = app.token("org_a", Role::Viewer);
    let mut wire = Wire::open(app);
    // A large body is announced but never sent: the 403 cannot wait for it.
    wire.send("POST", TEMPLATES, Some(&viewer), 1_000_000, b"");
    let answer = wire.answer();
    assert_eq!(
        (answer.status, &answer.body["error"]["code"]),
        (403, &json!("FORBIDDEN")),
        "{answer:?}"
    );
    assert_eq!(answer.header("connection").as_deref(), Some("close"));
}

fn a_declared_oversized_body_is_refused_before_it_is_read(app: &TestApp) {
    let editor = app.token("org_a", Role::Editor);
    let mut wire = Wire::open(app);
    wire.send("POST", TEMPLATES, Some(&editor), 2 * 1024 * 1024, b"{");
    let answer = wire.answer();
    assert_eq!(
        (answer.status, &answer.body["error"]["code"]),
        (413, &json!("PAYLOAD_TOO_LARGE")),
        "{answer:?}"
    );
}

fn a_body_that_does_not_arrive_in_time_is_408(app: &TestApp) {
    let editor = app.token("org_a", Role::Editor);
    let mut wire = Wire::open(app);
    wire.send(
        "POST",
        TEMPLATES,
        Some(&editor),
        100,
        b"{\"name\": \"Slow\"",
    );
    let answer = wire.answer();
    assert_eq!(
        (answer.status, &answer.body["error"]["code"]),
        (408, &json!("REQUEST_TIMEOUT")),
        "{answer:?}"
    );
    assert_eq!(answer.header("connection").as_deref(), Some("close"));
    // Nothing was created.
    let listed = app.get(TEMPLATES, &app.owner()).expect(200);
    assert_eq!(listed.body["total"], 0);
}

/// What a pooling client meets: answers given before a body was read,
/// interleaved with ordinary requests on the same pool, never fail.
fn a_pooling_client_never_meets_a_silently_closed_connection(app: &TestApp) {
    let token = app.owner();
    let body = json!({ "name": "x".repeat(2000), "vendor": "webhook" });
    for _ in 0..100 {
        let refused = app.call("POST", TEMPLATES, None, Some(&body));
        assert_eq!(refused.status, 401);
        app.get(TEMPLATES, &token).expect(200);
    }
}

crate::api_tests!(
    a_body_left_unread_is_announced_with_connection_close,
    a_body_read_to_its_end_keeps_the_connection,
    the_role_is_checked_before_the_body_is_read,
    a_declared_oversized_body_is_refused_before_it_is_read,
    a_body_that_does_not_arrive_in_time_is_408,
    a_pooling_client_never_meets_a_silently_closed_connection,
);
