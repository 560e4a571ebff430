//! Writing a config as a JSON text template for each general template engine.

use std::fmt::Write as _;

use integrations_domain::{ParamValue, Parameters};

use super::configs::{Part, Tpl};

/// How a template engine writes a JSON text template.
pub(crate) trait Dialect {
    /// Static JSON text, with the engine's delimiters made literal.
    fn literal(&self, json: &str, out: &mut String);
    /// A whole-value placeholder: the parameter as a JSON value of its own type.
    fn whole(&self, key: &str, value: &ParamValue, out: &mut String);
    /// A JSON string (quotes included) with placeholders inside text.
    fn text(&self, parts: &[Part], out: &mut String);
}

/// Writes a template, coalescing adjacent static text into one chunk.
struct Writer<'d> {
    dialect: &'d dyn Dialect,
    params: &'d Parameters,
    out: String,
    pending: String,
}

impl Writer<'_> {
    fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.dialect.literal(&self.pending, &mut self.out);
            self.pending.clear();
        }
    }

    fn write(&mut self, tpl: &Tpl) {
        match tpl {
            Tpl::Lit(value) => self
                .pending
                .push_str(&serde_json::to_string(value).expect("serialisable")),
            Tpl::Whole { key, .. } => {
                self.flush();
                let value = self.params.get(key).expect("every key has a value");
                self.dialect.whole(key, value, &mut self.out);
            }
            Tpl::Text(parts) => {
                self.flush();
                self.dialect.text(parts, &mut self.out);
            }
            Tpl::Obj(members) => {
                self.pending.push('{');
                for (i, (key, member)) in members.iter().enumerate() {
                    if i > 0 {
                        self.pending.push(',');
                    }
                    self.pending
                        .push_str(&serde_json::to_string(key).expect("serialisable"));
                    self.pending.push(':');
                    self.write(member);
                }
                self.pending.push('}');
            }
            Tpl::Arr(items) => {
                self.pending.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.pending.push(',');
                    }
                    self.write(item);
                }
                self.pending.push(']');
            }
        }
    }
}

pub(crate) fn template(tpl: &Tpl, dialect: &dyn Dialect, params: &Parameters) -> String {
    let mut writer = Writer {
        dialect,
        params,
        out: String::new(),
        pending: String::new(),
    };
    writer.write(tpl);
    writer.flush();
    writer.out
}

/// Appends `s` escaped for the inside of a JSON string (no quotes).
pub(crate) fn push_json_escaped(out: &mut String, s: &str) {
    let mut run = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[run..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
}

/// minijinja with JSON auto-escaping: `{{ x }}` writes `x` as a JSON value of
/// its own type (strings quoted and escaped); embedded placeholders are one
/// concatenation expression, so the whole string is escaped once.
pub(crate) struct MiniJinja;

impl Dialect for MiniJinja {
    fn literal(&self, json: &str, out: &mut String) {
        if json.contains("{{") || json.contains("{%") || json.contains("{#") {
            let _ = write!(out, "{{% raw %}}{json}{{% endraw %}}");
        } else {
            out.push_str(json);
        }
    }

    fn whole(&self, key: &str, _: &ParamValue, out: &mut String) {
        let _ = write!(out, "{{{{ {key} }}}}");
    }

    fn text(&self, parts: &[Part], out: &mut String) {
        out.push_str("{{ ");
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                out.push_str(" ~ ");
            }
            match part {
                // A JSON string literal is also a valid minijinja string literal.
                Part::Lit(literal) => {
                    out.push_str(&serde_json::to_string(literal).expect("serialisable"));
                }
                Part::Param(key) => out.push_str(key),
            }
        }
        out.push_str(" }}");
    }
}

/// A Mustache-style engine (handlebars, upon) with a JSON-string escape hook:
/// strings are quoted in the template, numbers and booleans are not.
pub(crate) struct Mustache {
    open: &'static str,
    close: &'static str,
    /// How a literal `{{` is written.
    literal_open: &'static str,
    /// How a literal `}}` is written, if it must be escaped.
    literal_close: Option<&'static str>,
}

impl Mustache {
    fn placeholder(&self, key: &str, out: &mut String) {
        out.push_str(self.open);
        out.push_str(key);
        out.push_str(self.close);
    }
}

impl Dialect for Mustache {
    fn literal(&self, json: &str, out: &mut String) {
        let mut rest = json;
        while let Some(at) = rest.find(['{', '}']) {
            let (text, tail) = rest.split_at(at);
            out.push_str(text);
            if let Some(tail) = tail.strip_prefix("{{") {
                out.push_str(self.literal_open);
                rest = tail;
            } else if let (Some(tail), Some(close)) = (tail.strip_prefix("}}"), self.literal_close)
            {
                out.push_str(close);
                rest = tail;
            } else {
                out.push_str(&tail[..1]);
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
    }

    fn whole(&self, key: &str, value: &ParamValue, out: &mut String) {
        let quoted = matches!(value, ParamValue::String(_));
        if quoted {
            out.push('"');
        }
        self.placeholder(key, out);
        if quoted {
            out.push('"');
        }
    }

    fn text(&self, parts: &[Part], out: &mut String) {
        out.push('"');
        for part in parts {
            match part {
                Part::Lit(literal) => {
                    let mut escaped = String::new();
                    push_json_escaped(&mut escaped, literal);
                    self.literal(&escaped, out);
                }
                Part::Param(key) => self.placeholder(key, out),
            }
        }
        out.push('"');
    }
}

pub(crate) const HANDLEBARS: Mustache = Mustache {
    open: "{{",
    close: "}}",
    literal_open: "\\{{",
    literal_close: None,
};

pub(crate) const UPON: Mustache = Mustache {
    open: "{{ ",
    close: " }}",
    literal_open: "{{ \"{{\" }}",
    literal_close: Some("{{ \"}}\" }}"),
};

/// upon's default formatter: values as text, strings escaped for the inside of a JSON string.
pub(crate) fn upon_json_text(
    f: &mut upon::fmt::Formatter<'_>,
    value: &upon::Value,
) -> upon::fmt::Result {
    match value {
        upon::Value::String(s) => {
            let mut escaped = String::with_capacity(s.len() + 8);
            push_json_escaped(&mut escaped, s);
            f.write_str(&escaped)?;
        }
        upon::Value::Integer(n) => write!(f, "{n}")?,
        upon::Value::Float(n) => write!(f, "{n}")?,
        upon::Value::Bool(b) => write!(f, "{b}")?,
        _ => return Err(upon::fmt::Error::from("not a scalar")),
    }
    Ok(())
}
