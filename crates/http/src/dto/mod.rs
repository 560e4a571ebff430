//! Wire types, one module per resource as in `routes/`: request bodies
//! (`*Body`) and responses (`*Response`), separate from the domain and app
//! types they carry.
//!
//! Conversions are `From`/`TryFrom` impls beside the types, so a handler
//! reads `TemplateResponse::from(template)` or `body.parse::<XBody>()?.try_into()`
//! and never copies fields by hand. A request body converts into the use
//! case's input (`TryFrom` when a field can be refused only on the wire, such
//! as an explicit `null`); a response converts from what the use case
//! returned. A list answer converts from a [`Paged`]: the page and what the
//! answer repeats of the request ([`Shown`]).

pub(crate) mod attachments;
pub(crate) mod audit;
pub(crate) mod catalog;
pub(crate) mod events;
pub(crate) mod keys;
pub(crate) mod me;
pub(crate) mod pipelines;
pub(crate) mod revisions;
pub(crate) mod rollouts;
pub(crate) mod templates;

use integrations_app::{ListPage, Window};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::openapi::schemas;
use crate::paging::offset_of;

/// Distinguishes `"field": null` (`Some(None)`) from an absent field (`None`).
#[expect(
    clippy::option_option,
    reason = "absent, null and a value are three different requests"
)]
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A field that may be absent but not `null`: `Some(None)` (sent as `null`)
/// is 400 naming `field`.
#[expect(
    clippy::option_option,
    reason = "absent, null and a value are three different requests"
)]
fn not_null<T>(field: &str, value: Option<Option<T>>) -> Result<Option<T>, ApiError> {
    match value {
        Some(None) => Err(ApiError::invalid_request(
            Some(field),
            "invalid_type",
            format!("'{field}' cannot be null"),
        )),
        other => Ok(other.flatten()),
    }
}

/// RFC 3339 in UTC with `Z`.
mod rfc3339 {
    pub use time::serde::rfc3339::serialize;
}

/// What a list answer repeats of its request: the effective page size and,
/// for a page that did not start at a cursor, the offset.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Shown {
    /// The effective page size.
    pub limit: u32,
    /// Items skipped before the page; `None` for a page after a cursor.
    pub offset: Option<u64>,
}

impl Shown {
    /// What the answer to a request for `window` repeats.
    pub fn of<K>(window: &Window<K>) -> Self {
        Self {
            limit: window.limit,
            offset: offset_of(window),
        }
    }

    /// `page` with what its answer repeats of the request.
    pub fn page<T>(self, page: ListPage<T>) -> Paged<T> {
        Paged { page, shown: self }
    }
}

/// One page of a list and what its answer repeats of the request: what a
/// list response converts from.
#[derive(Debug)]
pub(crate) struct Paged<T> {
    /// The page.
    pub page: ListPage<T>,
    /// The request's page size and offset.
    pub shown: Shown,
}

/// `DELETE` answers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeletedResponse {
    #[schema(value_type = schemas::DeletedStatus)]
    pub status: &'static str,
}

impl Default for DeletedResponse {
    fn default() -> Self {
        Self { status: "deleted" }
    }
}
