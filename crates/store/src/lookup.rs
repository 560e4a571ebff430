//! How the store finds rows so that no query's cost depends on the size of
//! the org, or of another org, nor on the plan PostgreSQL picks for a
//! prepared statement (a generic plan is made without the parameters'
//! values).
//!
//! - **By id**: the only condition an index can serve is `id = $1` (the
//!   primary key). The org and the soft delete are checked on the row that
//!   key finds, inside [`on_the_row`], which no index and no partial index's
//!   predicate can match; so no plan can scan the org's rows instead.
//! - **Lists** walk the partial `…_live_newest` indexes (`org_id, created_at
//!   DESC, id DESC` over live rows) for `limit + 1` rows: the extra one only
//!   says whether more follow. A page that starts after a key adds
//!   `created_at <= $t AND (created_at < $t OR id < $id)`: the first half is
//!   an index bound, the second only skips ties, so a page costs O(limit)
//!   however deep it is. A page that starts at an offset costs O(offset).
//! - **Totals** of unfiltered lists come from `org_counts` (see `counts`).
//! - **Filtered lists** (a name substring, a vendor) walk the same index and
//!   check the filter on each row: a page reads as many rows as it takes to
//!   find `limit + 1` matches, and the exact total is a `COUNT(*)` over the
//!   org's live rows (a substring can use no B-tree index), so it costs as
//!   much as the org's live templates or pipelines.

use integrations_ports::ListPage;

diesel::define_sql_function! {
    /// `COALESCE(condition, FALSE)`: true when `condition` holds on the row.
    /// Used to check the org and liveness of a row found by its key: the
    /// planner cannot use an index (or a partial index) for a condition
    /// wrapped in a function call, so it has to find the row by the key.
    #[sql_name = "COALESCE"]
    fn on_the_row(
        condition: diesel::sql_types::Nullable<diesel::sql_types::Bool>,
        otherwise: diesel::sql_types::Bool,
    ) -> diesel::sql_types::Bool;
}

/// The escape character of [`contains_pattern`], for `LIKE … ESCAPE`.
pub(crate) const LIKE_ESCAPE: char = '\\';

/// A `LIKE` pattern that matches any text holding `literal`: `%`, `_` and
/// the escape character in it are escaped, so they match only themselves.
pub(crate) fn contains_pattern(literal: &str) -> String {
    let mut pattern = String::with_capacity(literal.len() + 2);
    pattern.push('%');
    for c in literal.chars() {
        if matches!(c, '%' | '_') || c == LIKE_ESCAPE {
            pattern.push(LIKE_ESCAPE);
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// How many rows a page reads: one more than it shows, to know whether more follow.
pub(crate) fn rows_to_read(limit: u32) -> i64 {
    i64::from(limit) + 1
}

/// An offset as SQL takes it (offsets are bounded by `i64::MAX`).
pub(crate) fn sql_offset(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

/// The page made of the rows read for a window of `limit` items.
pub(crate) fn page_of<T>(mut items: Vec<T>, limit: u32, total: u64) -> ListPage<T> {
    let shown = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = items.len() > shown;
    items.truncate(shown);
    ListPage { items, total, more }
}

/// Keeps the rows of a newest-first list that sort after `key`
/// (`created_at DESC, id DESC`): see the module's doc for why this shape.
macro_rules! after_key {
    ($query:expr, $created_at:path, $id:path, $key:expr) => {{
        let key = $key;
        let at = $crate::rows::timestamp(key.created_at);
        $query.filter(
            $created_at
                .le(at)
                .and($created_at.lt(at).or($id.lt(key.id))),
        )
    }};
}
pub(crate) use after_key;

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn patterns_escape_their_wildcards() {
        assert_eq!(contains_pattern("ga4"), "%ga4%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(contains_pattern(""), "%%");
    }
}
