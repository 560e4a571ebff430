//! Windows onto lists: where a page starts (an offset, or just after a known
//! item) and what a page holds.
//!
//! Every paginated list is ordered newest first with ties broken by id
//! (descending), except a template's revisions, which are ordered by number
//! (descending). A page that starts [`Start::After`] an item is found by its
//! sort key through an index, so it costs the same however deep it is; a page
//! that starts at an offset costs as much as the items it skips.

use integrations_domain::Page;
use time::OffsetDateTime;

/// The sort key of an item of a newest-first list: its creation time, then
/// its id (as text), both descending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Newest {
    /// When the item was created.
    pub created_at: OffsetDateTime,
    /// The item's id.
    pub id: String,
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start<K> {
    /// After skipping this many items from the top of the list.
    Offset(u64),
    /// With the first item that sorts after this key (a keyset cursor: the
    /// key of the last item of the previous page).
    After(K),
}

/// A page request: at most `limit` items from `start`. `K` is the list's sort
/// key: [`Newest`] for most lists, a revision number for revisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window<K = Newest> {
    /// At most this many items (1..=100 from the HTTP edge; larger values
    /// are honoured as given).
    pub limit: u32,
    /// Where the page starts.
    pub start: Start<K>,
}

impl<K> Window<K> {
    /// The page right after the item whose key is `key`.
    pub const fn after(limit: u32, key: K) -> Self {
        Self {
            limit,
            start: Start::After(key),
        }
    }
}

impl<K> From<Page> for Window<K> {
    fn from(page: Page) -> Self {
        Self {
            limit: page.limit(),
            start: Start::Offset(page.offset()),
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// How many items the whole list has (not only after the start).
    pub total: u64,
    /// Whether more items follow the last one of this page.
    pub more: bool,
}

impl<T> ListPage<T> {
    /// The same page with each item converted.
    #[must_use]
    pub fn map<U>(self, convert: impl FnMut(T) -> U) -> ListPage<U> {
        ListPage {
            items: self.items.into_iter().map(convert).collect(),
            total: self.total,
            more: self.more,
        }
    }
}
