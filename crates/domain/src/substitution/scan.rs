//! Finding `{{pipeline_param.KEY}}` placeholders in one string.
//!
//! Grammar: `{{`, optional ASCII white space, `pipeline_param.`, a key of 1 to 64
//! ASCII letters, digits or underscores, optional ASCII white space, `}}`. Text
//! that starts like a `pipeline_param` reference (`{{ pipeline_param`) but does
//! not finish as one is *malformed*: it is kept verbatim when rendering, and
//! config validation rejects it, so an author learns of a typo before a
//! pipeline ships literal braces to a vendor. Any other `{{…}}` (for instance
//! `{{event.name}}`) is ordinary text.

use crate::param::ParamKey;

const OPEN: &str = "{{";
const CLOSE: &str = "}}";
const NAMESPACE: &str = "pipeline_param";

/// A piece of a scanned string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// Text to keep verbatim.
    Text(&'a str),
    /// A placeholder, with its (valid) key.
    Param(&'a str),
}

/// What one string holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scan<'a> {
    /// The string split into text and placeholders (empty when it holds no placeholder).
    pub tokens: Vec<Token<'a>>,
    /// Where each malformed `pipeline_param` reference starts, in bytes;
    /// [`Scan::malformed`] cuts their snippets, on demand.
    pub malformed_at: Vec<usize>,
    /// The scanned string.
    source: &'a str,
}

impl<'a> Scan<'a> {
    /// The malformed `pipeline_param` references, verbatim (at most 80
    /// characters each). Each snippet is cut when asked for, so a caller that
    /// lists a few of many pays for those few.
    pub fn malformed(&self) -> impl ExactSizeIterator<Item = &'a str> + '_ {
        let source = self.source;
        self.malformed_at
            .iter()
            .map(move |&start| malformed_snippet(&source[start..]))
    }

    /// Whether the string holds at least one placeholder.
    pub fn has_params(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// The key, when the whole string is exactly one placeholder.
    pub fn whole(&self) -> Option<&str> {
        match self.tokens.as_slice() {
            [Token::Param(key)] => Some(key),
            _ => None,
        }
    }
}

/// The outcome of reading a placeholder at the start of a string.
enum Placeholder<'a> {
    /// A valid one: its key and its length in bytes.
    Valid(&'a str, usize),
    /// Starts as a `pipeline_param` reference, but is not a valid one.
    Malformed,
    /// Not a `pipeline_param` reference at all.
    NotOne,
}

fn skip_space(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_ascii_whitespace())
}

/// Reads a placeholder at the start of `s` (which starts with `{{`).
fn read_placeholder(s: &str) -> Placeholder<'_> {
    let inner = skip_space(&s[OPEN.len()..]);
    let Some(rest) = inner.strip_prefix(NAMESPACE) else {
        return Placeholder::NotOne;
    };
    let Some(rest) = rest.strip_prefix('.') else {
        return Placeholder::Malformed;
    };
    let key_len = rest
        .bytes()
        .take_while(|b| ParamKey::is_key_byte(*b))
        .count();
    let (key, rest) = rest.split_at(key_len);
    let rest = skip_space(rest);
    if key.is_empty() || key.len() > ParamKey::MAX_LEN || !rest.starts_with(CLOSE) {
        return Placeholder::Malformed;
    }
    Placeholder::Valid(key, s.len() - rest.len() + CLOSE.len())
}

/// The longest snippet of a malformed reference, in characters.
const SNIPPET_CHARS: usize = 80;

/// The malformed reference at the start of `s`, for error messages: up to and
/// including the next `}}`, at most 80 characters. Looks no further than
/// those 80 characters, so a string of many malformed references costs time
/// linear in its length, not quadratic.
fn malformed_snippet(s: &str) -> &str {
    let window = s
        .char_indices()
        .nth(SNIPPET_CHARS)
        .map_or(s.len(), |(i, _)| i);
    let window = &s[..window];
    let end = window.find(CLOSE).map_or(window.len(), |i| i + CLOSE.len());
    &window[..end]
}

/// Splits `s` into text and placeholders. Costs one `find("{{")` for a string without braces.
pub(crate) fn scan(s: &str) -> Scan<'_> {
    let mut scan = Scan {
        tokens: Vec::new(),
        malformed_at: Vec::new(),
        source: s,
    };
    // `text_start` is where the pending verbatim text begins; `at` is where to look next.
    let (mut text_start, mut at) = (0, 0);
    while let Some(found) = s[at..].find(OPEN) {
        let start = at + found;
        match read_placeholder(&s[start..]) {
            Placeholder::Valid(key, len) => {
                if start > text_start {
                    scan.tokens.push(Token::Text(&s[text_start..start]));
                }
                scan.tokens.push(Token::Param(key));
                text_start = start + len;
                at = text_start;
            }
            Placeholder::Malformed => {
                scan.malformed_at.push(start);
                at = start + OPEN.len();
            }
            // Step one byte (`{` is ASCII), so `{{{pipeline_param.a}}` finds the
            // placeholder that starts at the second brace.
            Placeholder::NotOne => at = start + 1,
        }
    }
    if !scan.tokens.is_empty() && text_start < s.len() {
        scan.tokens.push(Token::Text(&s[text_start..]));
    }
    scan
}

#[cfg(test)]
mod tests {
    use super::Token::{Param, Text};
    use super::*;

    fn tokens(s: &str) -> Vec<Token<'_>> {
        scan(s).tokens
    }

    #[test]
    fn whole_placeholders_with_and_without_spaces() {
        for s in [
            "{{pipeline_param.pixel}}",
            "{{ pipeline_param.pixel }}",
            "{{\tpipeline_param.pixel\n}}",
        ] {
            assert_eq!(scan(s).whole(), Some("pixel"), "{s:?}");
        }
        assert_eq!(scan(" {{pipeline_param.pixel}}").whole(), None);
    }

    #[test]
    fn embedded_and_adjacent_placeholders() {
        assert_eq!(
            tokens("https://{{pipeline_param.host}}/v1?id={{ pipeline_param.id }}"),
            [
                Text("https://"),
                Param("host"),
                Text("/v1?id="),
                Param("id")
            ]
        );
        assert_eq!(
            tokens("{{pipeline_param.a}}{{pipeline_param.b}}"),
            [Param("a"), Param("b")]
        );
    }

    #[test]
    fn other_namespaces_and_plain_text_hold_no_placeholder() {
        for s in [
            "",
            "plain",
            "{{event.name}}",
            "{{ pipeline_params.x }}",
            "{{pipeline_paramx}}",
            "{ {pipeline_param.x}}",
            "{{pipeline_param.x}",
            "{{",
            "}}",
        ] {
            assert!(!scan(s).has_params(), "{s:?}");
        }
    }

    #[test]
    fn broken_pipeline_param_references_are_malformed() {
        for (s, snippet) in [
            ("{{pipeline_param.}}", "{{pipeline_param.}}"),
            ("{{pipeline_param}}", "{{pipeline_param}}"),
            ("id={{pipeline_param.ga4-id}}", "{{pipeline_param.ga4-id}}"),
            ("{{pipeline_param.a.b}}", "{{pipeline_param.a.b}}"),
            ("{{pipeline_param.x", "{{pipeline_param.x"),
            ("{{ pipeline_param.x y }}", "{{ pipeline_param.x y }}"),
        ] {
            let scan = scan(s);
            assert!(!scan.has_params(), "{s:?}");
            assert_eq!(scan.malformed().collect::<Vec<_>>(), [snippet], "{s:?}");
        }
        let long_key = format!("{{{{pipeline_param.{}}}}}", "k".repeat(65));
        assert_eq!(scan(&long_key).malformed().len(), 1);
    }

    /// The snippet as it was cut before the search was bounded: up to the
    /// first `}}` anywhere in the rest of the string, then 80 characters.
    fn unbounded_snippet(s: &str) -> &str {
        let end = s.find(CLOSE).map_or(s.len(), |i| i + CLOSE.len());
        let end = s[..end].char_indices().nth(80).map_or(end, |(i, _)| i);
        &s[..end]
    }

    proptest::proptest! {
        #[test]
        fn the_bounded_snippet_is_the_unbounded_one(
            s in "\\{\\{pipeline_param[.a-z}é ]{0,120}[}]{0,3}[a-z ]{0,10}",
        ) {
            proptest::prop_assert_eq!(malformed_snippet(&s), unbounded_snippet(&s));
        }
    }

    #[test]
    fn snippets_cut_at_the_window_edge() {
        let closing_at_80 = format!("{{{{pipeline_param.{}}}}}", "k".repeat(62));
        assert_eq!(closing_at_80.chars().count(), 81);
        assert_eq!(
            malformed_snippet(&closing_at_80),
            unbounded_snippet(&closing_at_80)
        );
        assert_eq!(malformed_snippet(&closing_at_80).chars().count(), 80);
        let far = format!("{{{{pipeline_param.x{}}}}}", " ".repeat(10_000));
        assert_eq!(malformed_snippet(&far).len(), 80);
    }

    #[test]
    fn extra_braces_stay_as_text() {
        assert_eq!(
            tokens("{{{pipeline_param.a}}}"),
            [Text("{"), Param("a"), Text("}")]
        );
    }

    #[test]
    fn unicode_around_placeholders_is_kept() {
        assert_eq!(
            tokens("é{{pipeline_param.a}}ü🎉"),
            [Text("é"), Param("a"), Text("ü🎉")]
        );
        assert_eq!(
            malformed_snippet(&format!("{{{{pipeline_param.{}", "é".repeat(100)))
                .chars()
                .count(),
            80
        );
    }
}
