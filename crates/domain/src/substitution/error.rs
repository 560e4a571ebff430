//! What a render can fail with, and the limit on what it may produce.

use std::fmt;

use crate::json_path::JsonPath;
use crate::param::ParamKey;

/// How large a render may be.
///
/// The size of a render is the length in bytes of its compact JSON text
/// (exactly what [`Plan::render_json`](super::Plan::render_json) writes,
/// escapes included), whichever form is asked for. The engine computes it
/// from the plan before it reserves or writes anything, and refuses a render
/// over the limit with [`RenderError::TooLarge`]: an oversized output is never
/// allocated.
///
/// ```
/// use integrations_domain::Parameters;
/// use integrations_domain::substitution::{Plan, RenderError, RenderLimits};
/// use serde_json::json;
///
/// let plan = Plan::compile(json!({ "a": "{{pipeline_param.a}}" }));
/// let params: Parameters = serde_json::from_value(json!({ "a": "0123456789" }))?;
/// assert_eq!(plan.render_size(&params)?, r#"{"a":"0123456789"}"#.len() as u64);
/// let tight = RenderLimits::new(10);
/// assert_eq!(
///     plan.render_json_with(&params, tight),
///     Err(RenderError::TooLarge { size: 18, limit: 10 })
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderLimits {
    /// The largest output allowed, in bytes of compact JSON.
    pub max_output_bytes: u64,
}

impl RenderLimits {
    /// The default limit on a rendered config: 1 MiB (see `docs/decisions.md`).
    pub const DEFAULT_MAX_OUTPUT_BYTES: u64 = 1_048_576;

    /// The default limits.
    pub const DEFAULT: Self = Self::new(Self::DEFAULT_MAX_OUTPUT_BYTES);

    /// Limits allowing at most `max_output_bytes` bytes of compact JSON.
    pub const fn new(max_output_bytes: u64) -> Self {
        Self { max_output_bytes }
    }
}

impl Default for RenderLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A render that could not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The pipeline lacks parameters the config references (nothing was rendered).
    #[error(transparent)]
    Missing(#[from] MissingParameters),
    /// The output would be larger than the limit (nothing was allocated for it).
    #[error(
        "the rendered config would be {size} bytes of JSON, over the limit of {limit} bytes: \
         shorten the parameter values or use fewer placeholders"
    )]
    TooLarge {
        /// The size the output would have, in bytes of compact JSON; `u64::MAX`
        /// when it is larger than that.
        size: u64,
        /// The limit it exceeds.
        limit: u64,
    },
}

impl RenderError {
    /// The missing parameters, when that is what failed the render.
    pub fn missing(&self) -> Option<&MissingParameters> {
        match self {
            Self::Missing(missing) => Some(missing),
            Self::TooLarge { .. } => None,
        }
    }
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
pub struct MissingParameters(pub(super) Vec<MissingParameter>);

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
