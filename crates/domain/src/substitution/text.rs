//! The JSON text output form: the config as compact JSON text, precompiled into
//! literal runs and parameter holes, so that [`Plan::render_json`](super::Plan::render_json)
//! only copies bytes and escapes the parameter values.
//!
//! The text is exactly what `serde_json::to_string` writes for the value
//! [`Plan::render`](super::Plan::render) returns: members in the node tree's
//! order (the source map's iteration order, which is also the order the
//! rendered map iterates in), no white space, strings escaped as `serde_json`
//! escapes them.

use std::fmt::Write as _;

use super::{Node, Piece};
use crate::param::ParamValue;

/// Where a parameter's value goes in the text; the `usize` is the key's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hole {
    /// A whole placeholder: the value as a JSON value (a string quoted and escaped,
    /// a number as its JSON text, a boolean as `true` or `false`).
    Value(usize),
    /// A placeholder inside a string: the value's text escaped as string
    /// contents; the quotes and the text around it are in the literal runs.
    InString(usize),
}

/// The config as a flat list of segments: literal runs and holes, alternating.
///
/// `literal` is all the static text (keys, punctuation, static values, the
/// escaped text around embedded placeholders) concatenated. Each hole records
/// the offset in `literal` it comes after, so the segments are
/// `literal[..o₀]`, hole 0, `literal[o₀..o₁]`, hole 1, …, `literal[oₙ..]`:
/// static text between two holes is always one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct JsonText {
    literal: Box<str>,
    holes: Box<[(usize, Hole)]>,
    /// How often each key (by index) fills each kind of hole, for [`JsonText::size`].
    uses: Box<[Uses]>,
}

/// How many holes of each kind one key fills.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Uses {
    whole: u64,
    in_string: u64,
}

impl JsonText {
    /// Writes a (remapped) node tree as segments.
    pub(super) fn compile(root: &Node) -> Self {
        let mut builder = Builder::default();
        builder.node(root);
        let key_count = builder
            .holes
            .iter()
            .map(|(_, hole)| match *hole {
                Hole::Value(key) | Hole::InString(key) => key + 1,
            })
            .max()
            .unwrap_or(0);
        let mut uses = vec![Uses::default(); key_count];
        for (_, hole) in &builder.holes {
            match *hole {
                Hole::Value(key) => uses[key].whole += 1,
                Hole::InString(key) => uses[key].in_string += 1,
            }
        }
        Self {
            literal: builder.literal.into(),
            holes: builder.holes.into(),
            uses: uses.into(),
        }
    }

    /// The exact length in bytes of the text [`JsonText::render`] writes with
    /// `values`: the literal runs plus, for each key, its uses times its
    /// value's escaped length. Saturates at `u64::MAX`; never overflows.
    pub(super) fn size(&self, values: &[&ParamValue]) -> u64 {
        let mut size = to_u64(self.literal.len());
        for (uses, value) in self.uses.iter().zip(values) {
            let (contents, quotes) = json_len(value);
            let whole = uses.whole.saturating_mul(contents.saturating_add(quotes));
            let in_string = uses.in_string.saturating_mul(contents);
            size = size.saturating_add(whole).saturating_add(in_string);
        }
        size
    }

    /// Appends the text with `values` (indexed like the plan's keys) in the
    /// holes; `size` is [`JsonText::size`] of `values`, which the caller
    /// checked against its limit.
    pub(super) fn render(&self, values: &[&ParamValue], size: u64, out: &mut String) {
        // The size was checked against a limit that fits in memory; a size
        // that does not fit a `usize` would have failed that check.
        out.reserve(usize::try_from(size).unwrap_or(0));
        #[cfg(debug_assertions)]
        let before = out.len();
        let mut at = 0;
        for &(offset, hole) in &self.holes {
            out.push_str(&self.literal[at..offset]);
            at = offset;
            match hole {
                Hole::Value(key) => push_json_value(values[key], out),
                Hole::InString(key) => push_json_contents(values[key], out),
            }
        }
        out.push_str(&self.literal[at..]);
        #[cfg(debug_assertions)]
        debug_assert_eq!(
            to_u64(out.len() - before),
            size,
            "the computed size is exact"
        );
    }

    /// How many segments there are: non-empty literal runs plus holes.
    #[cfg(test)]
    pub(super) fn segment_count(&self) -> usize {
        let mut at = 0;
        let mut runs = 0;
        for &(offset, _) in &self.holes {
            runs += usize::from(offset > at);
            at = offset;
        }
        runs + usize::from(self.literal.len() > at) + self.holes.len()
    }
}

#[derive(Default)]
struct Builder {
    literal: String,
    holes: Vec<(usize, Hole)>,
}

impl Builder {
    fn hole(&mut self, hole: Hole) {
        self.holes.push((self.literal.len(), hole));
    }

    fn string(&mut self, text: &str) {
        self.literal.push('"');
        push_escaped(&mut self.literal, text);
        self.literal.push('"');
    }

    fn node(&mut self, node: &Node) {
        match node {
            // `Value`'s `Display` is serde_json's compact writer; writing to a
            // `String` cannot fail.
            Node::Static(value) => {
                let _ = write!(self.literal, "{value}");
            }
            Node::Whole(key) => self.hole(Hole::Value(*key)),
            Node::Text { pieces, .. } => {
                self.literal.push('"');
                for piece in pieces {
                    match piece {
                        Piece::Literal(text) => push_escaped(&mut self.literal, text),
                        Piece::Param(key) => self.hole(Hole::InString(*key)),
                    }
                }
                self.literal.push('"');
            }
            Node::Object(members) => {
                self.literal.push('{');
                for (i, (key, member)) in members.iter().enumerate() {
                    if i > 0 {
                        self.literal.push(',');
                    }
                    self.string(key);
                    self.literal.push(':');
                    self.node(member);
                }
                self.literal.push('}');
            }
            Node::Array(items) => {
                self.literal.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.literal.push(',');
                    }
                    self.node(item);
                }
                self.literal.push(']');
            }
        }
    }
}

fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The length of `value` written as the contents of a JSON string (its text,
/// escaped), and how many quotes a whole-value hole adds around it (2 for a
/// string, 0 for a number or a boolean, whose text is their JSON).
fn json_len(value: &ParamValue) -> (u64, u64) {
    match value {
        ParamValue::String(text) => (to_u64(escaped_len(text)), 2),
        ParamValue::Number(number) => {
            let mut count = Count(0);
            // Counting cannot fail.
            let _ = write!(count, "{number}");
            (to_u64(count.0), 0)
        }
        ParamValue::Bool(true) => (4, 0),
        ParamValue::Bool(false) => (5, 0),
    }
}

/// A writer that only counts bytes.
struct Count(usize);

impl std::fmt::Write for Count {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// The bytes each byte takes once escaped by [`push_escaped`], minus one.
const ESCAPE_EXTRA: [u8; 256] = {
    let mut extra = [0; 256];
    let mut byte = 0;
    while byte < 0x20 {
        extra[byte] = 5; // `\u00xx`
        byte += 1;
    }
    extra[0x08] = 1; // `\b`
    extra[0x09] = 1; // `\t`
    extra[0x0a] = 1; // `\n`
    extra[0x0c] = 1; // `\f`
    extra[0x0d] = 1; // `\r`
    extra[b'"' as usize] = 1;
    extra[b'\\' as usize] = 1;
    extra
};

/// The length of `text` once escaped by [`push_escaped`] (without quotes).
pub(super) fn escaped_len(text: &str) -> usize {
    // As in `push_escaped`: most values need no escape, and this check is one
    // tight pass.
    let clean = text.bytes().fold(true, |clean, byte| {
        clean && byte >= 0x20 && byte != b'"' && byte != b'\\'
    });
    if clean {
        return text.len();
    }
    text.bytes().fold(text.len(), |len, byte| {
        len + usize::from(ESCAPE_EXTRA[usize::from(byte)])
    })
}

/// Appends `value` as a JSON value.
fn push_json_value(value: &ParamValue, out: &mut String) {
    if let ParamValue::String(text) = value {
        out.push('"');
        push_escaped(out, text);
        out.push('"');
    } else {
        // A number's or boolean's text is its JSON text.
        value.push_text(out);
    }
}

/// Appends `value`'s text escaped as the contents of a JSON string.
fn push_json_contents(value: &ParamValue, out: &mut String) {
    if let ParamValue::String(text) = value {
        push_escaped(out, text);
    } else {
        // Digits, `-`, `+`, `.`, `e`, `true`, `false`: nothing to escape.
        value.push_text(out);
    }
}

/// Appends `text` escaped as the contents of a JSON string, byte for byte as
/// `serde_json` writes it: `"` and `\` are backslash-escaped, control
/// characters below U+0020 become `\b`, `\f`, `\n`, `\r`, `\t` or `\u00xx`
/// (lowercase hex); everything else, `/` and non-ASCII included, is copied.
pub(super) fn push_escaped(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Most values need no escape: check them in one pass (a fold without an
    // early exit, which compiles to tighter code than a search), then copy
    // the whole string at once.
    let clean = text.bytes().fold(true, |clean, byte| {
        clean && byte >= 0x20 && byte != b'"' && byte != b'\\'
    });
    if clean {
        out.push_str(text);
        return;
    }
    let mut run = 0;
    for (i, byte) in text.bytes().enumerate() {
        let short = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        // `byte` is ASCII, so `i` is a character boundary.
        out.push_str(&text[run..i]);
        run = i + 1;
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(short);
        }
    }
    out.push_str(&text[run..]);
}
