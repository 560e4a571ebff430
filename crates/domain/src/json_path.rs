//! Paths into a revision's config, displayed as `config.a.b[0]`, as error
//! details name them.

use std::fmt;

use serde::{Serialize, Serializer};

/// One step of a [`JsonPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    /// An object member.
    Key(String),
    /// An array element.
    Index(usize),
}

/// A path from a config's root to one of its values, displayed as
/// `config.pixel_id`, `config.headers["X-Api-Key"]` or `config.events[2].name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct JsonPath(Vec<PathSegment>);

impl JsonPath {
    /// The config itself.
    pub const fn root() -> Self {
        Self(Vec::new())
    }

    /// A top-level member of the config.
    pub fn key(key: &str) -> Self {
        Self(vec![PathSegment::Key(key.to_owned())])
    }

    /// The segments, from the root.
    pub fn segments(&self) -> &[PathSegment] {
        &self.0
    }

    pub(crate) fn push(&mut self, segment: PathSegment) {
        self.0.push(segment);
    }

    pub(crate) fn pop(&mut self) {
        self.0.pop();
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("config")?;
        for segment in &self.0 {
            match segment {
                PathSegment::Key(key)
                    if !key.is_empty()
                        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
                {
                    write!(f, ".{key}")?;
                }
                PathSegment::Key(key) => {
                    // A JSON string literal escapes quotes, backslashes and control characters.
                    let quoted = serde_json::to_string(key).map_err(|_| fmt::Error)?;
                    write!(f, "[{quoted}]")?;
                }
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

impl Serialize for JsonPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_dotted_and_bracketed_segments() {
        let mut path = JsonPath::key("headers");
        assert_eq!(path.to_string(), "config.headers");
        path.push(PathSegment::Key("X-Api \"Key\"".into()));
        assert_eq!(path.to_string(), r#"config.headers["X-Api \"Key\""]"#);
        path.pop();
        path.push(PathSegment::Index(2));
        path.push(PathSegment::Key(String::new()));
        assert_eq!(path.to_string(), r#"config.headers[2][""]"#);
        assert_eq!(JsonPath::root().to_string(), "config");
    }
}
