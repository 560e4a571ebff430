//! [`Plan::compile`](super::Plan::compile): the node tree of a config, its
//! keys and their paths.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::scan::{Token, scan};
use super::text::JsonText;
use super::{MalformedPlaceholder, Node, Piece, Plan};
use crate::json_path::{JsonPath, Place, Step};
use crate::param::ParamKey;
use crate::validate::MAX_PROBLEMS;

/// Compiles `config` into a plan: the node tree for [`Plan::render`] and the
/// JSON text segments for [`Plan::render_json`].
pub(super) fn compile(config: Value) -> Plan {
    let mut compiler = Compiler::default();
    let root = compiler.node(config, &Place::root());
    compiler.finish(root)
}

/// Builds the node tree, numbering keys by first appearance; `finish` renumbers them sorted.
#[derive(Default)]
struct Compiler {
    index: BTreeMap<ParamKey, usize>,
    occurrences: Vec<(usize, JsonPath)>,
    malformed: Vec<MalformedPlaceholder>,
    malformed_count: usize,
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

    fn string(&mut self, text: String, place: &Place<'_>) -> Node {
        let scan = scan(&text);
        self.malformed_count += scan.malformed_at.len();
        let room = MAX_PROBLEMS.saturating_sub(self.malformed.len());
        self.malformed.extend(
            scan.malformed()
                .take(room)
                .map(|snippet| MalformedPlaceholder {
                    path: place.path().clone(),
                    text: snippet.to_owned(),
                }),
        );
        if let Some(key) = scan.whole() {
            return Node::Whole(self.key(key, place.path()));
        }
        if !scan.has_params() {
            return Node::Static(Value::String(text));
        }
        let path = place.path();
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

    fn node(&mut self, value: Value, place: &Place<'_>) -> Node {
        match value {
            Value::String(text) => self.string(text, place),
            Value::Array(items) => {
                let nodes: Vec<Node> = items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| self.node(item, &Place::child(place, Step::Index(i))))
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
                        let node = self.node(member, &Place::child(place, Step::Key(&key)));
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
    fn finish(self, mut root: Node) -> Plan {
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
        remap(&mut root, &renumber);
        let mut occurrences = self.occurrences;
        for (key, _) in &mut occurrences {
            *key = renumber[*key];
        }
        // Stable: within one key, document order is kept.
        occurrences.sort_by_key(|(key, _)| *key);
        Plan {
            json: JsonText::compile(&root),
            root,
            keys,
            occurrences: occurrences.into(),
            malformed: self.malformed.into(),
            malformed_count: self.malformed_count,
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
