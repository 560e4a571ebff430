//! The `{{pipeline_param.KEY}}` substitution engine (docs/event-processor.md): the event
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
//!   config, without copying;
//! - a render is bounded: its exact size (the bytes of its compact JSON text)
//!   follows from the plan and the parameter values alone, so it is computed
//!   and checked against [`RenderLimits`] (1 MiB by default) before anything
//!   is allocated, and an oversized render fails with
//!   [`RenderError::TooLarge`] instead of exhausting the process.
//!
//! # Two output forms
//!
//! The same plan renders either way, with the same substitution rules and the
//! same errors ([`RenderError`]):
//!
//! - [`Plan::render_json`] (or [`Plan::render_json_into`], to reuse a buffer)
//!   writes the config straight to compact JSON text, byte for byte what
//!   `serde_json::to_string` writes for the value [`Plan::render`] returns.
//!   The plan holds the config's static text pre-serialised, so a render only
//!   copies bytes and escapes parameter values. Use it when the config leaves
//!   the process as JSON (forwarded in a vendor request, stored, logged) or is
//!   deserialised into a typed struct: `serde_json::from_str::<T>(&text)` then
//!   builds `T` directly and no `serde_json::Value` is ever allocated. It is
//!   the fast form: on the benchmark's 3 KB config with 20 placeholders it
//!   takes about 0.75 µs against about 9 µs for [`Plan::render`] (see
//!   `docs/performance.md`).
//! - [`Plan::render`] returns a `serde_json::Value`. Use it when the caller
//!   needs a `Value` to inspect or modify. Its cost is dominated by allocating
//!   (and later freeing) the fresh tree, not by the substitution.
//!
//! See the crate documentation for an end-to-end example.

mod compile;
mod error;
pub(crate) mod scan;
mod text;

use std::borrow::Cow;

use serde_json::{Map, Value};

pub use error::{MissingParameter, MissingParameters, RenderError, RenderLimits};

use crate::json_path::JsonPath;
use crate::param::{ParamKey, ParamLookup, ParamValue, Parameters};
use text::JsonText;

/// A compiled config: reusable, immutable, `Send + Sync`; render it as often as you like.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    root: Node,
    /// Every referenced key, sorted and without duplicates; nodes index into it.
    keys: Box<[ParamKey]>,
    /// Every placeholder's key index and path, ordered by key, then document order.
    occurrences: Box<[(usize, JsonPath)]>,
    /// The first [`MAX_PROBLEMS`](crate::validate::MAX_PROBLEMS) malformed references.
    malformed: Box<[MalformedPlaceholder]>,
    /// How many malformed references there are in all.
    malformed_count: usize,
    /// The same config as compact JSON text segments, for [`Plan::render_json`].
    json: JsonText,
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

impl Plan {
    /// Analyses a config. Never fails: malformed references are recorded (see
    /// [`Plan::malformed`]) and render verbatim.
    pub fn compile(config: Value) -> Self {
        compile::compile(config)
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

    /// The first [`MAX_PROBLEMS`](crate::validate::MAX_PROBLEMS) malformed `pipeline_param` references, in
    /// document order (a plan keeps no more, so that a config made of nothing
    /// but malformed references costs no more to compile than any other).
    pub fn malformed(&self) -> &[MalformedPlaceholder] {
        &self.malformed
    }

    /// How many malformed `pipeline_param` references the config holds in all,
    /// listed in [`Plan::malformed`] or not.
    pub fn malformed_count(&self) -> usize {
        self.malformed_count
    }

    /// The parameters a pipeline defines that this config never references.
    pub fn unused_keys<'p>(&self, params: &'p Parameters) -> impl Iterator<Item = &'p ParamKey> {
        params
            .keys()
            .filter(|key| self.keys.binary_search(key).is_err())
    }

    /// Substitutes `params` into the config, within the default
    /// [`RenderLimits`] (1 MiB of compact JSON).
    ///
    /// Borrows the plan's config when it holds no placeholder; otherwise builds a
    /// new value, copying only what it must.
    ///
    /// # Errors
    /// [`RenderError::Missing`] listing every reference to a key `params`
    /// lacks; [`RenderError::TooLarge`] when the output would exceed the limit
    /// (checked before anything is allocated).
    pub fn render<'p, P>(&'p self, params: &P) -> Result<Cow<'p, Value>, RenderError>
    where
        P: ParamLookup + ?Sized,
    {
        self.render_with(params, RenderLimits::DEFAULT)
    }

    /// [`Plan::render`] within the given limits.
    ///
    /// # Errors
    /// As [`Plan::render`].
    pub fn render_with<'p, P>(
        &'p self,
        params: &P,
        limits: RenderLimits,
    ) -> Result<Cow<'p, Value>, RenderError>
    where
        P: ParamLookup + ?Sized,
    {
        if let Node::Static(value) = &self.root {
            check_size(self.json.size(&[]), limits)?;
            return Ok(Cow::Borrowed(value));
        }
        let values = self.resolve(params)?;
        check_size(self.json.size(&values), limits)?;
        Ok(Cow::Owned(render_node(&self.root, &values, &[])))
    }

    /// [`Plan::render_with`] for a reader who may not see some parameters'
    /// values: every string that took the value of a key `hidden` selects —
    /// the whole string, whether the placeholder was all of it or embedded in
    /// text such as `"https://x/{{pipeline_param.token}}/y"` — renders as
    /// [`MASK`](crate::secrets::MASK), and so does a whole placeholder of such
    /// a key whatever its type. Nothing else changes. The strings masked are
    /// exactly the paths [`Plan::hidden_references`] lists.
    ///
    /// The size limit applies to the render *before* masking, so a reader who
    /// sees the values and one who does not get the same answer.
    ///
    /// ```
    /// use integrations_domain::Parameters;
    /// use integrations_domain::substitution::Plan;
    /// use serde_json::json;
    ///
    /// let plan = Plan::compile(json!({
    ///     "pixel_id": "{{pipeline_param.pixel}}",
    ///     "url": "https://graph.example.com/{{pipeline_param.pixel}}?t={{pipeline_param.token}}",
    ///     "access_token": "{{pipeline_param.token}}"
    /// }));
    /// let params: Parameters = serde_json::from_value(json!({ "pixel": "123", "token": "EAAB" }))?;
    /// let shown = plan.render_masked(&params, |key| key.as_str() == "token")?;
    /// assert_eq!(
    ///     shown.into_owned(),
    ///     json!({ "pixel_id": "123", "url": "***", "access_token": "***" })
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Plan::render`].
    pub fn render_masked<'p, P, H>(
        &'p self,
        params: &P,
        hidden: H,
    ) -> Result<Cow<'p, Value>, RenderError>
    where
        P: ParamLookup + ?Sized,
        H: Fn(&ParamKey) -> bool,
    {
        self.render_masked_with(params, RenderLimits::DEFAULT, hidden)
    }

    /// [`Plan::render_masked`] within the given limits.
    ///
    /// # Errors
    /// As [`Plan::render`].
    pub fn render_masked_with<'p, P, H>(
        &'p self,
        params: &P,
        limits: RenderLimits,
        hidden: H,
    ) -> Result<Cow<'p, Value>, RenderError>
    where
        P: ParamLookup + ?Sized,
        H: Fn(&ParamKey) -> bool,
    {
        let masked: Vec<bool> = self.keys.iter().map(&hidden).collect();
        if !masked.contains(&true) {
            return self.render_with(params, limits);
        }
        let values = self.resolve(params)?;
        check_size(self.json.size(&values), limits)?;
        Ok(Cow::Owned(render_node(&self.root, &values, &masked)))
    }

    /// Every reference to a key `hidden` selects, with the path of the string
    /// it is in: the strings [`Plan::render_masked`] masks, ordered by key,
    /// then document order.
    /// `hidden` is asked once per key, not once per reference.
    pub fn hidden_references<H>(&self, hidden: H) -> impl Iterator<Item = (&ParamKey, &JsonPath)>
    where
        H: Fn(&ParamKey) -> bool,
    {
        let masked: Vec<bool> = self.keys.iter().map(hidden).collect();
        self.occurrences
            .iter()
            .filter(move |(key, _)| masked[*key])
            .map(|(key, path)| (&self.keys[*key], path))
    }

    /// Substitutes `params` into the config and writes the result as compact
    /// JSON text: exactly what `serde_json::to_string` writes for the value
    /// [`Plan::render`] returns, members in the same order, strings escaped the
    /// same way. Always valid JSON. The default [`RenderLimits`] apply.
    ///
    /// This is the fast form: the static parts of the config were serialised
    /// at compile time, so a render copies them and writes only the parameter
    /// values. Deserialise the text straight into a typed struct rather than
    /// into a `serde_json::Value` (see the [module documentation](self)).
    ///
    /// ```
    /// use integrations_domain::Parameters;
    /// use integrations_domain::substitution::Plan;
    /// use serde_json::json;
    ///
    /// let plan = Plan::compile(json!({
    ///     "batch_size": "{{pipeline_param.batch}}",
    ///     "endpoint": "https://{{pipeline_param.region}}.example.com/collect",
    ///     "label": "{{pipeline_param.label}}"
    /// }));
    /// let params: Parameters = serde_json::from_value(json!({
    ///     "batch": 25, "region": "eu", "label": "say \"hi\""
    /// }))?;
    /// let text = plan.render_json(&params)?;
    /// assert_eq!(
    ///     text,
    ///     r#"{"batch_size":25,"endpoint":"https://eu.example.com/collect","label":"say \"hi\""}"#
    /// );
    ///
    /// // Into the vendor's typed config, without an intermediate `Value`.
    /// #[derive(serde::Deserialize)]
    /// struct Vendor {
    ///     batch_size: u32,
    ///     endpoint: String,
    /// }
    /// let vendor: Vendor = serde_json::from_str(&text)?;
    /// assert_eq!((vendor.batch_size, vendor.endpoint.as_str()), (25, "https://eu.example.com/collect"));
    ///
    /// // A missing parameter fails exactly as `render` does.
    /// let err = plan.render_json(&Parameters::new()).unwrap_err();
    /// assert_eq!(err, plan.render(&Parameters::new()).unwrap_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// The same errors [`Plan::render`] returns.
    pub fn render_json<P>(&self, params: &P) -> Result<String, RenderError>
    where
        P: ParamLookup + ?Sized,
    {
        self.render_json_with(params, RenderLimits::DEFAULT)
    }

    /// [`Plan::render_json`] within the given limits.
    ///
    /// # Errors
    /// As [`Plan::render`].
    pub fn render_json_with<P>(
        &self,
        params: &P,
        limits: RenderLimits,
    ) -> Result<String, RenderError>
    where
        P: ParamLookup + ?Sized,
    {
        let mut out = String::new();
        self.render_json_into_with(params, &mut out, limits)?;
        Ok(out)
    }

    /// Like [`Plan::render_json`], but appends the text to `out`, so a caller
    /// can reuse one buffer across renders. The limit applies to the text this
    /// render appends, not to what `out` already holds.
    ///
    /// # Errors
    /// As [`Plan::render`]; `out` is then left unchanged.
    pub fn render_json_into<P>(&self, params: &P, out: &mut String) -> Result<(), RenderError>
    where
        P: ParamLookup + ?Sized,
    {
        self.render_json_into_with(params, out, RenderLimits::DEFAULT)
    }

    /// [`Plan::render_json_into`] within the given limits.
    ///
    /// # Errors
    /// As [`Plan::render`]; `out` is then left unchanged.
    pub fn render_json_into_with<P>(
        &self,
        params: &P,
        out: &mut String,
        limits: RenderLimits,
    ) -> Result<(), RenderError>
    where
        P: ParamLookup + ?Sized,
    {
        let values = self.resolve(params)?;
        let size = check_size(self.json.size(&values), limits)?;
        self.json.render(&values, size, out);
        Ok(())
    }

    /// The exact size of the render with `params`, in bytes of compact JSON
    /// (what [`Plan::render_json`] would write), computed from the plan
    /// without rendering: the static text plus, for each key, its number of
    /// uses times its value's escaped length. `u64::MAX` if it is larger.
    ///
    /// # Errors
    /// [`MissingParameters`] listing every reference to a key `params` lacks.
    pub fn render_size<P>(&self, params: &P) -> Result<u64, MissingParameters>
    where
        P: ParamLookup + ?Sized,
    {
        let values = self.resolve(params)?;
        Ok(self.json.size(&values))
    }

    /// The value of every referenced key, indexed like `self.keys`, or every
    /// reference to a key `params` lacks.
    fn resolve<'v, P>(&self, params: &'v P) -> Result<Vec<&'v ParamValue>, MissingParameters>
    where
        P: ParamLookup + ?Sized,
    {
        let mut found = Vec::with_capacity(self.keys.len());
        params.params_sorted(&self.keys, &mut found);
        if found.iter().any(Option::is_none) {
            return Err(self.missing(params));
        }
        Ok(found.into_iter().flatten().collect())
    }

    #[cold]
    fn missing<P>(&self, params: &P) -> MissingParameters
    where
        P: ParamLookup + ?Sized,
    {
        let defined: Vec<bool> = self
            .keys
            .iter()
            .map(|key| params.param(key.as_str()).is_some())
            .collect();
        MissingParameters(
            self.occurrences
                .iter()
                .filter(|(key, _)| !defined[*key])
                .map(|(key, path)| MissingParameter {
                    key: self.keys[*key].clone(),
                    path: path.clone(),
                })
                .collect(),
        )
    }
}

/// `size` when it is within `limits`.
fn check_size(size: u64, limits: RenderLimits) -> Result<u64, RenderError> {
    if size > limits.max_output_bytes {
        Err(RenderError::TooLarge {
            size,
            limit: limits.max_output_bytes,
        })
    } else {
        Ok(size)
    }
}

/// Renders `node`; a string or whole placeholder that takes a key whose
/// `masked` entry is true (keys past the end of `masked` are shown) renders as
/// [`MASK`](crate::secrets::MASK).
fn render_node(node: &Node, values: &[&ParamValue], masked: &[bool]) -> Value {
    let hidden = |key: usize| masked.get(key).copied().unwrap_or(false);
    match node {
        Node::Static(value) => value.clone(),
        Node::Whole(key) if hidden(*key) => Value::String(crate::secrets::MASK.to_owned()),
        Node::Whole(key) => values[*key].to_json(),
        Node::Text { pieces, .. }
            if pieces
                .iter()
                .any(|piece| matches!(piece, Piece::Param(key) if hidden(*key))) =>
        {
            Value::String(crate::secrets::MASK.to_owned())
        }
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
        Node::Object(members) => {
            // Members are already in the map's order: inserting them one by one
            // skips `collect`'s intermediate vector and sort.
            let mut map = Map::new();
            for (key, node) in members {
                map.insert(key.clone(), render_node(node, values, masked));
            }
            Value::Object(map)
        }
        Node::Array(items) => Value::Array(
            items
                .iter()
                .map(|n| render_node(n, values, masked))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod json_tests;
#[cfg(test)]
mod limit_tests;
#[cfg(test)]
mod mask_tests;
#[cfg(test)]
mod tests;
