//! Prefixed ULID identifiers: `tmpl_01J…`, `rev_01J…`, `pip_01J…`, `pi_01J…`, `log_01J…`, `evt_01J…`.
//!
//! The prefix says what an id names, so an id pasted into the wrong route never
//! matches anything; the ULID makes ids sortable by creation time. Parsing
//! accepts the ULID in either case and displays it in canonical upper case.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::Ulid;

/// Why a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{raw}' is not a valid id: expected '{prefix}' followed by a 26-character ULID")]
pub struct IdError {
    /// The prefix the id should have started with.
    pub prefix: &'static str,
    /// The rejected input (truncated to 64 characters).
    pub raw: String,
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Ulid);

        impl $name {
            /// The prefix every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// Wraps a ULID (from the id-generator port).
            pub const fn from_ulid(ulid: Ulid) -> Self {
                Self(ulid)
            }

            /// The ULID behind the id.
            pub const fn ulid(self) -> Ulid {
                self.0
            }

            /// Parses `prefix + ULID`.
            ///
            /// # Errors
            /// [`IdError`] when the prefix is wrong or the rest is not a ULID.
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                raw.strip_prefix(Self::PREFIX)
                    .filter(|rest| rest.len() == ulid::ULID_LEN)
                    .and_then(|rest| Ulid::from_string(rest).ok())
                    .map(Self)
                    .ok_or_else(|| IdError {
                        prefix: Self::PREFIX,
                        raw: raw.chars().take(64).collect(),
                    })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", Self::PREFIX, self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                Self::parse(raw)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(
    /// Identifies an integration template (`tmpl_…`).
    TemplateId, "tmpl_"
);
prefixed_id!(
    /// Identifies a revision of a template (`rev_…`).
    RevisionId, "rev_"
);
prefixed_id!(
    /// Identifies a pipeline (`pip_…`).
    PipelineId, "pip_"
);
prefixed_id!(
    /// Identifies a pipeline integration, the pin of a template on a pipeline (`pi_…`).
    AttachmentId, "pi_"
);
prefixed_id!(
    /// Identifies an audit-log entry (`log_…`).
    AuditId, "log_"
);
prefixed_id!(
    /// Identifies a change event (`evt_…`); an event shares its ULID with
    /// the audit entry of the same change.
    EventId, "evt_"
);
prefixed_id!(
    /// Identifies a rollout: a re-pin of many pipelines of a template at once (`ro_…`).
    RolloutId, "ro_"
);

#[cfg(test)]
mod tests {
    use super::*;

    const ULID: &str = "01ARZ3NDEKTSV4RRFFQ69G5FAV";

    #[test]
    fn displays_prefix_and_canonical_ulid() {
        let id = TemplateId::parse(&format!("tmpl_{}", ULID.to_lowercase()));
        assert_eq!(id.map(|id| id.to_string()), Ok(format!("tmpl_{ULID}")));
    }

    #[test]
    fn rejects_wrong_prefix_length_and_alphabet() {
        for raw in [
            format!("rev_{ULID}"),
            ULID.to_owned(),
            format!("tmpl_{ULID}0"),
            format!("tmpl_{}", &ULID[1..]),
            "tmpl_0123456789ABCDEFGHIJKLMNOU".to_owned(), // 'U' is not Crockford base32
            "tmpl_abc123".to_owned(),
            "tmpl_".to_owned(),
            String::new(),
            "tmpl_é1ARZ3NDEKTSV4RRFFQ69G5FA".to_owned(),
        ] {
            assert!(TemplateId::parse(&raw).is_err(), "{raw} was accepted");
        }
    }

    #[test]
    fn round_trips_through_serde() {
        let id = RevisionId::from_ulid(Ulid::from_string(ULID).unwrap_or_default());
        let json = serde_json::to_string(&id).unwrap_or_default();
        assert_eq!(json, format!("\"rev_{ULID}\""));
        assert_eq!(serde_json::from_str::<RevisionId>(&json).ok(), Some(id));
        assert!(serde_json::from_str::<PipelineId>(&json).is_err());
    }
}
