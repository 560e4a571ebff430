//! Revision numbers and delivery modes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The number of a revision within its template: 1, 2, 3… with no gaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct RevisionNumber(u32);

impl RevisionNumber {
    /// The first revision of every template.
    pub const FIRST: Self = Self(1);
    /// The largest number (what a signed 32-bit column holds, on every backend).
    pub const MAX: u32 = 2_147_483_647;

    /// The number, if it is between 1 and [`RevisionNumber::MAX`].
    pub const fn new(number: u32) -> Option<Self> {
        if number == 0 || number > Self::MAX {
            None
        } else {
            Some(Self(number))
        }
    }

    /// The number as an integer.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// The number after this one.
    ///
    /// # Errors
    /// `None` after [`RevisionNumber::MAX`] revisions.
    pub const fn next(self) -> Option<Self> {
        match self.0.checked_add(1) {
            Some(n) => Self::new(n),
            None => None,
        }
    }

    /// Parses a revision number from a path segment ("3"); rejects 0, signs and padding.
    pub fn parse(raw: &str) -> Option<Self> {
        if raw.starts_with('0') || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        raw.parse().ok().and_then(Self::new)
    }
}

impl TryFrom<u32> for RevisionNumber {
    type Error = &'static str;

    fn try_from(number: u32) -> Result<Self, Self::Error> {
        Self::new(number).ok_or("revision numbers start at 1")
    }
}

impl From<RevisionNumber> for u32 {
    fn from(number: RevisionNumber) -> Self {
        number.0
    }
}

impl fmt::Display for RevisionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where events are delivered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// The event processor sends events to the vendor's server API.
    ServerSide,
    /// A client-side tag sends them from the browser or app.
    ClientSide,
}

impl DeliveryMode {
    /// The wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ServerSide => "server_side",
            Self::ClientSide => "client_side",
        }
    }

    /// Parses a wire name.
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::ServerSide, Self::ClientSide]
            .into_iter()
            .find(|m| m.as_str() == raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_start_at_one() {
        assert_eq!(RevisionNumber::new(RevisionNumber::MAX + 1), None);
        assert_eq!(RevisionNumber::parse("2147483648"), None);
        assert!(RevisionNumber::parse("2147483647").is_some());
        assert_eq!(RevisionNumber::new(0), None);
        assert_eq!(RevisionNumber::FIRST.next(), RevisionNumber::new(2));
        assert_eq!(
            RevisionNumber::new(RevisionNumber::MAX).and_then(RevisionNumber::next),
            None
        );
        assert!(serde_json::from_str::<RevisionNumber>("0").is_err());
    }

    #[test]
    fn path_segments_parse_strictly() {
        assert_eq!(RevisionNumber::parse("3"), RevisionNumber::new(3));
        for bad in ["0", "03", "-1", "+1", "1.0", "", "abc", "99999999999"] {
            assert_eq!(RevisionNumber::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn delivery_modes_use_wire_names() {
        assert_eq!(
            DeliveryMode::parse("client_side"),
            Some(DeliveryMode::ClientSide)
        );
        assert_eq!(DeliveryMode::parse("Server_Side"), None);
        assert_eq!(
            serde_json::to_string(&DeliveryMode::ServerSide)
                .ok()
                .as_deref(),
            Some("\"server_side\"")
        );
    }
}
