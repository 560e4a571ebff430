//! The admin console at `/console`: the page and its assets come from the
//! binary itself, with headers that keep any script but its own out.

use std::io::{Read, Write};
use std::net::TcpStream;

use integrations_testing::Backend;

use crate::support::{Reply, TestApp};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; form-action 'self'";

fn app() -> TestApp {
    TestApp::spawn(Backend::Sqlite).expect("SQLite is always there")
}

#[track_caller]
fn assert_console_headers(reply: &Reply, path: &str, content_type: &str) {
    assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|t| t.starts_with(content_type)),
        "{path}: {:?}",
        reply.header("content-type")
    );
    assert_eq!(reply.header("content-security-policy"), Some(CSP), "{path}");
    assert_eq!(
        reply.header("x-content-type-options"),
        Some("nosniff"),
        "{path}"
    );
    assert_eq!(
        reply.header("referrer-policy"),
        Some("no-referrer"),
        "{path}"
    );
}

/// The `src`/`href` values of `attribute` in `page`.
fn references<'a>(page: &'a str, attribute: &str) -> Vec<&'a str> {
    page.split(&format!("{attribute}=\""))
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

#[test]
fn the_console_page_and_its_assets_come_from_the_binary_with_strict_headers() {
    let app = app();
    for path in ["/console", "/console/"] {
        let page = app.call("GET", path, None, None);
        assert_console_headers(&page, path, "text/html");
        assert!(page.text.contains("<main"), "{}", page.text);
        assert!(
            !page.text.contains("http://") && !page.text.contains("https://"),
            "the page loads nothing from elsewhere"
        );
        assert!(!page.text.contains(" style="), "no inline style");
        // Every script is a file of the console's own, none inline.
        let scripts = page.text.matches("<script").count();
        let sources = references(&page.text, "src");
        assert_eq!(scripts, 1, "{}", page.text);
        assert_eq!(sources, ["/console/console.js"]);
    }

    let page = app.call("GET", "/console", None, None);
    let stylesheet = references(&page.text, "href")
        .into_iter()
        .find(|href| href.starts_with("/console/") && href.contains("css"))
        .expect("a stylesheet");
    let css = app.call("GET", stylesheet, None, None);
    assert_console_headers(&css, stylesheet, "text/css");
    assert!(css.text.contains("font-family"), "{}", css.text);

    let js = app.call("GET", "/console/console.js", None, None);
    assert_console_headers(&js, "/console/console.js", "text/javascript");
    assert!(js.text.contains("sessionStorage"), "the page's own script");
    for forbidden in [
        "localStorage",
        "document.cookie",
        "innerHTML",
        "outerHTML",
        "eval(",
    ] {
        assert!(!js.text.contains(forbidden), "the script uses {forbidden}");
    }
}

#[test]
fn the_console_assets_are_compressed_for_a_browser_that_accepts_gzip() {
    let app = app();
    // By hand: the test client would decode the body and drop the header.
    let addr = app.base.trim_start_matches("http://");
    for path in ["/console/console.js", "/console/console.css"] {
        let mut stream = TcpStream::connect(addr).expect("the server listens");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
        )
        .expect("sent");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("an answer");
        let answer = String::from_utf8_lossy(&answer).to_ascii_lowercase();
        let head = answer.split("\r\n\r\n").next().unwrap_or_default();
        assert!(head.starts_with("http/1.1 200"), "{path}: {head}");
        assert!(
            head.contains("\r\ncontent-encoding: gzip\r\n"),
            "{path}: {head}"
        );
    }
}

#[test]
fn the_console_refuses_other_methods_and_unknown_assets() {
    let app = app();
    for path in ["/console", "/console/", "/console/console.js"] {
        let reply = app
            .call("POST", path, None, None)
            .expect_error(405, "METHOD_NOT_ALLOWED");
        assert_eq!(reply.header("allow"), Some("GET"), "{path}");
    }
    app.call("GET", "/console/nothing.js", None, None)
        .expect(404);
}
