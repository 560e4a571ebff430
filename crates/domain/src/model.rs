//! The objects the service keeps: templates, revisions, pipelines and their
//! attachments. Plain data; the rules that produce them live in the app crate.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::id::{AttachmentId, PipelineId, RevisionId, TemplateId};
use crate::name::{Description, Name, OrgId, UserId};
use crate::param::Parameters;
use crate::revision::{DeliveryMode, RevisionNumber};

/// An org-level integration template: a reusable destination definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Its id.
    pub id: TemplateId,
    /// The organisation that owns it.
    pub org_id: OrgId,
    /// Its display name, unique within the org among live templates.
    pub name: Name,
    /// The catalog vendor key (`meta_capi`).
    pub vendor: String,
    /// Free text.
    pub description: Option<Description>,
    /// The catalog vendor it was installed from, if any.
    pub catalog_vendor_key: Option<String>,
    /// The catalog variant it was installed from, if any.
    pub catalog_variant_key: Option<String>,
    /// The number of its newest revision; 0 when it has none.
    pub latest_revision: u32,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When its metadata last changed or its newest revision was created.
    pub updated_at: OffsetDateTime,
}

/// An immutable snapshot of a template's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// Its id.
    pub id: RevisionId,
    /// The template it belongs to.
    pub template_id: TemplateId,
    /// The organisation that owns the template.
    pub org_id: OrgId,
    /// 1, 2, 3… per template, without gaps.
    pub number: RevisionNumber,
    /// The vendor configuration; secret values as stored (sealed at rest).
    pub config: Map<String, Value>,
    /// Server side or client side.
    pub delivery_mode: DeliveryMode,
    /// What changed, in the author's words.
    pub change_summary: Option<Description>,
    /// Who created it (the token's `sub`).
    pub created_by: UserId,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// The revision it copies, when it was made by a restore.
    pub restored_from: Option<RevisionNumber>,
}

/// The part of a pipeline this service keeps: its name and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// Its id.
    pub id: PipelineId,
    /// The organisation that owns it.
    pub org_id: OrgId,
    /// Its display name, unique within the org among live pipelines.
    pub name: Name,
    /// Free text.
    pub description: Option<Description>,
    /// The values its attached revisions' placeholders resolve to.
    pub parameters: Parameters,
    /// Credentials its placeholders resolve to as well: write-only, sealed at
    /// rest; only their version ids are here.
    pub secret_parameters: crate::param::SecretParameters,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

/// A pipeline integration: a template pinned at one revision on one pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// Its id.
    pub id: AttachmentId,
    /// The pipeline.
    pub pipeline_id: PipelineId,
    /// The template.
    pub template_id: TemplateId,
    /// The template's name (for display).
    pub template_name: Name,
    /// The template's vendor.
    pub vendor: String,
    /// The pinned revision.
    pub revision_id: RevisionId,
    /// The pinned revision's number.
    pub revision_number: RevisionNumber,
    /// The template's newest revision number; greater than `revision_number`
    /// when a newer revision exists (nothing upgrades automatically).
    pub latest_revision: u32,
    /// Whether the event processor should deliver to it.
    pub enabled: bool,
    /// When it was attached.
    pub created_at: OffsetDateTime,
    /// When it was last re-pinned, enabled or disabled.
    pub updated_at: OffsetDateTime,
}

/// One page of a list: `limit` items from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    limit: u32,
    offset: u64,
}

/// Why a page request was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// `limit` outside 1..=100.
    #[error("limit must be between 1 and {max}")]
    Limit {
        /// The largest limit.
        max: u32,
    },
    /// `offset` beyond what the database can address.
    #[error("offset must be between 0 and {max}")]
    Offset {
        /// The largest offset.
        max: u64,
    },
}

impl Page {
    /// The limit when none is given.
    pub const DEFAULT_LIMIT: u32 = 50;
    /// The largest limit.
    pub const MAX_LIMIT: u32 = 100;
    /// The largest offset (what a signed 64-bit column can address).
    pub const MAX_OFFSET: u64 = i64::MAX as u64;

    /// A page from optional `limit` and `offset` query values.
    ///
    /// # Errors
    /// [`PageError`] when either is out of range.
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Result<Self, PageError> {
        let limit = match limit {
            None => Self::DEFAULT_LIMIT,
            Some(l) => u32::try_from(l)
                .ok()
                .filter(|l| (1..=Self::MAX_LIMIT).contains(l))
                .ok_or(PageError::Limit {
                    max: Self::MAX_LIMIT,
                })?,
        };
        let offset = u64::try_from(offset.unwrap_or(0)).map_err(|_| PageError::Offset {
            max: Self::MAX_OFFSET,
        })?;
        Ok(Self { limit, offset })
    }

    /// Every item (for lists whose spec says "without `limit` all of them").
    pub const fn all() -> Self {
        Self {
            limit: u32::MAX,
            offset: 0,
        }
    }

    /// At most this many items.
    pub const fn limit(self) -> u32 {
        self.limit
    }

    /// Skip this many items.
    pub const fn offset(self) -> u64 {
        self.offset
    }
}

impl Default for Page {
    fn default() -> Self {
        Self {
            limit: Self::DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// A page of items and how many there are in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Paged<T> {
    /// The items of this page, newest first.
    pub items: Vec<T>,
    /// How many items the whole list has.
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_default_and_check_their_ranges() {
        assert_eq!(Page::new(None, None), Ok(Page::default()));
        assert_eq!(
            Page::new(Some(100), Some(7)).map(|p| (p.limit(), p.offset())),
            Ok((100, 7))
        );
        for limit in [0, 101, -1, i64::MAX] {
            assert_eq!(
                Page::new(Some(limit), None),
                Err(PageError::Limit { max: 100 })
            );
        }
        assert!(Page::new(None, Some(-1)).is_err());
        assert!(Page::new(None, Some(i64::MAX)).is_ok());
    }
}
