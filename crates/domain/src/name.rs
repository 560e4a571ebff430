//! Validated text: display names, descriptions, and the org and user ids that
//! arrive in tokens.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization as _;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory as _};

/// Why a piece of text was rejected. The `Display` text is a phrase that
/// completes "`<field>` …", e.g. "must not be empty".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty (after trimming, for names).
    #[error("must not be empty")]
    Empty,
    /// Longer than the limit, counted in characters.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The limit in characters.
        max: usize,
    },
    /// Holds a control character (newline, tab, NUL…).
    #[error("must not contain control characters")]
    ControlCharacter,
    /// Holds an invisible or direction-changing character: Unicode general
    /// category `Cf` (format), such as U+200B ZERO WIDTH SPACE, U+202E
    /// RIGHT-TO-LEFT OVERRIDE, U+2066 LEFT-TO-RIGHT ISOLATE or U+FEFF.
    #[error(
        "must not contain invisible or direction-changing characters (Unicode format characters such as U+200B or U+202E)"
    )]
    FormatCharacter,
}

impl TextError {
    /// A short machine-readable code for error details.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooLong { .. } => "too_long",
            Self::ControlCharacter => "control_character",
            Self::FormatCharacter => "format_character",
        }
    }
}

fn check_length(text: &str, max: usize) -> Result<(), TextError> {
    // Counting stops at max + 1, so a huge input costs no more than a short one.
    if text.chars().nth(max).is_some() {
        Err(TextError::TooLong { max })
    } else {
        Ok(())
    }
}

/// Whether `c` is a Unicode format character (general category `Cf`):
/// invisible, or changing the direction of the text around it.
fn is_format(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
}

/// The display name of a template or a pipeline: trimmed, 1 to 200 characters,
/// no control characters and no format characters (Unicode `Cf`: zero-width
/// and bidirectional controls), stored in Unicode Normalization Form C. Unique
/// per org among live objects, compared by [`Name::unique_key`].
///
/// ```
/// use integrations_domain::Name;
/// let name = Name::parse("  Meta CAPI Production ").unwrap();
/// assert_eq!(name.as_str(), "Meta CAPI Production");
/// assert_eq!(name.unique_key(), "meta capi production");
/// assert!(Name::parse("   ").is_err());
/// // The same text, composed or not, is the same name.
/// assert_eq!(Name::parse("Cafe\u{301}").unwrap().as_str(), "Caf\u{e9}");
/// // A right-to-left override would make a name display as another.
/// assert!(Name::parse("invoice\u{202e}fdp.exe").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Name(String);

impl Name {
    /// The longest name, in characters.
    pub const MAX_CHARS: usize = 200;

    /// Trims, checks and NFC-normalises a name given by a client.
    ///
    /// # Errors
    /// [`TextError::Empty`], [`TextError::TooLong`],
    /// [`TextError::ControlCharacter`] or [`TextError::FormatCharacter`].
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(TextError::Empty);
        }
        // Counted before normalising, so a huge input costs no more than a
        // short one, and after: NFC composes, but a few characters (U+0344,
        // U+2ADC…) become two.
        check_length(trimmed, Self::MAX_CHARS)?;
        if trimmed.chars().any(char::is_control) {
            return Err(TextError::ControlCharacter);
        }
        if trimmed.chars().any(is_format) {
            return Err(TextError::FormatCharacter);
        }
        let normalised: String = trimmed.nfc().collect();
        check_length(&normalised, Self::MAX_CHARS)?;
        Ok(Self(normalised))
    }

    /// A name read back from storage, kept exactly as stored. Only the rules
    /// that held when it was written are checked (not empty, at most 200
    /// characters, no control character), so a name stored before format
    /// characters were refused, or before names were normalised, still loads.
    ///
    /// # Errors
    /// [`TextError::Empty`], [`TextError::TooLong`] or [`TextError::ControlCharacter`].
    pub fn stored(raw: &str) -> Result<Self, TextError> {
        if raw.trim().is_empty() {
            return Err(TextError::Empty);
        }
        check_length(raw, Self::MAX_CHARS)?;
        if raw.chars().any(char::is_control) {
            return Err(TextError::ControlCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name as given (trimmed, in NFC).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form names are compared in for uniqueness: the NFC form in Unicode
    /// lower case, so "GA4" and "ga4", or "Café" written with a precomposed
    /// "é" and with "e" and a combining accent, collide on every database
    /// backend alike.
    pub fn unique_key(&self) -> String {
        fold(&self.0)
    }
}

/// Folds text as names are compared: the NFC form in Unicode lower case,
/// normalised again (lower-casing can decompose: U+0130 becomes "i" and a
/// combining dot). [`Name::unique_key`] is this of the name, and a
/// [`NameQuery`] is this of the text searched for.
///
/// ```
/// use integrations_domain::fold;
/// assert_eq!(fold("ÄRGER"), "ärger");
/// assert_eq!(fold("A\u{308}rger"), "\u{e4}rger");
/// ```
pub fn fold(text: &str) -> String {
    text.nfc()
        .collect::<String>()
        .to_lowercase()
        .nfc()
        .collect()
}

/// What a list of templates or pipelines is searched for by name: a literal
/// substring (no wildcard: `%` and `_` are plain characters), compared
/// case-insensitively in the form [`fold`] gives, as names are. At most 200
/// characters and no control characters, checked before it is folded.
///
/// ```
/// use integrations_domain::NameQuery;
/// let query = NameQuery::parse("CAPI %").unwrap();
/// assert_eq!(query.folded(), "capi %");
/// assert!(NameQuery::parse("a\nb").is_err());
/// assert!(NameQuery::parse(&"x".repeat(201)).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameQuery(String);

impl NameQuery {
    /// The longest query, in characters.
    pub const MAX_CHARS: usize = Name::MAX_CHARS;

    /// Checks and folds a query as given (not trimmed: a space is a
    /// character to look for like any other).
    ///
    /// # Errors
    /// [`TextError::TooLong`] or [`TextError::ControlCharacter`].
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        check_length(raw, Self::MAX_CHARS)?;
        if raw.chars().any(char::is_control) {
            return Err(TextError::ControlCharacter);
        }
        Ok(Self(fold(raw)))
    }

    /// The folded text to find in a name's [`Name::unique_key`].
    pub fn folded(&self) -> &str {
        &self.0
    }

    /// Whether `name` holds the query (the rule a store applies in SQL).
    pub fn matches(&self, name: &Name) -> bool {
        name.unique_key().contains(&self.0)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A free-text description or change summary: at most 2,000 characters, kept as
/// written (newlines allowed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Description(String);

impl Description {
    /// The longest description, in characters.
    pub const MAX_CHARS: usize = 2_000;

    /// Checks the length and the characters: tabs and line breaks are fine,
    /// other control characters (NUL among them) are not.
    ///
    /// # Errors
    /// [`TextError::TooLong`] or [`TextError::ControlCharacter`].
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        check_length(raw, Self::MAX_CHARS)?;
        if raw
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            return Err(TextError::ControlCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! token_text {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The longest value, in characters.
            pub const MAX_CHARS: usize = 128;

            /// Checks a value taken from a token claim.
            ///
            /// # Errors
            /// [`TextError::Empty`], [`TextError::TooLong`] or [`TextError::ControlCharacter`].
            pub fn parse(raw: &str) -> Result<Self, TextError> {
                if raw.is_empty() {
                    return Err(TextError::Empty);
                }
                check_length(raw, Self::MAX_CHARS)?;
                if raw.chars().any(char::is_control) {
                    return Err(TextError::ControlCharacter);
                }
                Ok(Self(raw.to_owned()))
            }

            /// The value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = TextError;

            fn try_from(raw: String) -> Result<Self, Self::Error> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

token_text!(
    /// The organisation a caller belongs to (the token's `org_id`); every query is scoped by it.
    OrgId
);
token_text!(
    /// The caller (the token's `sub`); recorded as `created_by`.
    UserId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            Name::parse(" GA4 web\u{a0}").map(|n| n.0),
            Ok("GA4 web".into())
        );
        assert_eq!(Name::parse(""), Err(TextError::Empty));
        assert_eq!(Name::parse(" \t\n"), Err(TextError::Empty));
        assert!(Name::parse(&"é".repeat(200)).is_ok());
        assert_eq!(
            Name::parse(&"é".repeat(201)),
            Err(TextError::TooLong { max: 200 })
        );
        assert_eq!(Name::parse("a\nb"), Err(TextError::ControlCharacter));
        assert_eq!(Name::parse("a\u{0}b"), Err(TextError::ControlCharacter));
    }

    #[test]
    fn format_characters_are_refused() {
        for c in [
            '\u{200b}',
            '\u{200d}',
            '\u{202e}',
            '\u{2066}',
            '\u{feff}',
            '\u{ad}',
            '\u{e0041}',
        ] {
            assert_eq!(
                Name::parse(&format!("GA4{c}web")),
                Err(TextError::FormatCharacter),
                "U+{:04X}",
                u32::from(c)
            );
        }
        assert_eq!(TextError::FormatCharacter.code(), "format_character");
        // Other scripts, combining marks and emoji are fine.
        for ok in ["مرحبا", "日本語", "Cafe\u{301}", "🎉 launch"] {
            assert!(Name::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn names_are_stored_in_nfc_and_collide_across_forms() {
        let composed = Name::parse("Caf\u{e9}").expect("valid");
        let decomposed = Name::parse("Cafe\u{301}").expect("valid");
        assert_eq!(decomposed.as_str(), "Caf\u{e9}");
        assert_eq!(composed, decomposed);
        assert_eq!(composed.unique_key(), "caf\u{e9}");
        assert_eq!(
            Name::parse("CAFE\u{301}").map(|n| n.unique_key()),
            Ok(composed.unique_key())
        );
        // Lower case that decomposes is normalised again.
        let dotted = Name::parse("\u{130}stanbul").expect("valid");
        assert_eq!(dotted.unique_key(), "i\u{307}stanbul");
        // Two hundred decomposed characters are still two hundred characters.
        assert!(Name::parse(&"e\u{301}".repeat(100)).is_ok());
    }

    #[test]
    fn stored_names_load_as_they_were() {
        let legacy = "Cafe\u{301} \u{202e}x";
        assert_eq!(Name::stored(legacy).map(|n| n.0), Ok(legacy.to_owned()));
        assert_eq!(Name::stored(" "), Err(TextError::Empty));
        assert_eq!(Name::stored("a\nb"), Err(TextError::ControlCharacter));
    }

    #[test]
    fn unique_key_folds_unicode_case() {
        let upper = Name::parse("ÉTÉ GA4").map(|n| n.unique_key());
        let lower = Name::parse("été ga4").map(|n| n.unique_key());
        assert_eq!(upper, lower);
    }

    #[test]
    fn descriptions_allow_newlines_up_to_the_limit() {
        assert!(Description::parse("line 1\nline 2\r\n\tindented").is_ok());
        assert_eq!(
            Description::parse("nul\u{0}"),
            Err(TextError::ControlCharacter)
        );
        assert_eq!(
            Description::parse("bell\u{7}"),
            Err(TextError::ControlCharacter)
        );
        assert!(Description::parse(&"x".repeat(2_000)).is_ok());
        assert_eq!(
            Description::parse(&"x".repeat(2_001)),
            Err(TextError::TooLong { max: 2_000 })
        );
    }

    #[test]
    fn token_texts_are_checked() {
        assert!(OrgId::parse("org_xyz").is_ok());
        assert_eq!(OrgId::parse(""), Err(TextError::Empty));
        assert_eq!(UserId::parse("a\tb"), Err(TextError::ControlCharacter));
        assert!(serde_json::from_str::<OrgId>("\"\"").is_err());
    }
}
