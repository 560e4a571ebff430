//! The `{{pipeline_param.KEY}}` substitution engine (SPEC §9): the event
//! processor's hot path.
//!
//! [`Plan::compile`] analyses a revision's config once: it finds every
//! placeholder in every string value at any depth (object keys are never
//! substituted) and records which keys the config references and where.
//! [`Plan::render`] then fills in one pipeline's parameters without parsing
//! anything:
//!
//! - a string that is exactly one placeholder becomes the parameter's value
//!   with its JSON type (a number stays a number);
//! - a placeholder inside a longer string is replaced by the value's text;
//! - any other `{{…}}` text, such as `{{event.name}}`, is kept verbatim;
//! - substituted text is never scanned again, so a value holding quotes,
//!   backslashes, control characters or `{{pipeline_param.X}}` is inserted
//!   literally and the result is always a valid JSON value;
//! - a missing parameter fails the whole render with every missing key and
//!   its path: there is no partial config and no empty-string stand-in;
//! - a config without placeholders renders as a borrow of the plan's own
//!   config, without copying.
//!
//! See the crate documentation for an end-to-end example.

pub(crate) mod scan;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::json_path::{JsonPath, PathSegment};
use crate::param::{ParamKey, ParamLookup, ParamValue, Parameters};
use scan::{Token, scan};

/// A compiled config: reusable, immutable, `Send + Sync`; render it as often as you like.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    root: Node,
    /// Every referenced key, sorted and without duplicates; nodes index into it.
    keys: Box<[ParamKey]>,
    /// Every placeholder's key index and path, ordered by key, then document order.
    occurrences: Box<[(usize, JsonPath)]>,
    malformed: Box<[MalformedPlaceholder]>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// A subtree without placeholders, copied as it is.
    Static(Value),
    /// A string that is exactly one placeholder: the value with its JSON type.
    Whole(usize),
    /// A string with placeholders inside text.
    Text {
        pieces: Box<[Piece]>,
        literal_len: usize,
    },
    /// An object with at least one placeholder below it, members in their original order.
    Object(Box<[(String, Node)]>),
    /// An array with at least one placeholder below it.
    Array(Box<[Node]>),
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Literal(Box<str>),
    Param(usize),
}

/// A `pipeline_param` reference that is not a valid placeholder, such as
/// `{{pipeline_param.}}` or `{{pipeline_param.ga4-id}}`. It renders verbatim;
/// config validation rejects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedPlaceholder {
    /// Where it is.
    pub path: JsonPath,
    /// The offending text (at most 80 characters).
    pub text: String,
}

/// A placeholder whose key the pipeline does not define.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingParameter {
    /// The undefined key.
    pub key: ParamKey,
    /// Where the config references it.
    pub path: JsonPath,
}

/// A render that could not complete: every reference to an undefined key,
/// ordered by key, then by position in the config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MissingParameters(Vec<MissingParameter>);

impl MissingParameters {
    /// Every reference to an undefined key (at least one).
    pub fn references(&self) -> &[MissingParameter] {
        &self.0
    }

    /// The undefined keys, sorted, each once.
    pub fn keys(&self) -> impl Iterator<Item = &ParamKey> {
        let mut previous: Option<&ParamKey> = None;
        self.0.iter().map(|m| &m.key).filter(move |key| {
            let fresh = previous != Some(*key);
            previous = Some(*key);
            fresh
        })
    }
}

impl fmt::Display for MissingParameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("missing pipeline parameters: ")?;
        for (i, missing) in self.0.iter().enumerate() {
            let separator = if i == 0 { "" } else { ", " };
            write!(f, "{separator}{} (at {})", missing.key, missing.path)?;
        }
        Ok(())
    }
}

impl Plan {
    /// Analyses a config. Never fails: malformed references are recorded (see
    /// [`Plan::malformed`]) and render verbatim.
    pub fn compile(config: Value) -> Self {
        let mut compiler = Compiler::default();
        let mut path = JsonPath::root();
        let mut root = compiler.node(config, &mut path);
        compiler.finish(&mut root)
    }

    /// The keys the config references, sorted, each once.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> {
        self.keys.iter().map(ParamKey::as_str)
    }

    /// Whether the config references any parameter.
    pub fn has_placeholders(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Every placeholder's key and path, ordered by key, then document order.
    pub fn references(&self) -> impl Iterator<Item = (&ParamKey, &JsonPath)> {
        self.occurrences
            .iter()
            .map(|(key, path)| (&self.keys[*key], path))
    }

    /// The malformed `pipeline_param` references, in document order.
    pub fn malformed(&self) -> &[MalformedPlaceholder] {
        &self.malformed
    }

    /// The parameters a pipeline defines that this config never references.
    pub fn unused_keys<'p>(&self, params: &'p Parameters) -> impl Iterator<Item = &'p ParamKey> {
        params
            .keys()
            .filter(|key| self.keys.binary_search(key).is_err())
    }

    /// Substitutes `params` into the config.
    ///
    /// Borrows the plan's config when it holds no placeholder; otherwise builds a
    /// new value, copying only what it must.
    ///
    /// # Errors
    /// [`MissingParameters`] listing every reference to a key `params` lacks.
    pub fn render<'p, P>(&'p self, params: &P) -> Result<Cow<'p, Value>, MissingParameters>
    where
        P: ParamLookup + ?Sized,
    {
        if let Node::Static(value) = &self.root {
            return Ok(Cow::Borrowed(value));
        }
        let mut values = Vec::with_capacity(self.keys.len());
        let mut complete = true;
        for key in &self.keys {
            let value = params.param(key.as_str());
            complete &= value.is_some();
            values.push(value);
        }
        if !complete {
            return Err(MissingParameters(
                self.occurrences
                    .iter()
                    .filter(|(key, _)| values[*key].is_none())
                    .map(|(key, path)| MissingParameter {
                        key: self.keys[*key].clone(),
                        path: path.clone(),
                    })
                    .collect(),
            ));
        }
        // Every entry is `Some`, so this drops nothing and keeps indices aligned.
        let values: Vec<&ParamValue> = values.into_iter().flatten().collect();
        Ok(Cow::Owned(render_node(&self.root, &values)))
    }
}

fn render_node(node: &Node, values: &[&ParamValue]) -> Value {
    match node {
        Node::Static(value) => value.clone(),
        Node::Whole(key) => values[*key].to_json(),
        Node::Text {
            pieces,
            literal_len,
        } => {
            let capacity = pieces.iter().fold(*literal_len, |sum, piece| match piece {
                Piece::Literal(_) => sum,
                Piece::Param(key) => sum + values[*key].text_len_hint(),
            });
            let mut text = String::with_capacity(capacity);
            for piece in pieces {
                match piece {
                    Piece::Literal(literal) => text.push_str(literal),
                    Piece::Param(key) => values[*key].push_text(&mut text),
                }
            }
            Value::String(text)
        }
        Node::Object(members) => Value::Object(
            members
                .iter()
                .map(|(key, node)| (key.clone(), render_node(node, values)))
                .collect(),
        ),
        Node::Array(items) => Value::Array(items.iter().map(|n| render_node(n, values)).collect()),
    }
}

/// Builds the node tree, numbering keys by first appearance; `finish` renumbers them sorted.
#[derive(Default)]
struct Compiler {
    index: BTreeMap<ParamKey, usize>,
    occurrences: Vec<(usize, JsonPath)>,
    malformed: Vec<MalformedPlaceholder>,
}

impl Compiler {
    fn key(&mut self, key: &str, path: &JsonPath) -> usize {
        let index = if let Some(index) = self.index.get(key) {
            *index
        } else {
            let next = self.index.len();
            self.index.insert(ParamKey::scanned(key), next);
            next
        };
        self.occurrences.push((index, path.clone()));
        index
    }

    fn string(&mut self, text: String, path: &JsonPath) -> Node {
        let scan = scan(&text);
        self.malformed
            .extend(scan.malformed.iter().map(|snippet| MalformedPlaceholder {
                path: path.clone(),
                text: (*snippet).to_owned(),
            }));
        if let Some(key) = scan.whole() {
            return Node::Whole(self.key(key, path));
        }
        if !scan.has_params() {
            return Node::Static(Value::String(text));
        }
        let mut literal_len = 0;
        let pieces = scan
            .tokens
            .iter()
            .map(|token| match token {
                Token::Text(literal) => {
                    literal_len += literal.len();
                    Piece::Literal((*literal).into())
                }
                Token::Param(key) => Piece::Param(self.key(key, path)),
            })
            .collect();
        Node::Text {
            pieces,
            literal_len,
        }
    }

    fn node(&mut self, value: Value, path: &mut JsonPath) -> Node {
        match value {
            Value::String(text) => self.string(text, path),
            Value::Array(items) => {
                let nodes: Vec<Node> = items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| {
                        path.push(PathSegment::Index(i));
                        let node = self.node(item, path);
                        path.pop();
                        node
                    })
                    .collect();
                if nodes.iter().all(|n| matches!(n, Node::Static(_))) {
                    Node::Static(Value::Array(
                        nodes.into_iter().filter_map(Node::into_static).collect(),
                    ))
                } else {
                    Node::Array(nodes.into())
                }
            }
            Value::Object(members) => {
                let nodes: Vec<(String, Node)> = members
                    .into_iter()
                    .map(|(key, member)| {
                        path.push(PathSegment::Key(key.clone()));
                        let node = self.node(member, path);
                        path.pop();
                        (key, node)
                    })
                    .collect();
                if nodes.iter().all(|(_, n)| matches!(n, Node::Static(_))) {
                    let members: Map<String, Value> = nodes
                        .into_iter()
                        .filter_map(|(k, n)| Some((k, n.into_static()?)))
                        .collect();
                    Node::Static(Value::Object(members))
                } else {
                    Node::Object(nodes.into())
                }
            }
            scalar => Node::Static(scalar),
        }
    }

    /// Renumbers keys in sorted order and assembles the plan.
    fn finish(self, root: &mut Node) -> Plan {
        let mut renumber = vec![0; self.index.len()];
        let keys: Box<[ParamKey]> = self
            .index
            .into_iter()
            .enumerate()
            .map(|(sorted, (key, first_seen))| {
                renumber[first_seen] = sorted;
                key
            })
            .collect();
        remap(root, &renumber);
        let mut occurrences = self.occurrences;
        for (key, _) in &mut occurrences {
            *key = renumber[*key];
        }
        // Stable: within one key, document order is kept.
        occurrences.sort_by_key(|(key, _)| *key);
        Plan {
            root: std::mem::replace(root, Node::Static(Value::Null)),
            keys,
            occurrences: occurrences.into(),
            malformed: self.malformed.into(),
        }
    }
}

impl Node {
    fn into_static(self) -> Option<Value> {
        match self {
            Self::Static(value) => Some(value),
            _ => None,
        }
    }
}

fn remap(node: &mut Node, renumber: &[usize]) {
    match node {
        Node::Static(_) => {}
        Node::Whole(key) => *key = renumber[*key],
        Node::Text { pieces, .. } => {
            for piece in pieces.iter_mut() {
                if let Piece::Param(key) = piece {
                    *key = renumber[*key];
                }
            }
        }
        Node::Object(members) => members.iter_mut().for_each(|(_, n)| remap(n, renumber)),
        Node::Array(items) => items.iter_mut().for_each(|n| remap(n, renumber)),
    }
}

#[cfg(test)]
mod tests;
