//! The revisions list without `limit`, streamed: `{"revisions":[` first, then
//! each batch of revisions read on the blocking pool (a pooled connection per
//! batch), masked and serialised, then `],"total":n}`. Only one batch is in
//! memory at a time, so a long history of large configs costs a few
//! megabytes, not the history's size (docs/performance.md has the figure).
//!
//! The status and headers are sent before the first batch is read, so a
//! failure after that cannot become an error response: the stream then ends
//! with an error, which makes the server close the connection before the
//! JSON is complete. A client sees a broken answer, never a shorter list
//! that looks whole. The list is the snapshot of the history when the
//! request was checked (see `RevisionBatches`), so a template deleted or
//! revised meanwhile does not change it (docs/decisions.md).

use actix_web::web::{self, Bytes};
use futures_util::stream::{self, Stream};
use integrations_app::RevisionBatches;
use integrations_domain::Revision;

use crate::dto::revisions::RevisionResponse;
use crate::error::ApiError;

/// Where the stream is.
enum State {
    /// Nothing sent yet.
    Opening(RevisionBatches),
    /// The opening is sent; `first` until a revision has been.
    Listing {
        batches: RevisionBatches,
        first: bool,
    },
    /// The closing is sent, or the stream failed.
    Done,
}

/// The body of the complete revisions list.
pub(crate) fn streamed_list(
    batches: RevisionBatches,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> + 'static {
    stream::unfold(State::Opening(batches), |state| async move {
        match state {
            State::Opening(batches) => Some((
                Ok(Bytes::from_static(b"{\"revisions\":[")),
                State::Listing {
                    batches,
                    first: true,
                },
            )),
            State::Listing { batches, first } => {
                let total = batches.total();
                match next_batch(batches).await {
                    Ok((batches, Some(revisions))) => Some((
                        serialised(revisions, first),
                        State::Listing {
                            batches,
                            first: false,
                        },
                    )),
                    Ok((_, None)) => Some((
                        Ok(Bytes::from(format!("],\"total\":{total}}}"))),
                        State::Done,
                    )),
                    Err(err) => {
                        tracing::error!(
                            error = %err,
                            "the revisions list failed after its answer began; closing the connection"
                        );
                        Some((Err(err.into()), State::Done))
                    }
                }
            }
            State::Done => None,
        }
    })
}

/// Reads the next batch on the blocking pool, handing the cursor back.
async fn next_batch(
    mut batches: RevisionBatches,
) -> Result<(RevisionBatches, Option<Vec<Revision>>), ApiError> {
    let (batches, read) = web::block(move || {
        let read = batches.next_batch();
        (batches, read)
    })
    .await
    .map_err(|err| ApiError::internal(&err))?;
    Ok((batches, read?))
}

/// One batch as JSON array elements, after a comma unless it is the first.
fn serialised(revisions: Vec<Revision>, first: bool) -> Result<Bytes, actix_web::Error> {
    let mut out = Vec::new();
    for (i, revision) in revisions.into_iter().enumerate() {
        if i > 0 || !first {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, &RevisionResponse::from(revision))
            .map_err(|err| ApiError::internal(&err))?;
    }
    Ok(Bytes::from(out))
}
