//! Sealed values at rest: each in a row of its own, beside the row that owns
//! it, so that re-sealing under another key never rewrites an immutable
//! revision.

use integrations_domain::secrets::SecretVersion;
use integrations_domain::{OrgId, PipelineId, RevisionId};

use crate::cipher::Envelope;
use crate::error::StoreResult;

/// The owner kind of values that belong to a revision's config (what a
/// [`crate::Binding`] names as `owner_kind`).
pub const REVISION_OWNER: &str = "revision";

/// The owner kind of a pipeline's secret parameters; each sits at the field
/// path `/secret_parameters/<KEY>`.
pub const PIPELINE_OWNER: &str = "pipeline";

/// The field path of a pipeline's secret parameter `key` in the sealed-values
/// store (what a [`crate::Binding`] names as `field_path`).
pub fn secret_parameter_path(key: &integrations_domain::ParamKey) -> String {
    format!("/secret_parameters/{key}")
}

/// One sealed value of a row: where in the row it sits, which entered value
/// it is, and its envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret {
    /// The JSON Pointer of the value inside its row's config (`/access_token`).
    pub field_path: String,
    /// The version id the config references (`enc:v2:<version>`).
    pub version: SecretVersion,
    /// The key id and ciphertext.
    pub envelope: Envelope,
}

/// Reading sealed values. They are written with the row that owns them
/// ([`crate::NewRevision::secrets`]), in the same transaction.
pub trait SealedValueStore {
    /// The sealed values owned by the given revisions of the org, each with
    /// its revision. Revisions of other orgs, and unknown ids, contribute
    /// nothing.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected` (a stored row that cannot be read).
    fn revision_secrets(
        &self,
        org: &OrgId,
        revisions: &[RevisionId],
    ) -> StoreResult<Vec<(RevisionId, SealedSecret)>>;

    /// The sealed values of a pipeline's secret parameters. Another org's
    /// pipeline, or an unknown one, has none.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn pipeline_secrets(&self, org: &OrgId, pipeline: PipelineId)
    -> StoreResult<Vec<SealedSecret>>;
}
