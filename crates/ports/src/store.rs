//! The storage ports. Every method is scoped to one organisation: an object of
//! another org behaves exactly like one that does not exist. Deleted templates
//! and pipelines behave as if they did not exist either.
//!
//! Methods that must be atomic are single methods, and an adapter runs each in
//! one transaction: creating a revision with the next number, installing a
//! template with its first revision, deleting a template unless it is
//! attached, attaching unless the template is deleted.
//!
//! Every change writes its audit entry in its own transaction; the changes a
//! `POST` makes take a [`Change`], which also records the response an
//! idempotent retry replays, in that same transaction.

use integrations_domain::{
    Attachment, AttachmentId, DeliveryMode, Description, Name, NameQuery, OrgId, Parameters,
    Pipeline, PipelineId, Revision, RevisionId, RevisionNumber, SecretParameters, Template,
    TemplateId, UserId,
};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::audit::AuditEntry;
use crate::error::StoreResult;
use crate::idempotency::Change;
use crate::list::{ListPage, Window};

/// A template to create.
#[derive(Debug, Clone)]
pub struct NewTemplate {
    /// Its id (from the id generator).
    pub id: TemplateId,
    /// The owning org.
    pub org_id: OrgId,
    /// Its name.
    pub name: Name,
    /// The catalog vendor key.
    pub vendor: String,
    /// Free text.
    pub description: Option<Description>,
    /// The catalog vendor installed from, if any.
    pub catalog_vendor_key: Option<String>,
    /// The catalog variant installed from, if any.
    pub catalog_variant_key: Option<String>,
    /// Creation time; also its first `updated_at`.
    pub created_at: OffsetDateTime,
}

/// A revision to create; the store assigns its number.
#[derive(Debug, Clone)]
pub struct NewRevision {
    /// Its id.
    pub id: RevisionId,
    /// The config, already validated; each secret it holds is a reference
    /// (`enc:v2:<version>`) to one of [`NewRevision::secrets`].
    pub config: Map<String, Value>,
    /// The sealed values the config references, bound to this revision;
    /// stored in the same transaction as the revision.
    pub secrets: Vec<crate::SealedSecret>,
    /// Server side or client side.
    pub delivery_mode: DeliveryMode,
    /// What changed.
    pub change_summary: Option<Description>,
    /// The author.
    pub created_by: UserId,
    /// Creation time; the template's `updated_at` becomes this too.
    pub created_at: OffsetDateTime,
    /// The revision it copies, for a restore.
    pub restored_from: Option<RevisionNumber>,
    /// When set, the template's latest revision number must be exactly this
    /// (0 for none) or the store refuses with `StaleRevision`.
    pub expected_latest: Option<u32>,
}

impl NewRevision {
    /// The revision this becomes as `template`'s revision `number` in `org`.
    #[must_use]
    pub fn numbered(self, org: &OrgId, template: TemplateId, number: RevisionNumber) -> Revision {
        Revision {
            id: self.id,
            template_id: template,
            org_id: org.clone(),
            number,
            config: self.config,
            delivery_mode: self.delivery_mode,
            change_summary: self.change_summary,
            created_by: self.created_by,
            created_at: self.created_at,
            restored_from: self.restored_from,
        }
    }
}

/// Changes to a template's metadata; `None` leaves a field as it is.
#[derive(Debug, Clone)]
pub struct TemplateChanges {
    /// A new name.
    pub name: Option<Name>,
    /// A new description; `Some(None)` clears it.
    pub description: Option<Option<Description>>,
    /// The new `updated_at`.
    pub updated_at: OffsetDateTime,
    /// When set, the template's current `updated_at` must be exactly this
    /// (the caller's `If-Match`) or the store refuses with `PreconditionFailed`.
    pub expected_updated_at: Option<OffsetDateTime>,
}

/// Which templates a list shows: all the org's live ones by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateFilter {
    /// Only those whose folded name holds this text.
    pub name: Option<NameQuery>,
    /// Only those of this vendor key (exactly).
    pub vendor: Option<String>,
}

impl TemplateFilter {
    /// Whether it shows every live template.
    pub const fn is_empty(&self) -> bool {
        self.name.is_none() && self.vendor.is_none()
    }
}

/// Which pipelines a list shows: all the org's live ones by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipelineFilter {
    /// Only those whose folded name holds this text.
    pub name: Option<NameQuery>,
}

impl PipelineFilter {
    /// Whether it shows every live pipeline.
    pub const fn is_empty(&self) -> bool {
        self.name.is_none()
    }
}

/// Templates and their revisions.
pub trait TemplateStore {
    /// Creates a template without revisions.
    ///
    /// # Errors
    /// `NameTaken` when a live template of the org has the same name
    /// case-insensitively; nothing is created then.
    fn create_template(
        &self,
        template: NewTemplate,
        change: Change<'_, Template>,
    ) -> StoreResult<Template>;

    /// Creates a template and its revision 1 in one transaction (an install
    /// from the catalog).
    ///
    /// # Errors
    /// `NameTaken` as for [`TemplateStore::create_template`]; nothing is created then.
    fn install(
        &self,
        template: NewTemplate,
        first_revision: NewRevision,
        change: Change<'_, (Template, Revision)>,
    ) -> StoreResult<(Template, Revision)>;

    /// One live template.
    ///
    /// # Errors
    /// `NotFound` when the org has no live template with that id.
    fn template(&self, org: &OrgId, id: TemplateId) -> StoreResult<Template>;

    /// A page of the org's live templates, newest first (ties by id,
    /// descending). Its `total` costs the same whatever the org's size.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn templates(&self, org: &OrgId, window: Window) -> StoreResult<ListPage<Template>> {
        self.find_templates(org, &TemplateFilter::default(), window)
    }

    /// A page of the org's live templates that `filter` keeps, newest first
    /// (ties by id, descending); a window that starts after a key starts
    /// after that position whatever filter the key came from. `total` is
    /// exact: how many templates the filter keeps. Unfiltered, it costs the
    /// same whatever the org's size; filtered, counting may read every live
    /// template of the org.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn find_templates(
        &self,
        org: &OrgId,
        filter: &TemplateFilter,
        window: Window,
    ) -> StoreResult<ListPage<Template>>;

    /// Changes a template's name and/or description.
    ///
    /// # Errors
    /// `NotFound` as for [`TemplateStore::template`]; `NameTaken` when the new
    /// name belongs to another live template of the org; `PreconditionFailed`
    /// when `expected_updated_at` is set and differs.
    fn update_template(
        &self,
        org: &OrgId,
        id: TemplateId,
        changes: TemplateChanges,
        audit: AuditEntry,
    ) -> StoreResult<Template>;

    /// Soft-deletes a template, unless a pipeline pins it — decided in the same
    /// transaction, so a concurrent attach cannot slip in between.
    ///
    /// # Errors
    /// `NotFound` as for [`TemplateStore::template`]; `TemplateInUse` naming
    /// the live pipelines that pin it (the first [`crate::MAX_PIPELINES_NAMED`]
    /// by name, the rest counted); `PreconditionFailed` when
    /// `expected_updated_at` is set and differs from the template's.
    fn delete_template(
        &self,
        org: &OrgId,
        id: TemplateId,
        at: OffsetDateTime,
        expected_updated_at: Option<OffsetDateTime>,
        audit: AuditEntry,
    ) -> StoreResult<()>;

    /// A page of the attachments of a live template, with their live
    /// pipelines: which pipelines use the template, at which revision. Newest
    /// attachment first (ties by id, descending).
    ///
    /// # Errors
    /// `NotFound` as for [`TemplateStore::template`].
    fn template_pins(
        &self,
        org: &OrgId,
        template: TemplateId,
        window: Window,
    ) -> StoreResult<ListPage<(crate::PipelineRef, Attachment)>>;

    /// Creates the template's next revision: number latest + 1, gapless under
    /// any concurrency, also across processes; sets the template's
    /// `updated_at` to the revision's `created_at`.
    ///
    /// # Errors
    /// `NotFound` as for [`TemplateStore::template`]; `StaleRevision` when
    /// `expected_latest` is set and differs from the current latest.
    fn create_revision(
        &self,
        org: &OrgId,
        template: TemplateId,
        revision: NewRevision,
        change: Change<'_, Revision>,
    ) -> StoreResult<Revision>;

    /// One revision of a live template, by number.
    ///
    /// # Errors
    /// `NotFound` when the template is not live in the org or has no such revision.
    fn revision(
        &self,
        org: &OrgId,
        template: TemplateId,
        number: RevisionNumber,
    ) -> StoreResult<Revision>;

    /// One revision of a live template, by its id.
    ///
    /// # Errors
    /// `NotFound` when the template is not live in the org or has no
    /// revision with that id.
    fn template_revision_by_id(
        &self,
        org: &OrgId,
        template: TemplateId,
        id: RevisionId,
    ) -> StoreResult<Revision>;

    /// A page of a live template's revisions, newest first; a window that
    /// starts after a number starts with the revision numbered just below it.
    ///
    /// # Errors
    /// `NotFound` as for [`TemplateStore::template`].
    fn revisions(
        &self,
        org: &OrgId,
        template: TemplateId,
        window: Window<u32>,
    ) -> StoreResult<ListPage<Revision>>;

    /// At most `limit` revisions of a template numbered below `below`, newest
    /// first: one batch of a keyset walk down a template's history.
    ///
    /// It does not look at whether the template is still live: revisions are
    /// immutable and numbered without gaps, so a walk that started from the
    /// latest number of a live template reads a consistent snapshot even if
    /// the template is deleted meanwhile. Revisions of another org are never
    /// returned.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn revisions_below(
        &self,
        org: &OrgId,
        template: TemplateId,
        below: u32,
        limit: u32,
    ) -> StoreResult<Vec<Revision>>;

    /// The newest revision of a live template, if it has any.
    ///
    /// # Errors
    /// `NotFound` as for [`TemplateStore::template`].
    fn latest_revision(&self, org: &OrgId, template: TemplateId) -> StoreResult<Option<Revision>>;
}

/// A pipeline to create.
#[derive(Debug, Clone)]
pub struct NewPipeline {
    /// Its id.
    pub id: PipelineId,
    /// The owning org.
    pub org_id: OrgId,
    /// Its name.
    pub name: Name,
    /// Free text.
    pub description: Option<Description>,
    /// Its parameters.
    pub parameters: Parameters,
    /// Its secret parameters: each key's version id.
    pub secret_parameters: SecretParameters,
    /// The sealed values those versions name, bound to this pipeline;
    /// stored in the same transaction as the pipeline.
    pub secrets: Vec<crate::SealedSecret>,
    /// Creation time; also its first `updated_at`.
    pub created_at: OffsetDateTime,
}

/// Changes to a pipeline; `None` leaves a field as it is.
#[derive(Debug, Clone)]
pub struct PipelineChanges {
    /// A new name.
    pub name: Option<Name>,
    /// A new description; `Some(None)` clears it.
    pub description: Option<Option<Description>>,
    /// New parameters, replacing the old ones whole.
    pub parameters: Option<Parameters>,
    /// New secret parameters, replacing the old ones whole, with the sealed
    /// values of the versions that are new. The store drops the sealed
    /// values of keys removed or given a new version, in the same transaction.
    pub secret_parameters: Option<(SecretParameters, Vec<crate::SealedSecret>)>,
    /// The new `updated_at`.
    pub updated_at: OffsetDateTime,
}

/// Pipelines.
pub trait PipelineStore {
    /// Creates a pipeline.
    ///
    /// # Errors
    /// `NameTaken` when a live pipeline of the org has the same name case-insensitively.
    fn create_pipeline(
        &self,
        pipeline: NewPipeline,
        change: Change<'_, Pipeline>,
    ) -> StoreResult<Pipeline>;

    /// One live pipeline.
    ///
    /// # Errors
    /// `NotFound` when the org has no live pipeline with that id.
    fn pipeline(&self, org: &OrgId, id: PipelineId) -> StoreResult<Pipeline>;

    /// A page of the org's live pipelines, newest first (ties by id,
    /// descending). Its `total` costs the same whatever the org's size.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn pipelines(&self, org: &OrgId, window: Window) -> StoreResult<ListPage<Pipeline>> {
        self.find_pipelines(org, &PipelineFilter::default(), window)
    }

    /// A page of the org's live pipelines that `filter` keeps, as
    /// [`TemplateStore::find_templates`] does for templates.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn find_pipelines(
        &self,
        org: &OrgId,
        filter: &PipelineFilter,
        window: Window,
    ) -> StoreResult<ListPage<Pipeline>>;

    /// Changes a pipeline.
    ///
    /// # Errors
    /// `NotFound` as for [`PipelineStore::pipeline`]; `NameTaken` as for create.
    fn update_pipeline(
        &self,
        org: &OrgId,
        id: PipelineId,
        changes: PipelineChanges,
        audit: AuditEntry,
    ) -> StoreResult<Pipeline>;

    /// Soft-deletes a pipeline and removes its attachments and the sealed
    /// values of its secret parameters, in one transaction that also records
    /// `audit` and, for each attachment it removes, the entry `detached`
    /// builds from that attachment.
    ///
    /// # Errors
    /// `NotFound` as for [`PipelineStore::pipeline`].
    fn delete_pipeline(
        &self,
        org: &OrgId,
        id: PipelineId,
        at: OffsetDateTime,
        audit: AuditEntry,
        detached: &dyn Fn(&Attachment) -> AuditEntry,
    ) -> StoreResult<()>;
}

/// An attachment to create.
#[derive(Debug, Clone)]
pub struct NewAttachment {
    /// Its id.
    pub id: AttachmentId,
    /// The template to pin.
    pub template_id: TemplateId,
    /// The revision of that template to pin it at.
    pub revision_id: RevisionId,
    /// Whether it starts enabled.
    pub enabled: bool,
    /// Creation time; also its first `updated_at`.
    pub created_at: OffsetDateTime,
    /// The most attachments the pipeline may have: the store refuses a new
    /// one with `LimitReached` when the pipeline has this many already.
    pub max_per_pipeline: u32,
}

/// Changes to an attachment; `None` leaves a field as it is.
#[derive(Debug, Clone)]
pub struct AttachmentChanges {
    /// Re-pin at this revision (of the same template).
    pub revision_id: Option<RevisionId>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// The new `updated_at`.
    pub updated_at: OffsetDateTime,
}

/// Pipeline integrations: templates pinned at a revision on a pipeline.
pub trait AttachmentStore {
    /// Pins a live template at one of its revisions on a live pipeline — in one
    /// transaction with the template's liveness check, so a concurrent delete
    /// cannot leave an attachment to a deleted template.
    ///
    /// # Errors
    /// `NotFound` when the pipeline is not live in the org;
    /// `UnknownReference { field: "integration_id" }` when the template is not
    /// live in the org; `UnknownReference { field: "revision_id" }` when the
    /// org has no such revision; `RevisionOfAnotherTemplate` when the revision
    /// belongs to another template; `AlreadyAttached` when the pipeline
    /// already pins the template; `LimitReached` when the pipeline already
    /// has `max_per_pipeline` attachments — counted after the pipeline's lock
    /// is taken, so two attaches racing for the last place cannot both win.
    fn attach(
        &self,
        org: &OrgId,
        pipeline: PipelineId,
        attachment: NewAttachment,
        change: Change<'_, Attachment>,
    ) -> StoreResult<Attachment>;

    /// One attachment of a live pipeline.
    ///
    /// # Errors
    /// `NotFound` when the pipeline is not live in the org or has no such attachment.
    fn attachment(
        &self,
        org: &OrgId,
        pipeline: PipelineId,
        id: AttachmentId,
    ) -> StoreResult<Attachment>;

    /// Every attachment of a live pipeline, newest first.
    ///
    /// # Errors
    /// `NotFound` when the pipeline is not live in the org.
    fn attachments(&self, org: &OrgId, pipeline: PipelineId) -> StoreResult<Vec<Attachment>>;

    /// Every attachment of a live pipeline with its pinned revision: what the
    /// pipeline's rendered config is made of.
    ///
    /// # Errors
    /// `NotFound` when the pipeline is not live in the org.
    fn attached_revisions(
        &self,
        org: &OrgId,
        pipeline: PipelineId,
    ) -> StoreResult<Vec<(Attachment, Revision)>>;

    /// Re-pins, enables or disables an attachment.
    ///
    /// # Errors
    /// `NotFound` as for [`AttachmentStore::attachment`];
    /// `UnknownReference { field: "revision_id" }` and
    /// `RevisionOfAnotherTemplate` as for [`AttachmentStore::attach`].
    fn update_attachment(
        &self,
        org: &OrgId,
        pipeline: PipelineId,
        id: AttachmentId,
        changes: AttachmentChanges,
        audit: AuditEntry,
    ) -> StoreResult<Attachment>;

    /// Removes an attachment.
    ///
    /// # Errors
    /// `NotFound` as for [`AttachmentStore::attachment`].
    fn detach(
        &self,
        org: &OrgId,
        pipeline: PipelineId,
        id: AttachmentId,
        audit: AuditEntry,
    ) -> StoreResult<()>;
}

/// The audit log: every change, written in the same transaction as the change.
pub trait AuditStore {
    /// A page of the org's audit records, newest first (ties by id,
    /// descending), optionally only those about `resource_id`. The `total`
    /// of the whole log costs the same whatever its size; filtered, it costs
    /// as much as the matching entries.
    ///
    /// # Errors
    /// Only `Unavailable` and `Unexpected`.
    fn audit_log(
        &self,
        org: &OrgId,
        resource_id: Option<&str>,
        window: Window,
    ) -> StoreResult<ListPage<AuditEntry>>;
}

/// The storage calls of one unit of work: every method of the store traits,
/// all run on **one** database connection (one pool checkout), in the order
/// they are called.
///
/// A use case opens a session with [`Store::session`], makes all its reads
/// and its change through it, and drops it, which gives the connection back.
/// A session adds no transaction of its own: reads see the database as it is
/// at each call, and each change is still one method running its own
/// transaction, with the guarantees this module's documentation lists. A
/// session is meant for one request on one thread; it is not `Sync`.
///
/// An adapter may repair a connection it finds broken at a session's first
/// statement (and retry that first call once on a fresh connection), but
/// never after a statement of the session has reached the database: a change
/// is never repeated.
pub trait StoreSession:
    TemplateStore
    + PipelineStore
    + AttachmentStore
    + AuditStore
    + crate::EventStore
    + crate::RolloutStore
    + crate::SealedValueStore
    + crate::KeyRotationStore
    + crate::HistoryStore
    + crate::IdempotencyStore
    + std::fmt::Debug
{
}

/// Everything the application needs from storage.
///
/// The store itself offers every method of a [`StoreSession`], each call on
/// a connection of its own (for work that spans requests or long streams);
/// a use case that makes several calls opens a [`Store::session`] instead,
/// so that a request takes one connection.
pub trait Store: StoreSession + Send + Sync {
    /// A unit of work: the calls made through it share one connection,
    /// checked out of the pool at the first call and given back when the
    /// session is dropped. Opening one costs nothing and cannot fail; its
    /// first call fails with `Unavailable` when no connection can be had.
    fn session(&self) -> Box<dyn StoreSession + '_>;

    /// Checks that the database answers (for readiness probes).
    ///
    /// # Errors
    /// `Unavailable` when it does not answer quickly.
    fn ping(&self) -> StoreResult<()>;
}
