//! Pagination on the wire: `?limit&offset&cursor` in, `next_cursor` out.
//!
//! A cursor is opaque to clients: base64url (no padding) of the sort key of
//! the last item of a page — `n:<created_at in µs since the epoch>:<id>` on
//! newest-first lists, `r:<number>` on a template's revisions. The id must be
//! an id of the list's kind, so a cursor of one list is refused by another.
//! A page that starts at a cursor costs the same however deep it is; an
//! offset page costs as much as the items it skips (docs/performance.md).

use std::fmt::Display;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use integrations_app::{AppError, ListPage, Newest, Start, Window};
use integrations_domain::{Page, PageError};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::error::ApiError;

/// The longest cursor accepted (a newest-first key is about 60 characters).
const MAX_CURSOR_LEN: usize = 256;

/// The instants a newest-first cursor may name, in µs since the epoch: from
/// 1970-01-01 to the end of 9999. Every item was created in that span, so a
/// cursor outside it is none this service wrote — and PostgreSQL would fail
/// on an instant before 4713 BC rather than compare it.
const CURSOR_MICROS: std::ops::RangeInclusive<i64> = 0..=253_402_300_799_999_999;

/// `?limit&offset&cursor`.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    /// Items per page, 1..=100 (default 50).
    pub limit: Option<i64>,
    /// Items to skip, ≥ 0 (default 0); not with `cursor`.
    pub offset: Option<i64>,
    /// Start after the item this cursor (a previous page's `next_cursor`) names.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// Whether none of `limit`, `offset` and `cursor` was given.
    pub const fn is_empty(&self) -> bool {
        self.limit.is_none() && self.offset.is_none() && self.cursor.is_none()
    }

    /// The offset page, or 422 naming the out-of-range parameter.
    fn page(&self) -> Result<Page, ApiError> {
        Page::new(self.limit, self.offset).map_err(|err| {
            let field = match err {
                PageError::Limit { .. } => "limit",
                PageError::Offset { .. } => "offset",
            };
            ApiError::from(AppError::invalid(field, "out_of_range", err.to_string()))
        })
    }

    /// The window of a list with key `K`: an offset page, or the page after
    /// the cursor's item (422 naming `cursor` when it is malformed, of
    /// another list, or given with `offset`).
    fn window_with<K>(
        &self,
        decode: impl FnOnce(&str) -> Option<K>,
    ) -> Result<Window<K>, ApiError> {
        let page = self.page()?;
        let Some(cursor) = &self.cursor else {
            return Ok(Window::from(page));
        };
        if self.offset.is_some() {
            return Err(AppError::invalid(
                "cursor",
                "conflict",
                "cursor and offset cannot be combined: a cursor already says where the page starts",
            )
            .into());
        }
        let key = (cursor.len() <= MAX_CURSOR_LEN)
            .then(|| URL_SAFE_NO_PAD.decode(cursor).ok())
            .flatten()
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|text| decode(&text))
            .ok_or_else(|| {
                AppError::invalid(
                    "cursor",
                    "invalid",
                    "cursor must be a next_cursor this list returned",
                )
            })?;
        Ok(Window::after(page.limit(), key))
    }

    /// The window of a newest-first list whose item ids parse as `I`.
    ///
    /// # Errors
    /// 422 naming `limit`, `offset` or `cursor`.
    pub fn window<I: FromStr>(&self) -> Result<Window, ApiError> {
        self.window_with(|text| {
            let (micros, id) = text.strip_prefix("n:")?.split_once(':')?;
            let micros: i64 = micros
                .parse()
                .ok()
                .filter(|micros| CURSOR_MICROS.contains(micros))?;
            let created_at =
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).ok()?;
            id.parse::<I>().ok()?;
            Some(Newest {
                created_at,
                id: id.to_owned(),
            })
        })
    }

    /// The window of a template's revisions.
    ///
    /// # Errors
    /// 422 naming `limit`, `offset` or `cursor`.
    pub fn revision_window(&self) -> Result<Window<u32>, ApiError> {
        self.window_with(|text| {
            let number: u32 = text.strip_prefix("r:")?.parse().ok()?;
            (number >= 1).then_some(number)
        })
    }
}

/// The `offset` a page answers with: none for a page that started at a cursor.
pub fn offset_of<K>(window: &Window<K>) -> Option<u64> {
    match window.start {
        Start::Offset(offset) => Some(offset),
        Start::After(_) => None,
    }
}

/// The cursor naming an item of a newest-first list.
pub fn newest_cursor(created_at: OffsetDateTime, id: &impl Display) -> String {
    let micros = created_at.unix_timestamp_nanos() / 1000;
    URL_SAFE_NO_PAD.encode(format!("n:{micros}:{id}"))
}

/// The cursor naming a revision.
pub fn revision_cursor(number: u32) -> String {
    URL_SAFE_NO_PAD.encode(format!("r:{number}"))
}

/// The `next_cursor` of a page: the cursor of its last item when more follow.
pub fn next_cursor<T>(page: &ListPage<T>, cursor: impl Fn(&T) -> String) -> Option<String> {
    if page.more {
        page.items.last().map(cursor)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use integrations_domain::TemplateId;

    use super::*;

    fn query(offset: Option<i64>, cursor: &str) -> PageQuery {
        PageQuery {
            limit: Some(10),
            offset,
            cursor: Some(cursor.to_owned()),
        }
    }

    fn field(result: Result<impl std::fmt::Debug, ApiError>) -> String {
        format!("{:?}", result.expect_err("refused"))
    }

    #[test]
    fn cursors_round_trip() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_767_225_600_123_456_000)
            .expect("an instant");
        let id = "tmpl_01KBZ0N4XW5D7Q2V6T3M9R8P1A";
        let window = query(None, &newest_cursor(at, &id))
            .window::<TemplateId>()
            .expect("valid");
        assert_eq!(
            window,
            Window::after(
                10,
                Newest {
                    created_at: at,
                    id: id.to_owned()
                }
            )
        );
        let window = query(None, &revision_cursor(7))
            .revision_window()
            .expect("valid");
        assert_eq!(window, Window::after(10, 7));
    }

    #[test]
    fn bad_cursors_are_refused_naming_cursor() {
        let at = OffsetDateTime::UNIX_EPOCH;
        let of_pipelines = newest_cursor(at, &"pip_01KBZ0N4XW5D7Q2V6T3M9R8P1A");
        let too_long = "A".repeat(MAX_CURSOR_LEN + 4);
        for bad in [
            "",
            "!!!",
            "bjo",
            of_pipelines.as_str(),
            &revision_cursor(3),
            &URL_SAFE_NO_PAD.encode("n:99999999999999999999:tmpl_01KBZ0N4XW5D7Q2V6T3M9R8P1A"),
            // Before 1970, before 4713 BC, after 9999.
            &URL_SAFE_NO_PAD.encode("n:-1:tmpl_01KBZ0N4XW5D7Q2V6T3M9R8P1A"),
            &URL_SAFE_NO_PAD.encode("n:-219000000000000000:tmpl_01KBZ0N4XW5D7Q2V6T3M9R8P1A"),
            &URL_SAFE_NO_PAD.encode("n:253402300800000000:tmpl_01KBZ0N4XW5D7Q2V6T3M9R8P1A"),
            too_long.as_str(),
        ] {
            let refused = field(query(None, bad).window::<TemplateId>());
            assert!(refused.contains("cursor"), "{bad}: {refused}");
        }
        assert!(field(query(None, &revision_cursor(0)).revision_window()).contains("cursor"));
        // The first and last instants of the span are accepted.
        for micros in [0_i64, 253_402_300_799_999_999] {
            let text = format!("n:{micros}:tmpl_01KBZ0N4XW5D7Q2V6T3M9R8P1A");
            let cursor = URL_SAFE_NO_PAD.encode(text);
            assert!(
                query(None, &cursor).window::<TemplateId>().is_ok(),
                "{micros}"
            );
        }
        let valid = newest_cursor(at, &"tmpl_01KBZ0N4XW5D7Q2V6T3M9R8P1A");
        let refused = field(query(Some(0), &valid).window::<TemplateId>());
        assert!(
            refused.contains("cursor") && refused.contains("conflict"),
            "{refused}"
        );
    }
}
