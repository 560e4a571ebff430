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
            Self::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_owned(),
    }
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
    fn connection_defaults_do_not_override_the_operator() {
        let url = DatabaseUrl::postgres_with_defaults("postgres://h/db?connect_timeout=9");
        assert!(url.starts_with("postgres://h/db?connect_timeout=9&keepalives=1&"));
        assert_eq!(url.matches("connect_timeout").count(), 1);
        let bare = DatabaseUrl::postgres_with_defaults("postgres://h/db");
        assert!(bare.starts_with("postgres://h/db?connect_timeout=2&"));
    }
}
