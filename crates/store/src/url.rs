//! Database URLs: the backend is chosen by the scheme, never by trying in turn.

use std::fmt;
use std::path::PathBuf;

/// Where the data lives.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// An embedded SQLite database file (`sqlite://./data/integrations.db`).
    Sqlite(PathBuf),
    /// A PostgreSQL server (`postgres://user:pass@host:5432/db?sslmode=require`).
    Postgres(String),
}

/// Why a database URL was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// The scheme is neither `sqlite://` nor `postgres://`/`postgresql://`.
    #[error("unsupported database URL scheme: expected sqlite://PATH or postgres://…")]
    UnknownScheme,
    /// `sqlite://` without a path.
    #[error("sqlite:// needs a file path, e.g. sqlite://./data/integrations.db")]
    EmptyPath,
}

impl DatabaseUrl {
    /// Parses a URL by its scheme.
    ///
    /// # Errors
    /// [`UrlError`] for another scheme or an empty SQLite path.
    pub fn parse(raw: &str) -> Result<Self, UrlError> {
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(UrlError::EmptyPath);
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self::Postgres(raw.to_owned()));
        }
        Err(UrlError::UnknownScheme)
    }

    /// Whether this is the embedded SQLite backend.
    pub const fn is_sqlite(&self) -> bool {
        matches!(self, Self::Sqlite(_))
    }

    /// The PostgreSQL URL with this service's connection settings added where
    /// the operator did not set them: a short connect timeout and TCP
    /// keepalives with a user timeout, so a vanished server surfaces as an
    /// error within seconds instead of a hang.
    pub(crate) fn postgres_with_defaults(url: &str) -> String {
        const DEFAULTS: [(&str, &str); 7] = [
            ("connect_timeout", "2"),
            ("keepalives", "1"),
            ("keepalives_idle", "5"),
            ("keepalives_interval", "2"),
            ("keepalives_count", "2"),
            ("tcp_user_timeout", "5000"),
            ("application_name", "integrations"),
        ];
        let query = url.split_once('?').map_or("", |(_, q)| q);
        let mut out = url.to_owned();
        for (key, value) in DEFAULTS {
            let present = query
                .split('&')
                .any(|pair| pair.split('=').next() == Some(key));
            if !present {
                out.push(if out.contains('?') { '&' } else { '?' });
                out.push_str(key);
                out.push('=');
                out.push_str(value);
            }
        }
        out
    }
}

/// Shows the URL without its password.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Shows the URL without its password.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// `url` with every password in it replaced by `***`: the password of the
/// `user:password@` part and the value of every `password=` (or
/// `sslpassword=`) query parameter, whichever separator (`?` or `&`) comes
/// before it. This is the one function through which a database URL is shown
/// (logs, errors, `Debug`); it hides more rather than less when the URL is
/// malformed.
///
/// ```
/// use integrations_store::redact;
/// assert_eq!(redact("postgres://app:s3cr3t@db/x"), "postgres://app:***@db/x");
/// assert_eq!(
///     redact("postgres://db/x?sslmode=require&password=s3cr3t"),
///     "postgres://db/x?sslmode=require&password=***"
/// );
/// ```
pub fn redact(url: &str) -> String {
    let mut shown = url.to_owned();
    for range in password_ranges(url).into_iter().rev() {
        shown.replace_range(range, "***");
    }
    shown
}

/// `text` (an error message from the database driver, say) with every
/// password that `url` holds replaced by `***`, as written and as
/// percent-decoded: drivers may quote the part of a URL they could not parse.
pub fn scrub(text: &str, url: &str) -> String {
    let mut secrets: Vec<String> = Vec::new();
    for range in password_ranges(url) {
        let raw = &url[range];
        secrets.push(raw.to_owned());
        let decoded = percent_decode(raw);
        if decoded != raw {
            secrets.push(decoded);
        }
    }
    // Longest first, so a password containing another is hidden whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut scrubbed = text.to_owned();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        scrubbed = scrubbed.replace(secret.as_str(), "***");
    }
    scrubbed
}

/// The byte ranges of the passwords in `url` (empty passwords included).
fn password_ranges(url: &str) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    // The user information runs to the last `@` before the path, as PostgreSQL
    // reads it (a `?` or `#` in an unencoded password does not end it).
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let mut query_from = authority_start;
    if url.contains("://") {
        let rest = &url[authority_start..];
        let path = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..path].rfind('@') {
            if let Some(colon) = rest[..at].find(':') {
                ranges.push(authority_start + colon + 1..authority_start + at);
            }
            query_from = authority_start + at + 1;
        }
    }
    let Some(question) = url[query_from..].find('?').map(|i| query_from + i) else {
        return ranges;
    };
    let mut offset = question + 1;
    for pair in url[question + 1..].split('&') {
        if let Some((key, _)) = pair.split_once('=') {
            if percent_decode(key)
                .to_ascii_lowercase()
                .ends_with("password")
            {
                ranges.push(offset + key.len() + 1..offset + pair.len());
            }
        }
        offset += pair.len() + 1;
    }
    ranges
}

/// `%XX` sequences decoded (invalid ones kept as written); for comparing keys
/// and finding passwords only.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'%'));
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://./data/x.db"),
            Ok(DatabaseUrl::Sqlite("./data/x.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db"),
            Ok(DatabaseUrl::Sqlite("/tmp/x.db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgresql://h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
        assert_eq!(DatabaseUrl::parse("sqlite://"), Err(UrlError::EmptyPath));
        assert_eq!(
            DatabaseUrl::parse("mysql://h/db"),
            Err(UrlError::UnknownScheme)
        );
        assert_eq!(DatabaseUrl::parse("./x.db"), Err(UrlError::UnknownScheme));
    }

    #[test]
    fn passwords_never_show() {
        let url = DatabaseUrl::parse("postgres://app:s3cr3t@db:5432/x?sslmode=require");
        let shown = url.map(|u| u.to_string()).unwrap_or_default();
        assert_eq!(shown, "postgres://app:***@db:5432/x?sslmode=require");
        assert!(!format!("{:?}", DatabaseUrl::parse("postgres://a:pw@h/d")).contains("pw"));
    }

    #[test]
    fn every_form_of_password_is_redacted() {
        for (url, shown) in [
            (
                "postgres://app:pw@db:5432/x",
                "postgres://app:***@db:5432/x",
            ),
            ("postgresql://app:pw@db", "postgresql://app:***@db"),
            ("postgres://app@db/x", "postgres://app@db/x"),
            ("postgres://app:@db/x", "postgres://app:***@db/x"),
            (
                "postgres://db/x?password=pw",
                "postgres://db/x?password=***",
            ),
            (
                "postgres://db/x?sslmode=require&password=pw&user=app",
                "postgres://db/x?sslmode=require&password=***&user=app",
            ),
            (
                "postgres://u:a@db/x?sslpassword=k&password=p",
                "postgres://u:***@db/x?sslpassword=***&password=***",
            ),
            (
                "postgres://db/x?pass%77ord=pw",
                "postgres://db/x?pass%77ord=***",
            ),
            (
                "postgres://db/x?PASSWORD=pw",
                "postgres://db/x?PASSWORD=***",
            ),
            // Unencoded `@`, `?`, `:` and `#` in a password: hidden whole.
            ("postgres://app:p@ss@db/x", "postgres://app:***@db/x"),
            ("postgres://app:p?w#d:x@db/x", "postgres://app:***@db/x"),
            (
                "postgres://db/x?passwordless=1",
                "postgres://db/x?passwordless=1",
            ),
            ("sqlite://./data/x.db", "sqlite://./data/x.db"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn driver_messages_lose_the_password_as_written_and_decoded() {
        let url = "postgres://app:p%zzs3cr3t@db/x?password=ab%41cd";
        let message = r#"invalid percent-encoded token: "p%zzs3cr3t"; got abAcd and ab%41cd"#;
        let scrubbed = scrub(message, url);
        assert_eq!(
            scrubbed,
            r#"invalid percent-encoded token: "***"; got *** and ***"#
        );
        assert_eq!(
            scrub("nothing to hide", "postgres://db/x"),
            "nothing to hide"
        );
    }

    #[test]
    fn connection_defaults_do_not_override_the_operator() {
        let url = DatabaseUrl::postgres_with_defaults("postgres://h/db?connect_timeout=9");
        assert!(url.starts_with("postgres://h/db?connect_timeout=9&keepalives=1&"));
        assert_eq!(url.matches("connect_timeout").count(), 1);
        let bare = DatabaseUrl::postgres_with_defaults("postgres://h/db");
        assert!(bare.starts_with("postgres://h/db?connect_timeout=2&"));
    }
}
