//! In-memory fakes of the ports, for testing `app`'s own logic: a fixed
//! clock, sequential ids, a token table, a transparent cipher, and a store
//! that keeps templates, revisions, their sealed values, audit entries and
//! idempotency keys in a `Mutex`.
//!
//! The store is deliberately small: it honours the documented `# Errors` of
//! the methods it implements (`NotFound`, `NameTaken`, `StaleRevision`,
//! `PreconditionFailed`, `ClaimLost`) and answers every other method with
//! `Unexpected`, so a use case that reaches one fails loudly rather than
//! seeing made-up data. Storage itself — transactions, concurrency, SQL — is
//! tested against real SQLite and PostgreSQL in `crates/store/tests`, never
//! here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use integrations_app::{Adapters, App, AppError, CreateTemplate, Outcome};
use integrations_domain::{
    Attachment, AttachmentId, Caller, OrgId, Pipeline, PipelineId, Revision, RevisionId,
    RevisionNumber, Role, RolloutId, Template, TemplateId, UserId,
};
use integrations_ports::{
    ApplyRollout, AttachmentChanges, AttachmentStore, AuditEntry, AuditStore, AuthError, Binding,
    Change, CipherError, Claim, ClaimedKey, Clock, Decide, Envelope, Event, EventStore,
    IdGenerator, IdempotencyScope, IdempotencyStore, KeyCount, KeyRotationStore, LegacyRevision,
    ListPage, NewAttachment, NewPipeline, NewRevision, NewTemplate, PipelineChanges,
    PipelineFilter, PipelineRef, PipelineStore, Respond, Rollout, RolloutStore, SealPlace,
    SealedSecret, SealedValueStore, SecretCipher, Store, StoreError, StoreResult, StoreSession,
    StoredResponse, StoredSeal, TemplateChanges, TemplateFilter, TemplateStore, TokenVerifier,
    VerifiedToken, Window,
};
use time::OffsetDateTime;
use ulid::Ulid;

/// The instant [`FixedClock`] always answers: 2026-01-01T00:00:00Z.
pub const NOW: OffsetDateTime = time::macros::datetime!(2026-01-01 00:00 UTC);

/// A clock that never moves.
#[derive(Debug)]
pub struct FixedClock(pub OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

/// Ids 1, 2, 3… as ULIDs, so a test knows which id the next object gets.
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl SequentialIds {
    /// The `n`th id this generator hands out (from 1).
    pub fn nth(n: u64) -> Ulid {
        Ulid::from(u128::from(n))
    }
}

impl IdGenerator for SequentialIds {
    fn ulid(&self) -> Ulid {
        Self::nth(self.0.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

/// Tokens that are simply the role's name, in org `org_a` for user `u_<role>`;
/// anything else is invalid.
#[derive(Debug)]
pub struct RoleTokens;

impl TokenVerifier for RoleTokens {
    fn verify_token(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        let role = match token {
            "owner" => Role::Owner,
            "admin" => Role::Admin,
            "editor" => Role::Editor,
            "viewer" => Role::Viewer,
            "service" => Role::Service,
            "expired" => return Err(AuthError::Expired),
            _ => return Err(AuthError::Invalid("not a test token".into())),
        };
        Ok(VerifiedToken {
            caller: caller("org_a", &format!("u_{token}"), role),
            expires_at: NOW + time::Duration::hours(1),
        })
    }
}

/// A caller of `org` with `role`.
pub fn caller(org: &str, user: &str, role: Role) -> Caller {
    Caller {
        org: OrgId::parse(org).expect("an org id"),
        user: UserId::parse(user).expect("a user id"),
        role,
    }
}

/// "Seals" by tagging the plaintext with its place, so a value opened for
/// another place is refused as the real cipher would refuse it. Not secret.
#[derive(Debug)]
pub struct TransparentCipher;

fn place(binding: &Binding<'_>) -> String {
    format!(
        "{}/{}/{}{}@{}",
        binding.org, binding.owner_kind, binding.owner_id, binding.field_path, binding.version
    )
}

impl SecretCipher for TransparentCipher {
    fn seal(&self, plaintext: &str, binding: &Binding<'_>) -> Result<Envelope, CipherError> {
        Ok(Envelope {
            kid: "test".to_owned(),
            ciphertext: format!("{}|{plaintext}", place(binding)),
        })
    }

    fn open(&self, envelope: &Envelope, binding: &Binding<'_>) -> Result<String, CipherError> {
        if envelope.kid != "test" {
            return Err(CipherError::UnknownKey(envelope.kid.clone()));
        }
        let (at, plaintext) = envelope
            .ciphertext
            .split_once('|')
            .ok_or(CipherError::Malformed)?;
        if at == place(binding) {
            Ok(plaintext.to_owned())
        } else {
            Err(CipherError::Tampered)
        }
    }

    fn open_legacy(&self, _sealed: &str) -> Result<String, CipherError> {
        Err(CipherError::NotSealed)
    }

    fn key_ids(&self) -> Vec<String> {
        vec!["test".to_owned()]
    }
}

/// An idempotency key's record.
#[derive(Debug, Clone)]
struct KeyRecord {
    fingerprint: String,
    token: String,
    done: Option<StoredResponse>,
}

/// What the in-memory store holds.
#[derive(Debug, Default)]
pub struct State {
    /// Live templates (the fake does not soft-delete).
    pub templates: Vec<Template>,
    /// Every revision.
    pub revisions: Vec<Revision>,
    /// Sealed values, by owning revision.
    pub sealed: Vec<(RevisionId, SealedSecret)>,
    /// Every audit entry written, in order.
    pub audit: Vec<AuditEntry>,
    keys: HashMap<(String, String, String), KeyRecord>,
    claims: u64,
    /// Idempotency-key calls made on the store itself rather than through
    /// a session: each would be a connection of its own.
    pub key_calls_outside_a_session: u64,
}

/// The in-memory store. Clones share their state; a session is a clone.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    /// Whether this is a session (a unit of work) rather than the store.
    in_session: bool,
}

impl MemoryStore {
    /// The state, to arrange or inspect it.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("the fake's lock")
    }

    /// Records the response of a change with an idempotency key, as the real
    /// store does in the change's transaction.
    fn record<T>(state: &mut State, change: &Change<'_, T>, outcome: &T) -> StoreResult<()> {
        if let Some((claimed, response)) = change.response(outcome) {
            let record = state
                .keys
                .get_mut(&scope_key(&claimed.scope))
                .filter(|record| record.token == claimed.token && record.done.is_none())
                .ok_or(StoreError::ClaimLost)?;
            record.done = Some(response);
        }
        state.audit.push(change.audit.clone());
        Ok(())
    }
}

fn scope_key(scope: &IdempotencyScope) -> (String, String, String) {
    (
        scope.org.to_string(),
        scope.user.to_string(),
        scope.key.clone(),
    )
}

fn not_in_the_fake<T>(method: &str) -> StoreResult<T> {
    Err(StoreError::Unexpected(
        format!("{method} is not implemented by the in-memory fake").into(),
    ))
}

fn live<'a>(state: &'a mut State, org: &OrgId, id: TemplateId) -> StoreResult<&'a mut Template> {
    state
        .templates
        .iter_mut()
        .find(|t| t.id == id && &t.org_id == org)
        .ok_or(StoreError::NotFound)
}

fn name_taken(state: &State, org: &OrgId, key: &str, except: Option<TemplateId>) -> bool {
    state
        .templates
        .iter()
        .any(|t| &t.org_id == org && Some(t.id) != except && t.name.unique_key() == key)
}

/// A fresh application over the fakes, and the store to inspect.
pub fn app() -> (App, MemoryStore) {
    let store = MemoryStore::default();
    let app = App::new(Adapters {
        store: Arc::new(store.clone()),
        tokens: Arc::new(RoleTokens),
        cipher: Arc::new(TransparentCipher),
        clock: Arc::new(FixedClock(NOW)),
        ids: Arc::new(SequentialIds::default()),
    });
    (app, store)
}

impl TemplateStore for MemoryStore {
    fn create_template(
        &self,
        new: NewTemplate,
        change: Change<'_, Template>,
    ) -> StoreResult<Template> {
        let mut state = self.state();
        if name_taken(&state, &new.org_id, &new.name.unique_key(), None) {
            return Err(StoreError::NameTaken);
        }
        let template = Template {
            id: new.id,
            org_id: new.org_id,
            name: new.name,
            vendor: new.vendor,
            description: new.description,
            catalog_vendor_key: new.catalog_vendor_key,
            catalog_variant_key: new.catalog_variant_key,
            latest_revision: 0,
            created_at: new.created_at,
            updated_at: new.created_at,
        };
        Self::record(&mut state, &change, &template)?;
        state.templates.push(template.clone());
        Ok(template)
    }

    fn install(
        &self,
        _template: NewTemplate,
        _first_revision: NewRevision,
        _change: Change<'_, (Template, Revision)>,
    ) -> StoreResult<(Template, Revision)> {
        not_in_the_fake("install")
    }

    fn template(&self, org: &OrgId, id: TemplateId) -> StoreResult<Template> {
        live(&mut self.state(), org, id).map(|t| t.clone())
    }

    fn find_templates(
        &self,
        _org: &OrgId,
        _filter: &TemplateFilter,
        _window: Window,
    ) -> StoreResult<ListPage<Template>> {
        not_in_the_fake("find_templates")
    }

    fn update_template(
        &self,
        org: &OrgId,
        id: TemplateId,
        changes: TemplateChanges,
        audit: AuditEntry,
    ) -> StoreResult<Template> {
        let mut state = self.state();
        let current = live(&mut state, org, id)?.clone();
        if changes
            .expected_updated_at
            .is_some_and(|expected| expected != current.updated_at)
        {
            return Err(StoreError::PreconditionFailed);
        }
        let clash = changes
            .name
            .as_ref()
            .is_some_and(|name| name_taken(&state, org, &name.unique_key(), Some(id)));
        if clash {
            return Err(StoreError::NameTaken);
        }
        let template = live(&mut state, org, id)?;
        if let Some(name) = changes.name {
            template.name = name;
        }
        if let Some(description) = changes.description {
            template.description = description;
        }
        template.updated_at = changes.updated_at;
        let template = template.clone();
        state.audit.push(audit);
        Ok(template)
    }

    fn delete_template(
        &self,
        _org: &OrgId,
        _id: TemplateId,
        _at: OffsetDateTime,
        _expected_updated_at: Option<OffsetDateTime>,
        _audit: AuditEntry,
    ) -> StoreResult<()> {
        not_in_the_fake("delete_template")
    }

    fn template_pins(
        &self,
        _org: &OrgId,
        _template: TemplateId,
        _window: Window,
    ) -> StoreResult<ListPage<(PipelineRef, Attachment)>> {
        not_in_the_fake("template_pins")
    }

    fn create_revision(
        &self,
        org: &OrgId,
        template: TemplateId,
        mut new: NewRevision,
        change: Change<'_, Revision>,
    ) -> StoreResult<Revision> {
        let mut state = self.state();
        let latest = live(&mut state, org, template)?.latest_revision;
        if new
            .expected_latest
            .is_some_and(|expected| expected != latest)
        {
            return Err(StoreError::StaleRevision { latest });
        }
        let number = RevisionNumber::new(latest + 1)
            .ok_or_else(|| StoreError::Unexpected("no next revision number".into()))?;
        let secrets = std::mem::take(&mut new.secrets);
        let revision = new.numbered(org, template, number);
        Self::record(&mut state, &change, &revision)?;
        let owner = live(&mut state, org, template)?;
        owner.latest_revision = number.get();
        owner.updated_at = revision.created_at;
        state
            .sealed
            .extend(secrets.into_iter().map(|secret| (revision.id, secret)));
        state.revisions.push(revision.clone());
        Ok(revision)
    }

    fn revision(
        &self,
        org: &OrgId,
        template: TemplateId,
        number: RevisionNumber,
    ) -> StoreResult<Revision> {
        let mut state = self.state();
        live(&mut state, org, template)?;
        state
            .revisions
            .iter()
            .find(|r| r.template_id == template && r.number == number)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    fn template_revision_by_id(
        &self,
        org: &OrgId,
        template: TemplateId,
        id: RevisionId,
    ) -> StoreResult<Revision> {
        let mut state = self.state();
        live(&mut state, org, template)?;
        state
            .revisions
            .iter()
            .find(|r| r.template_id == template && r.id == id)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    fn revisions(
        &self,
        _org: &OrgId,
        _template: TemplateId,
        _window: Window<u32>,
    ) -> StoreResult<ListPage<Revision>> {
        not_in_the_fake("revisions")
    }

    fn revisions_below(
        &self,
        _org: &OrgId,
        _template: TemplateId,
        _below: u32,
        _limit: u32,
    ) -> StoreResult<Vec<Revision>> {
        not_in_the_fake("revisions_below")
    }

    fn latest_revision(&self, org: &OrgId, template: TemplateId) -> StoreResult<Option<Revision>> {
        let mut state = self.state();
        let latest = live(&mut state, org, template)?.latest_revision;
        Ok(state
            .revisions
            .iter()
            .find(|r| r.template_id == template && r.number.get() == latest)
            .cloned())
    }
}

impl PipelineStore for MemoryStore {
    fn create_pipeline(
        &self,
        _pipeline: NewPipeline,
        _change: Change<'_, Pipeline>,
    ) -> StoreResult<Pipeline> {
        not_in_the_fake("create_pipeline")
    }

    fn pipeline(&self, _org: &OrgId, _id: PipelineId) -> StoreResult<Pipeline> {
        not_in_the_fake("pipeline")
    }

    fn find_pipelines(
        &self,
        _org: &OrgId,
        _filter: &PipelineFilter,
        _window: Window,
    ) -> StoreResult<ListPage<Pipeline>> {
        not_in_the_fake("find_pipelines")
    }

    fn update_pipeline(
        &self,
        _org: &OrgId,
        _id: PipelineId,
        _changes: PipelineChanges,
        _audit: AuditEntry,
    ) -> StoreResult<Pipeline> {
        not_in_the_fake("update_pipeline")
    }

    fn delete_pipeline(
        &self,
        _org: &OrgId,
        _id: PipelineId,
        _at: OffsetDateTime,
        _audit: AuditEntry,
        _detached: &dyn Fn(&Attachment) -> AuditEntry,
    ) -> StoreResult<()> {
        not_in_the_fake("delete_pipeline")
    }
}

impl AttachmentStore for MemoryStore {
    fn attach(
        &self,
        _org: &OrgId,
        _pipeline: PipelineId,
        _attachment: NewAttachment,
        _change: Change<'_, Attachment>,
    ) -> StoreResult<Attachment> {
        not_in_the_fake("attach")
    }

    fn attachment(
        &self,
        _org: &OrgId,
        _pipeline: PipelineId,
        _id: AttachmentId,
    ) -> StoreResult<Attachment> {
        not_in_the_fake("attachment")
    }

    fn attachments(&self, _org: &OrgId, _pipeline: PipelineId) -> StoreResult<Vec<Attachment>> {
        not_in_the_fake("attachments")
    }

    fn attached_revisions(
        &self,
        _org: &OrgId,
        _pipeline: PipelineId,
    ) -> StoreResult<Vec<(Attachment, Revision)>> {
        not_in_the_fake("attached_revisions")
    }

    fn update_attachment(
        &self,
        _org: &OrgId,
        _pipeline: PipelineId,
        _id: AttachmentId,
        _changes: AttachmentChanges,
        _audit: AuditEntry,
    ) -> StoreResult<Attachment> {
        not_in_the_fake("update_attachment")
    }

    fn detach(
        &self,
        _org: &OrgId,
        _pipeline: PipelineId,
        _id: AttachmentId,
        _audit: AuditEntry,
    ) -> StoreResult<()> {
        not_in_the_fake("detach")
    }
}

impl AuditStore for MemoryStore {
    fn audit_log(
        &self,
        _org: &OrgId,
        _resource_id: Option<&str>,
        _window: Window,
    ) -> StoreResult<ListPage<AuditEntry>> {
        not_in_the_fake("audit_log")
    }
}

impl SealedValueStore for MemoryStore {
    fn revision_secrets(
        &self,
        org: &OrgId,
        revisions: &[RevisionId],
    ) -> StoreResult<Vec<(RevisionId, SealedSecret)>> {
        let state = self.state();
        let of_org = |id: &RevisionId| {
            state
                .revisions
                .iter()
                .any(|r| r.id == *id && &r.org_id == org)
        };
        Ok(state
            .sealed
            .iter()
            .filter(|(id, _)| revisions.contains(id) && of_org(id))
            .cloned()
            .collect())
    }

    fn pipeline_secrets(
        &self,
        _org: &OrgId,
        _pipeline: PipelineId,
    ) -> StoreResult<Vec<SealedSecret>> {
        not_in_the_fake("pipeline_secrets")
    }
}

impl integrations_ports::HistoryStore for MemoryStore {
    fn pipeline_at(
        &self,
        _org: &OrgId,
        _pipeline: PipelineId,
        _at: OffsetDateTime,
    ) -> StoreResult<integrations_ports::HistoryAnswer> {
        not_in_the_fake("pipeline_at")
    }

    fn revision_by_id(&self, _org: &OrgId, _revision: RevisionId) -> StoreResult<Revision> {
        not_in_the_fake("revision_by_id")
    }

    fn history_secrets(
        &self,
        _org: &OrgId,
        _pipeline: PipelineId,
    ) -> StoreResult<Vec<SealedSecret>> {
        not_in_the_fake("history_secrets")
    }
}

impl KeyRotationStore for MemoryStore {
    fn sealed_counts(&self, _org: Option<&OrgId>) -> StoreResult<Vec<KeyCount>> {
        not_in_the_fake("sealed_counts")
    }

    fn sealed_not_under(
        &self,
        _kid: &str,
        _after: Option<&SealPlace>,
        _limit: usize,
    ) -> StoreResult<Vec<StoredSeal>> {
        not_in_the_fake("sealed_not_under")
    }

    fn history_sealed_not_under(
        &self,
        _kid: &str,
        _after: Option<&StoredSeal>,
        _limit: usize,
    ) -> StoreResult<Vec<StoredSeal>> {
        not_in_the_fake("history_sealed_not_under")
    }

    fn reseal_history(&self, _changes: &[(StoredSeal, Envelope)]) -> StoreResult<u64> {
        not_in_the_fake("reseal_history")
    }

    fn reseal(&self, _changes: &[(StoredSeal, Envelope)]) -> StoreResult<u64> {
        not_in_the_fake("reseal")
    }

    fn legacy_revisions(
        &self,
        _after: Option<RevisionId>,
        _limit: usize,
    ) -> StoreResult<Vec<LegacyRevision>> {
        not_in_the_fake("legacy_revisions")
    }

    fn adopt_sealed(
        &self,
        _org: &OrgId,
        _revision: RevisionId,
        _secrets: &[SealedSecret],
        _at: OffsetDateTime,
    ) -> StoreResult<u64> {
        not_in_the_fake("adopt_sealed")
    }
}

impl IdempotencyStore for MemoryStore {
    /// Keys never expire or get abandoned here: a test's clock does not move.
    fn claim_key(
        &self,
        scope: &IdempotencyScope,
        fingerprint: &str,
        _now: OffsetDateTime,
        _expired_before: OffsetDateTime,
        _abandoned_before: OffsetDateTime,
    ) -> StoreResult<Claim> {
        let mut state = self.state();
        state.key_calls_outside_a_session += u64::from(!self.in_session);
        state.claims += 1;
        let token = format!("claim-{}", state.claims);
        let claim = match state.keys.get(&scope_key(scope)) {
            None => {
                state.keys.insert(
                    scope_key(scope),
                    KeyRecord {
                        fingerprint: fingerprint.to_owned(),
                        token: token.clone(),
                        done: None,
                    },
                );
                Claim::Fresh { token }
            }
            Some(record) if record.fingerprint != fingerprint => Claim::Mismatch,
            Some(KeyRecord {
                done: Some(response),
                ..
            }) => Claim::Done(response.clone()),
            Some(_) => Claim::InFlight,
        };
        Ok(claim)
    }

    fn complete_key(&self, claimed: &ClaimedKey, response: &StoredResponse) -> StoreResult<()> {
        let mut state = self.state();
        state.key_calls_outside_a_session += u64::from(!self.in_session);
        let record = state
            .keys
            .get_mut(&scope_key(&claimed.scope))
            .filter(|record| record.token == claimed.token && record.done.is_none())
            .ok_or(StoreError::ClaimLost)?;
        record.done = Some(response.clone());
        Ok(())
    }

    fn release_key(&self, claimed: &ClaimedKey) -> StoreResult<()> {
        let mut state = self.state();
        state.key_calls_outside_a_session += u64::from(!self.in_session);
        let key = scope_key(&claimed.scope);
        if state
            .keys
            .get(&key)
            .is_some_and(|record| record.token == claimed.token && record.done.is_none())
        {
            state.keys.remove(&key);
        }
        Ok(())
    }

    fn purge_keys(&self, _before: OffsetDateTime) -> StoreResult<u64> {
        self.state().key_calls_outside_a_session += u64::from(!self.in_session);
        Ok(0)
    }
}

/// The fake keeps no change feed: these tests are about other use cases
/// (the feed is tested against real databases, in the server's suite).
impl EventStore for MemoryStore {
    fn events_after(&self, _org: &OrgId, _after: u64, _limit: u32) -> StoreResult<Vec<Event>> {
        Ok(Vec::new())
    }

    fn last_seqs(&self, _orgs: &[OrgId]) -> StoreResult<Vec<(OrgId, u64)>> {
        Ok(Vec::new())
    }

    fn prune_events(&self, _before: OffsetDateTime, _batch: u32) -> StoreResult<u64> {
        Ok(0)
    }
}

/// Rollouts are not kept by this fake (the storage contract and API tests
/// cover them on both real databases).
impl RolloutStore for MemoryStore {
    fn apply_rollout(
        &self,
        _org: &OrgId,
        _apply: &ApplyRollout,
        _decide: &mut Decide<'_>,
        _replay: Option<(&ClaimedKey, Respond<'_, Rollout>)>,
    ) -> StoreResult<Rollout> {
        not_in_the_fake("apply_rollout")
    }

    fn pins_on(
        &self,
        _org: &OrgId,
        _template: TemplateId,
        _pipelines: &[PipelineId],
    ) -> StoreResult<Vec<Attachment>> {
        not_in_the_fake("pins_on")
    }

    fn rollout(&self, _org: &OrgId, _id: RolloutId) -> StoreResult<Rollout> {
        not_in_the_fake("rollout")
    }

    fn rollouts(
        &self,
        _org: &OrgId,
        _template: Option<TemplateId>,
        _window: Window,
    ) -> StoreResult<ListPage<Rollout>> {
        not_in_the_fake("rollouts")
    }
}

impl StoreSession for MemoryStore {}

impl Store for MemoryStore {
    fn session(&self) -> Box<dyn StoreSession + '_> {
        Box::new(Self {
            state: Arc::clone(&self.state),
            in_session: true,
        })
    }

    fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}

/// The answer of a use case run without an idempotency key.
pub fn done<T>(outcome: Outcome<T>) -> T {
    match outcome {
        Outcome::Done(answer) => answer,
        Outcome::Replayed(stored) => {
            panic!("no key was sent, yet a response was replayed: {stored:?}")
        }
    }
}

/// Creates a template without an idempotency key.
pub fn create_template(
    app: &App,
    caller: &Caller,
    input: CreateTemplate,
) -> Result<Template, AppError> {
    app.create_template(caller, || Ok(input), None).map(done)
}
