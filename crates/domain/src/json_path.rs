//! Paths into a revision's config, displayed as `config.a.b[0]`, as error
//! details name them.
//!
//! A path is a shared, immutable list from the value up to the root: cloning
//! one is a reference-count increment, and the paths of every value under one
//! object share that object's path. Recording the path of each of `n`
//! placeholders under a deep, long-keyed prefix therefore costs `O(n)`, not
//! `O(n × prefix)`, so no config can make the engine's bookkeeping grow
//! quadratically with its size.

use std::cell::OnceCell;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

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
///
/// Cheap to clone (see the [module documentation](self)).
#[derive(Clone, Default)]
pub struct JsonPath(Option<Arc<Link>>);

/// The last segment of a path and the path it extends.
struct Link {
    parent: JsonPath,
    segment: PathSegment,
    /// How many segments the path has, this one included.
    depth: usize,
}

impl JsonPath {
    /// The config itself.
    pub const fn root() -> Self {
        Self(None)
    }

    /// A top-level member of the config.
    pub fn key(key: &str) -> Self {
        Self::root().child(PathSegment::Key(key.to_owned()))
    }

    /// This path extended by one segment; `self` is shared, not copied.
    #[must_use]
    pub fn child(&self, segment: PathSegment) -> Self {
        Self(Some(Arc::new(Link {
            parent: self.clone(),
            depth: self.depth() + 1,
            segment,
        })))
    }

    /// How many segments the path has (0 for the root).
    pub fn depth(&self) -> usize {
        self.0.as_ref().map_or(0, |link| link.depth)
    }

    /// The segments, from the root.
    pub fn segments(&self) -> Vec<&PathSegment> {
        let mut segments: Vec<&PathSegment> = self.links().map(|link| &link.segment).collect();
        segments.reverse();
        segments
    }

    /// Whether both paths extend the very same parent (shared, not equal copies).
    #[cfg(test)]
    pub(crate) fn shares_parent_with(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => match (&a.parent.0, &b.parent.0) {
                (Some(x), Some(y)) => Arc::ptr_eq(x, y),
                _ => false,
            },
            _ => false,
        }
    }

    /// The links from the last segment up to the root.
    fn links(&self) -> impl Iterator<Item = &Link> {
        std::iter::successors(self.0.as_deref(), |link| link.parent.0.as_deref())
    }

    /// The path this one extends (the root for the root).
    #[must_use]
    pub fn parent(&self) -> Self {
        self.0
            .as_ref()
            .map(|link| link.parent.clone())
            .unwrap_or_default()
    }
}

impl PartialEq for JsonPath {
    fn eq(&self, other: &Self) -> bool {
        if self.depth() != other.depth() {
            return false;
        }
        let mut links = self.links().zip(other.links());
        // Shared tails compare equal at once.
        links.all(|(a, b)| std::ptr::eq(a, b) || a.segment == b.segment)
    }
}

impl Eq for JsonPath {}

impl Hash for JsonPath {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.depth().hash(state);
        for link in self.links() {
            link.segment.hash(state);
        }
    }
}

impl fmt::Debug for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JsonPath").field(&self.segments()).finish()
    }
}

/// The longest key a path shows whole, in characters; a longer one is cut
/// and ends in `…`. A config may hold keys of hundreds of kilobytes, and an
/// error lists up to a hundred paths: without the cut, one answer could
/// carry the same huge key a hundred times.
pub const MAX_SHOWN_KEY_CHARS: usize = 128;

/// `key`, cut to [`MAX_SHOWN_KEY_CHARS`] characters.
fn shown(key: &str) -> std::borrow::Cow<'_, str> {
    match key.char_indices().nth(MAX_SHOWN_KEY_CHARS) {
        None => std::borrow::Cow::Borrowed(key),
        Some((cut, _)) => std::borrow::Cow::Owned(format!("{}…", &key[..cut])),
    }
}

impl fmt::Display for JsonPath {
    /// `config.a.b[0]["a key"]`; keys over [`MAX_SHOWN_KEY_CHARS`] characters are cut.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("config")?;
        for segment in self.segments() {
            let segment = match segment {
                PathSegment::Key(key) => PathSegment::Key(shown(key).into_owned()),
                PathSegment::Index(index) => PathSegment::Index(*index),
            };
            match &segment {
                PathSegment::Key(key)
                    if !key.is_empty()
                        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
                {
                    write!(f, ".{key}")?;
                }
                PathSegment::Key(key) => {
                    // A JSON string literal escapes quotes, backslashes and control characters.
                    let quoted = serde_json::to_string(&key).map_err(|_| fmt::Error)?;
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

/// Where a walk over a config is: one stack frame of the walk. Its
/// [`JsonPath`] is built the first time a placeholder below needs it, from its
/// parent's (built at most once too), so a subtree without placeholders costs
/// no path at all, and every path is built in time linear in the config.
pub(crate) struct Place<'a> {
    parent: Option<(&'a Place<'a>, Step<'a>)>,
    path: OnceCell<JsonPath>,
}

#[derive(Clone, Copy)]
pub(crate) enum Step<'a> {
    /// Into an object member.
    Key(&'a str),
    /// Into an array element.
    Index(usize),
}

impl<'a> Place<'a> {
    pub(crate) fn root() -> Self {
        Self {
            parent: None,
            path: OnceCell::from(JsonPath::root()),
        }
    }

    pub(crate) fn child(parent: &'a Place<'a>, step: Step<'a>) -> Self {
        Self {
            parent: Some((parent, step)),
            path: OnceCell::new(),
        }
    }

    pub(crate) fn path(&self) -> &JsonPath {
        self.path.get_or_init(|| match self.parent {
            None => JsonPath::root(),
            Some((parent, Step::Key(key))) => parent.path().child(PathSegment::Key(key.to_owned())),
            Some((parent, Step::Index(index))) => parent.path().child(PathSegment::Index(index)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_dotted_and_bracketed_segments() {
        let headers = JsonPath::key("headers");
        assert_eq!(headers.to_string(), "config.headers");
        let quoted = headers.child(PathSegment::Key("X-Api \"Key\"".into()));
        assert_eq!(quoted.to_string(), r#"config.headers["X-Api \"Key\""]"#);
        assert_eq!(quoted.parent(), headers);
        let path = headers
            .child(PathSegment::Index(2))
            .child(PathSegment::Key(String::new()));
        assert_eq!(path.to_string(), r#"config.headers[2][""]"#);
        assert_eq!(JsonPath::root().to_string(), "config");
        assert_eq!(path.parent().parent().parent(), JsonPath::root());
        assert_eq!(JsonPath::root().parent(), JsonPath::root());
    }

    #[test]
    fn children_share_their_parent_and_compare_by_segments() {
        let parent = JsonPath::key(&"k".repeat(10_000));
        let a = parent.child(PathSegment::Index(1));
        let b = JsonPath::key(&"k".repeat(10_000)).child(PathSegment::Index(1));
        assert_eq!(a, b);
        assert_ne!(a, parent.child(PathSegment::Index(2)));
        assert_ne!(a, parent);
        assert_eq!(a.depth(), 2);
        assert_eq!(
            a.segments(),
            [
                &PathSegment::Key("k".repeat(10_000)),
                &PathSegment::Index(1)
            ]
        );
        // A child holds its parent, not a copy of it.
        let Some(link) = &a.0 else {
            panic!("a child has a link");
        };
        assert!(matches!(
            (&link.parent.0, &parent.0),
            (Some(x), Some(y)) if Arc::ptr_eq(x, y)
        ));
    }

    #[test]
    fn long_keys_are_cut_when_shown() {
        let long = "k".repeat(500_000);
        let path = JsonPath::key(&long).child(PathSegment::Index(3));
        let shown = path.to_string();
        assert_eq!(
            shown,
            format!("config[\"{}…\"][3]", "k".repeat(MAX_SHOWN_KEY_CHARS))
        );
        let exact = "é".repeat(MAX_SHOWN_KEY_CHARS);
        assert_eq!(
            JsonPath::key(&exact).to_string(),
            format!("config[\"{exact}\"]")
        );
    }
}
