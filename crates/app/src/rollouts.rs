//! Rollouts (docs/api.md, "Rollouts"): re-pin many pipelines of a template
//! in one step — previewed with each pipeline's rendered config checked
//! against the vendor's fields and diffed, applied all or nothing, rolled back
//! as a rollout of its own.

use std::collections::{BTreeMap, BTreeSet};

use integrations_domain::catalog::Vendor;
use integrations_domain::diff::diff_rendered;
use integrations_domain::substitution::{Plan, RenderError, RenderLimits};
use integrations_domain::{
    Action, Attachment, AttachmentId, Caller, Description, MAX_PROBLEMS, ParamKey, ParamValue,
    Parameters, Pipeline, PipelineId, Revision, RevisionId, RevisionNumber, RolloutId, Template,
    WithSecrets, secrets, validate_rendered,
};
use integrations_ports::{
    ApplyRollout, AuditAction, AuditEntry, FoundPin, ListPage, Newest, PinStatus, ResourceType,
    Rollout, RolloutPipeline, RolloutProblem, RolloutStatus, RolloutWrite, StoreError,
    StoreSession, Window,
};
use serde_json::{Value, json};

use crate::audit::{Subject, attachment_value};
use crate::diff_budget::DiffBudget;
use crate::error::{AppError, FieldProblem};
use crate::idempotency::{Idempotent, Outcome, Replay};
use crate::render::plain_in_secret_fields;
use crate::revisions::vendor_of;
use crate::secret_parameters::OpenedSecrets;
use crate::templates::parse_template_id;
use crate::versioning::expected_latest;
use crate::{App, authorize};

/// The most pipelines one rollout moves (see docs/decisions.md): a preview
/// renders each twice, and an apply holds all their pins in one transaction.
pub const MAX_ROLLOUT_PIPELINES: usize = 500;

/// The most bytes of `config_diff` one rollout shows, all pipelines
/// together: 8 MiB. From the first diff that does not fit on, no diff is
/// computed and each pipeline's is `null`.
pub const MAX_ROLLOUT_DIFF_BYTES: usize = 8 * 1024 * 1024;

/// The input of "roll a template out".
#[derive(Debug, Clone, Default)]
pub struct StartRollout {
    /// The revision to move pipelines to (`rev_…`).
    pub revision_id: String,
    /// The pipelines to move; by default every pipeline pinning the template
    /// at a lower revision.
    pub pipeline_ids: Option<Vec<String>>,
    /// Preview only.
    pub dry_run: bool,
    /// Why, for the record.
    pub note: Option<String>,
}

/// A revision ready to render for any pipeline, compiled twice: its config
/// opened (secrets in clear: what is checked and, masked, shown), and as
/// stored (each secret its sealed reference: what a diff compares, so that
/// no plaintext is ever compared).
struct Compiled {
    number: u32,
    id: RevisionId,
    plan: Plan,
    identity: Plan,
}

/// A pipeline's config rendered twice: in clear (checked, diffed, never
/// shown) and masked (what a diff shows).
struct Renders {
    clear: Value,
    masked: Value,
}

/// A rollout as it would run now, with what its apply needs: the target
/// revision's id, and each target pipeline's version (`updated_at`) as the
/// checks saw it.
struct Preview {
    rollout: Rollout,
    to: RevisionId,
    seen: Vec<(PipelineId, time::OffsetDateTime)>,
}

/// A render that could not happen, as a row reports it.
enum Unrendered {
    Missing(Vec<String>),
    Problem(RolloutProblem),
}

fn problem(field: &str, code: &str, message: impl Into<String>) -> RolloutProblem {
    RolloutProblem {
        field: field.to_owned(),
        problem: code.to_owned(),
        message: message.into(),
    }
}

pub(crate) fn parse_rollout_id(raw: &str) -> Result<RolloutId, AppError> {
    RolloutId::parse(raw).map_err(|_| AppError::NotFound)
}

impl App {
    /// Previews (`dry_run`) or applies a rollout of `template`: finds the
    /// template (viewer and above), then reads `input`; an apply needs an
    /// editor. Which of the two is asked for is in the body, so a caller who
    /// may not apply has `input` read first: an apply it may not make is
    /// refused (403) before the template is looked up. A stale `If-Match`
    /// is refused before the preview runs (and again, atomically, by the
    /// apply's transaction).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; what `input` fails with; `Invalid` for a bad
    /// `revision_id`, `pipeline_ids` naming a pipeline that does not pin the
    /// template, no target at all, too many, or a bad `note`;
    /// `RolloutBlocked` when an apply has a pipeline with missing
    /// parameters or problems; `StaleRevision` for an out-of-date `If-Match`;
    /// `Busy` when the process runs [`MAX_ROLLOUTS_AT_ONCE`] previews and
    /// applies already.
    ///
    /// [`MAX_ROLLOUTS_AT_ONCE`]: crate::MAX_ROLLOUTS_AT_ONCE
    pub fn start_rollout<E: From<AppError>>(
        &self,
        caller: &Caller,
        template: &str,
        if_match: Option<&str>,
        input: impl FnOnce() -> Result<StartRollout, E>,
        request: Option<Idempotent<'_, Rollout, E>>,
    ) -> Result<Outcome<Rollout>, E> {
        let store = self.store.session();
        let (template, input) = if caller.can(Action::Edit) {
            let template = Self::find_template(&*store, caller, Action::Browse, template)?;
            (template, input()?)
        } else {
            authorize(caller, Action::Browse)?;
            let input = input()?;
            if !input.dry_run {
                return Err(AppError::Forbidden(Action::Edit).into());
            }
            let template = Self::find_template(&*store, caller, Action::Browse, template)?;
            (template, input)
        };
        if input.dry_run {
            // Nothing is stored, so there is nothing for a key to replay.
            let _slot = self.rollout_slot()?;
            let preview = self.preview(&*store, caller, &template, &input)?;
            return Ok(Outcome::Done(preview.rollout));
        }
        authorize(caller, Action::Edit)?;
        self.idempotently(&*store, caller, request, |replay| {
            // Stale already as read: refused before the preview's work.
            let expected = expected_latest(&template, if_match)?;
            if expected.is_some_and(|number| number != template.latest_revision) {
                return Err(AppError::StaleRevision {
                    latest: template.latest_revision,
                }
                .into());
            }
            let _slot = self.rollout_slot()?;
            let preview = self.preview(&*store, caller, &template, &input)?;
            blocked(&preview.rollout)?;
            Ok(self.apply(&*store, caller, &preview, expected, replay)?)
        })
    }

    /// A rollout as it would run now, with the id of its target revision.
    fn preview(
        &self,
        store: &dyn StoreSession,
        caller: &Caller,
        template: &Template,
        input: &StartRollout,
    ) -> Result<Preview, AppError> {
        let vendor = vendor_of(template)?;
        let note = input
            .note
            .as_deref()
            .map(Description::parse)
            .transpose()
            .map_err(|err| AppError::invalid("note", "invalid_value", format!("note {err}")))?;
        let revision_id = RevisionId::parse(&input.revision_id).map_err(|err| {
            AppError::invalid("revision_id", "not_found", format!("revision_id: {err}"))
        })?;
        let to = match store.template_revision_by_id(&caller.org, template.id, revision_id) {
            Err(StoreError::NotFound) => {
                return Err(AppError::invalid(
                    "revision_id",
                    "not_found",
                    "revision_id names no revision of this template",
                ));
            }
            found => found?,
        };
        let mut targets =
            Self::targets(store, caller, template, &to, input.pipeline_ids.as_deref())?;
        let to_number = to.number.get();
        let mut budget = DiffBudget::new(MAX_ROLLOUT_DIFF_BYTES);
        let mut rows = Vec::with_capacity(targets.len());
        let mut seen = Vec::with_capacity(targets.len());
        let to = self.compile(store, caller, vendor, to)?;
        // One revision compiled at a time besides the target: the targets
        // grouped by the revision they are at.
        targets.sort_by_key(|pin| (pin.revision_number, pin.pipeline_id));
        let mut from: Option<(u32, Option<Compiled>)> = None;
        for pin in &targets {
            let number = pin.revision_number.get();
            if from.as_ref().is_none_or(|(at, _)| *at != number) {
                // The previous group's revision goes before the next is read.
                drop(from.take());
                let revision = store.revision(&caller.org, template.id, pin.revision_number)?;
                // A revision that cannot be opened (a key this process
                // lacks) only costs its pipelines their diff.
                let compiled = match self.compile(store, caller, vendor, revision) {
                    Ok(compiled) => Some(compiled),
                    Err(AppError::KeyUnavailable { .. }) => None,
                    Err(err) => return Err(err),
                };
                from = Some((number, compiled));
            }
            let pipeline = store.pipeline(&caller.org, pin.pipeline_id)?;
            seen.push((pipeline.id, pipeline.updated_at));
            let current = from.as_ref().and_then(|(_, compiled)| compiled.as_ref());
            rows.push(self.preview_row(
                store,
                vendor,
                &pipeline,
                number,
                current,
                &to,
                &mut budget,
            )?);
        }
        drop(from);
        rows.sort_by_key(|row| row.pipeline_id);
        seen.sort_by_key(|(id, _)| *id);
        let rollout = Rollout {
            id: RolloutId::from_ulid(self.ids.ulid()),
            template_id: template.id,
            to_revision: Some(to_number),
            status: RolloutStatus::Preview,
            note: note.map(|n| n.as_str().to_owned()),
            created_by: caller.user.clone(),
            created_at: self.clock.now(),
            rolled_back_from: None,
            pipelines: rows,
        };
        Ok(Preview {
            rollout,
            to: to.id,
            seen,
        })
    }

    /// The pins to move: those `named` (each must pin the template), read
    /// by their ids; by default every pin of the template at a revision
    /// lower than `to`, walked page by page.
    fn targets(
        store: &dyn StoreSession,
        caller: &Caller,
        template: &Template,
        to: &Revision,
        named: Option<&[String]>,
    ) -> Result<Vec<Attachment>, AppError> {
        let found = match named {
            Some(named) => Self::named_pins(store, caller, template, named)?,
            None => Self::pins_behind(store, caller, template, to)?,
        };
        if found.is_empty() {
            return Err(AppError::invalid(
                "pipeline_ids",
                "no_targets",
                format!(
                    "every pipeline that pins this template is at revision {} or later: \
                     name pipeline_ids to move any of them",
                    to.number.get()
                ),
            ));
        }
        Ok(found)
    }

    /// The pins of the pipelines `named`, once each; every name that is not
    /// a pipeline pinning the template is a problem.
    fn named_pins(
        store: &dyn StoreSession,
        caller: &Caller,
        template: &Template,
        named: &[String],
    ) -> Result<Vec<Attachment>, AppError> {
        if named.is_empty() {
            return Err(AppError::invalid(
                "pipeline_ids",
                "empty",
                "pipeline_ids names no pipeline: leave it out to move every pipeline behind",
            ));
        }
        if named.len() > MAX_ROLLOUT_PIPELINES {
            return Err(too_many());
        }
        let parsed: Vec<Option<PipelineId>> = named
            .iter()
            .map(|raw| PipelineId::parse(raw).ok())
            .collect();
        let mut ids: Vec<PipelineId> = parsed.iter().flatten().copied().collect();
        ids.sort_unstable();
        ids.dedup();
        let pins = store.pins_on(&caller.org, template.id, &ids)?;
        let pinned: BTreeSet<PipelineId> = pins.iter().map(|pin| pin.pipeline_id).collect();
        let problems: Vec<FieldProblem> = parsed
            .iter()
            .enumerate()
            .filter(|(_, id)| id.is_none_or(|id| !pinned.contains(&id)))
            .map(|(i, _)| {
                FieldProblem::new(
                    format!("pipeline_ids[{i}]"),
                    "not_attached",
                    "not a pipeline that pins this template",
                )
            })
            .collect();
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        Ok(pins)
    }

    /// Every pin of the template at a revision lower than `to` (at most
    /// [`MAX_ROLLOUT_PIPELINES`]).
    fn pins_behind(
        store: &dyn StoreSession,
        caller: &Caller,
        template: &Template,
        to: &Revision,
    ) -> Result<Vec<Attachment>, AppError> {
        const PAGE: u32 = 500;
        let mut found = Vec::new();
        let mut window = Window::from(integrations_domain::Page::default());
        window.limit = PAGE;
        loop {
            let page = store.template_pins(&caller.org, template.id, window.clone())?;
            let last = page.items.last().map(|(_, pin)| Newest {
                created_at: pin.created_at,
                id: pin.id.to_string(),
            });
            found.extend(
                page.items
                    .into_iter()
                    .map(|(_, pin)| pin)
                    .filter(|pin| pin.revision_number < to.number),
            );
            if found.len() > MAX_ROLLOUT_PIPELINES {
                return Err(too_many());
            }
            match (page.more, last) {
                (true, Some(key)) => window = Window::after(PAGE, key),
                _ => return Ok(found),
            }
        }
    }

    /// A revision's config opened and compiled, ready to render for any pipeline.
    fn compile(
        &self,
        store: &dyn StoreSession,
        caller: &Caller,
        vendor: &Vendor,
        revision: Revision,
    ) -> Result<Compiled, AppError> {
        let identity = Plan::compile(Value::Object(revision.config.clone()));
        let opened =
            self.opened_config(store, &caller.org, vendor, revision.id, revision.config)?;
        Ok(Compiled {
            number: revision.number.get(),
            id: revision.id,
            plan: Plan::compile(Value::Object(opened)),
            identity,
        })
    }

    /// One pipeline of a preview: rendered at both revisions, the target
    /// checked, the two diffed while `budget` is not spent.
    #[expect(clippy::too_many_arguments, reason = "one row's inputs, each needed")]
    fn preview_row(
        &self,
        store: &dyn StoreSession,
        vendor: &Vendor,
        pipeline: &Pipeline,
        from_number: u32,
        from: Option<&Compiled>,
        to: &Compiled,
        budget: &mut DiffBudget,
    ) -> Result<RolloutPipeline, AppError> {
        let secret = self.open_secret_parameters(store, pipeline)?;
        let mut row = RolloutPipeline {
            pipeline_id: pipeline.id,
            pipeline_name: pipeline.name.as_str().to_owned(),
            from_revision: from_number,
            to_revision: to.number,
            status: PinStatus::Ready,
            current_revision: None,
            missing_parameters: Vec::new(),
            problems: Vec::new(),
            config_diff: None,
        };
        let target = match render_both(vendor, pipeline, &secret, &to.plan) {
            Ok(target) => target,
            Err(Unrendered::Missing(mut keys)) => {
                // At most 100 listed; the rest counted.
                let more = keys.len().saturating_sub(MAX_PROBLEMS);
                keys.truncate(MAX_PROBLEMS);
                row.missing_parameters = keys;
                if more > 0 {
                    row.problems.push(problem(
                        "pipeline_param",
                        FieldProblem::TRUNCATED,
                        format!("{more} more missing parameter(s) not listed"),
                    ));
                }
                row.status = PinStatus::Blocked;
                return Ok(row);
            }
            Err(Unrendered::Problem(problem)) => {
                row.problems.push(problem);
                row.status = PinStatus::Blocked;
                return Ok(row);
            }
        };
        if let Err(found) = validate_rendered(vendor, &target.clear) {
            row.problems = found
                .iter()
                .map(|p| problem(&p.path.to_string(), p.problem.code(), p.problem.to_string()))
                .collect();
            if found.more() > 0 {
                row.problems.push(problem(
                    "config",
                    FieldProblem::TRUNCATED,
                    format!("{} more problem(s) not listed", found.more()),
                ));
            }
            row.status = PinStatus::Blocked;
        }
        if budget.spent() {
            // Past the budget no diff is shown: none is computed.
            return Ok(row);
        }
        // Which values change is decided on the configs with every secret
        // standing for its identity (a sealed reference, a secret
        // parameter's version), never its text: a diff is no oracle for a
        // guessed credential. The current config may not render (a
        // parameter removed since): then there is nothing to diff against.
        let identities = identities(pipeline);
        let current = from.map(|from| render_identity(pipeline, &identities, &from.identity));
        let target_identity = render_identity(pipeline, &identities, &to.identity);
        if let (Some(Ok(current)), Ok(target_identity)) = (current, target_identity) {
            let patch = diff_rendered(&current, &target_identity, &target.masked);
            row.config_diff = budget.take(&patch)?;
        }
        Ok(row)
    }

    /// Applies a checked preview: one transaction, moving each target from
    /// whatever revision it has by then.
    fn apply(
        &self,
        store: &dyn StoreSession,
        caller: &Caller,
        preview: &Preview,
        expected_latest: Option<u32>,
        replay: Replay<'_, Rollout>,
    ) -> Result<Rollout, AppError> {
        let apply = ApplyRollout {
            template_id: preview.rollout.template_id,
            pipelines: preview
                .rollout
                .pipelines
                .iter()
                .map(|p| p.pipeline_id)
                .collect(),
            expected_latest,
        };
        let to = preview.to;
        let to_number = preview.rollout.to_revision.unwrap_or_default();
        let mut changed = Vec::new();
        let mut decide = |found: Vec<FoundPin>| {
            let mut rollout = preview.rollout.clone();
            rollout.status = RolloutStatus::Applied;
            let mut moves = Vec::new();
            let mut audit = Vec::new();
            for ((row, pin), (_, checked)) in
                rollout.pipelines.iter_mut().zip(found).zip(&preview.seen)
            {
                if pin.pipeline_updated_at.is_some_and(|now| now != *checked) {
                    // Checked with parameters it no longer has.
                    changed.push(row.pipeline_id);
                    continue;
                }
                if let Some(attachment) = pin.attachment {
                    let had = attachment.revision_number.get();
                    if had != row.from_revision {
                        // Re-pinned since the preview: moved all the same,
                        // but the diff shown was from another revision.
                        row.from_revision = had;
                        row.config_diff = None;
                    }
                    row.status = PinStatus::Moved;
                    moves.push((attachment.id, to));
                    audit.push(self.repin_audit(caller, &attachment, to, to_number));
                } else {
                    row.status = PinStatus::Skipped;
                    row.current_revision = None;
                }
            }
            if !changed.is_empty() {
                return Err(StoreError::PreconditionFailed);
            }
            Ok(self.write(caller, rollout, moves, audit, AuditAction::RolloutApply))
        };
        let applied = store.apply_rollout(&caller.org, &apply, &mut decide, replay);
        if !changed.is_empty() {
            let problems = changed
                .iter()
                .map(|pipeline| {
                    (
                        *pipeline,
                        problem(
                            "pipeline",
                            "changed",
                            "the pipeline changed while the rollout was being checked: apply again",
                        ),
                    )
                })
                .collect();
            return Err(AppError::RolloutBlocked { problems, more: 0 });
        }
        Ok(applied?)
    }

    /// Rolls a rollout back: each of its pipelines still at the revision the
    /// rollout left it at returns to the revision it came from; the others
    /// are left alone and reported as skipped. Never blocked by problems: it
    /// returns to what ran before. Recorded as a rollout of its own.
    ///
    /// # Errors
    /// `Forbidden` below editor; `NotFound` for an unknown template or
    /// rollout, or a rollout of another template.
    pub fn roll_back<E: From<AppError>>(
        &self,
        caller: &Caller,
        template: &str,
        rollout: &str,
        request: Option<Idempotent<'_, Rollout, E>>,
    ) -> Result<Outcome<Rollout>, E> {
        let store = self.store.session();
        let template = Self::find_template(&*store, caller, Action::Edit, template)?;
        let undone = store
            .rollout(&caller.org, parse_rollout_id(rollout)?)
            .map_err(AppError::from)?;
        self.idempotently(&*store, caller, request, |replay| {
            Ok(self.undo(&*store, caller, &template, &undone, replay)?)
        })
    }

    fn undo(
        &self,
        store: &dyn StoreSession,
        caller: &Caller,
        template: &Template,
        undone: &Rollout,
        replay: Replay<'_, Rollout>,
    ) -> Result<Rollout, AppError> {
        if undone.template_id != template.id {
            return Err(AppError::NotFound);
        }
        let returning: Vec<&RolloutPipeline> = undone
            .pipelines
            .iter()
            .filter(|row| row.status == PinStatus::Moved)
            .collect();
        // The revisions to return to, by number.
        let mut back: BTreeMap<u32, RevisionId> = BTreeMap::new();
        for row in &returning {
            if let (std::collections::btree_map::Entry::Vacant(slot), Some(number)) = (
                back.entry(row.from_revision),
                RevisionNumber::new(row.from_revision),
            ) {
                slot.insert(store.revision(&caller.org, template.id, number)?.id);
            }
        }
        let apply = ApplyRollout {
            template_id: template.id,
            pipelines: returning.iter().map(|row| row.pipeline_id).collect(),
            expected_latest: None,
        };
        let mut decide = |found: Vec<FoundPin>| {
            let mut rows = Vec::with_capacity(found.len());
            let mut moves = Vec::new();
            let mut audit = Vec::new();
            for (row, pin) in returning.iter().zip(found) {
                let mut entry = RolloutPipeline {
                    from_revision: row.to_revision,
                    to_revision: row.from_revision,
                    status: PinStatus::Skipped,
                    current_revision: None,
                    missing_parameters: Vec::new(),
                    problems: Vec::new(),
                    config_diff: None,
                    ..(*row).clone()
                };
                match (pin.attachment, back.get(&row.from_revision)) {
                    (Some(attachment), Some(&revision))
                        if attachment.revision_number.get() == row.to_revision =>
                    {
                        entry.status = PinStatus::Moved;
                        moves.push((attachment.id, revision));
                        audit.push(self.repin_audit(
                            caller,
                            &attachment,
                            revision,
                            row.from_revision,
                        ));
                    }
                    (attachment, _) => {
                        entry.current_revision = attachment.map(|a| a.revision_number.get());
                    }
                }
                rows.push(entry);
            }
            let rollout = Rollout {
                id: RolloutId::from_ulid(self.ids.ulid()),
                template_id: template.id,
                to_revision: None,
                status: RolloutStatus::Applied,
                note: None,
                created_by: caller.user.clone(),
                created_at: self.clock.now(),
                rolled_back_from: Some(undone.id),
                pipelines: rows,
            };
            Ok(self.write(caller, rollout, moves, audit, AuditAction::RolloutRollback))
        };
        Ok(store.apply_rollout(&caller.org, &apply, &mut decide, replay)?)
    }

    /// One stored rollout of a template.
    ///
    /// # Errors
    /// `Forbidden` for the `service` role; `NotFound`.
    pub fn rollout(
        &self,
        caller: &Caller,
        template: &str,
        rollout: &str,
    ) -> Result<Rollout, AppError> {
        let store = self.store.session();
        let template = Self::find_template(&*store, caller, Action::Browse, template)?.id;
        let found = store.rollout(&caller.org, parse_rollout_id(rollout)?)?;
        if found.template_id != template {
            return Err(AppError::NotFound);
        }
        Ok(found)
    }

    /// A page of the org's rollouts, or of one template's (which must be
    /// live when named in the path), newest first.
    ///
    /// # Errors
    /// `Forbidden` for the `service` role; `NotFound` for an unknown
    /// template in the path; what `window` fails with.
    pub fn rollouts<E: From<AppError>>(
        &self,
        caller: &Caller,
        template: Option<&str>,
        window: impl FnOnce() -> Result<(Window, Option<String>), E>,
    ) -> Result<ListPage<Rollout>, E> {
        let store = self.store.session();
        authorize(caller, Action::Browse)?;
        let mut template_id = match template {
            Some(id) => Some(Self::find_template(&*store, caller, Action::Browse, id)?.id),
            None => None,
        };
        let (window, filter) = window()?;
        if let Some(raw) = filter {
            if raw.len() > 128 || raw.chars().any(char::is_control) {
                return Err(AppError::invalid(
                    "template_id",
                    "invalid_value",
                    "template_id must be a template id (at most 128 characters, no control characters)",
                )
                .into());
            }
            // An unknown or malformed template id matches nothing.
            match parse_template_id(&raw) {
                Ok(id) => template_id = Some(id),
                Err(_) => {
                    return Ok(ListPage {
                        items: Vec::new(),
                        total: 0,
                        more: false,
                    });
                }
            }
        }
        Ok(store
            .rollouts(&caller.org, template_id, window)
            .map_err(AppError::from)?)
    }

    /// What a rollout writes: its own audit entry first, then its pins'.
    /// It is dated by its own entry, made after every pin's, so a config
    /// asked for at the rollout's instant includes its moves.
    fn write(
        &self,
        caller: &Caller,
        mut rollout: Rollout,
        moves: Vec<(AttachmentId, RevisionId)>,
        mut audit: Vec<AuditEntry>,
        action: AuditAction,
    ) -> RolloutWrite {
        let own = self.rollout_audit(caller, &rollout, action);
        rollout.created_at = own.at;
        audit.insert(0, own);
        RolloutWrite {
            rollout,
            moves,
            audit,
        }
    }

    fn repin_audit(
        &self,
        caller: &Caller,
        attachment: &Attachment,
        to: RevisionId,
        to_number: u32,
    ) -> AuditEntry {
        let mut new = attachment_value(attachment);
        new["revision_id"] = to.to_string().into();
        new["revision_number"] = to_number.into();
        self.audit_entry(
            caller,
            Subject {
                action: AuditAction::AttachmentRepin,
                resource_type: ResourceType::Attachment,
                resource_id: attachment.id.to_string(),
            },
            Some(attachment_value(attachment)),
            Some(new),
        )
    }

    fn rollout_audit(&self, caller: &Caller, rollout: &Rollout, action: AuditAction) -> AuditEntry {
        let pipelines: Vec<Value> = rollout
            .pipelines
            .iter()
            .map(|row| {
                json!({
                    "pipeline_id": row.pipeline_id.to_string(), "from_revision": row.from_revision,
                    "to_revision": row.to_revision, "status": row.status.as_str(),
                    "current_revision": row.current_revision,
                })
            })
            .collect();
        let moved = rollout
            .pipelines
            .iter()
            .filter(|row| row.status == PinStatus::Moved)
            .count();
        self.audit_entry(
            caller,
            Subject {
                action,
                resource_type: ResourceType::Rollout,
                resource_id: rollout.id.to_string(),
            },
            None,
            Some(json!({
                "id": rollout.id.to_string(), "template_id": rollout.template_id.to_string(),
                "to_revision": rollout.to_revision, "note": rollout.note,
                "rolled_back_from": rollout.rolled_back_from.map(|id| id.to_string()),
                "moved": moved, "pipelines": pipelines,
            })),
        )
    }
}

fn too_many() -> AppError {
    AppError::invalid(
        "pipeline_ids",
        "too_many",
        format!(
            "a rollout moves at most {MAX_ROLLOUT_PIPELINES} pipelines: name them in batches with pipeline_ids"
        ),
    )
}

/// `RolloutBlocked` listing every blocking pipeline and problem (the first
/// [`MAX_PROBLEMS`], then a count), or nothing when every row is ready.
fn blocked(preview: &Rollout) -> Result<(), AppError> {
    let mut problems = Vec::new();
    for row in &preview.pipelines {
        for key in &row.missing_parameters {
            problems.push((
                row.pipeline_id,
                problem(
                    &format!("pipeline_param.{key}"),
                    "missing_parameter",
                    format!("the pipeline defines no parameter '{key}'"),
                ),
            ));
        }
        for found in &row.problems {
            problems.push((row.pipeline_id, found.clone()));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let more = problems.len().saturating_sub(MAX_PROBLEMS);
    problems.truncate(MAX_PROBLEMS);
    Err(AppError::RolloutBlocked { problems, more })
}

/// The pipeline's secret parameters as their identities: each stands for
/// its key and version, never its value.
fn identities(pipeline: &Pipeline) -> Parameters {
    let mut identities = Parameters::new();
    for (key, version) in pipeline.secret_parameters.iter() {
        identities.insert(
            key.clone(),
            ParamValue::String(format!("secret parameter {key}, version {version}")),
        );
    }
    identities
}

/// A revision's stored config (secrets as sealed references) rendered for
/// `pipeline` with its secret parameters as `identities`: the config with
/// every secret standing for which value it is, never for what it says.
fn render_identity(
    pipeline: &Pipeline,
    identities: &Parameters,
    plan: &Plan,
) -> Result<Value, RenderError> {
    let lookup = WithSecrets {
        plain: &pipeline.parameters,
        secret: identities,
    };
    let limits = RenderLimits::new(RenderLimits::DEFAULT_MAX_OUTPUT_BYTES);
    Ok(plan.render_with(&lookup, limits)?.into_owned())
}

/// A revision's plan rendered for `pipeline`, in clear and masked as any
/// role but `service` would see it.
fn render_both(
    vendor: &Vendor,
    pipeline: &Pipeline,
    secret: &OpenedSecrets,
    plan: &Plan,
) -> Result<Renders, Unrendered> {
    if let Some(kid) = secret.unavailable_among(plan.keys()) {
        return Err(Unrendered::Problem(problem(
            "config",
            "key_unavailable",
            format!(
                "a secret parameter is sealed under the key '{kid}', which this server does not have"
            ),
        )));
    }
    let lookup = WithSecrets {
        plain: &pipeline.parameters,
        secret: &secret.values,
    };
    let limits = RenderLimits::new(RenderLimits::DEFAULT_MAX_OUTPUT_BYTES);
    let clear = plan
        .render_with(&lookup, limits)
        .map_err(unrendered)?
        .into_owned();
    let warnings = plain_in_secret_fields(vendor, pipeline, plan);
    let hidden = |key: &ParamKey| {
        pipeline.secret_parameters.contains(key.as_str())
            || warnings.iter().any(|w| w.parameter == key.as_str())
    };
    let mut masked = plan
        .render_masked_with(&lookup, limits, hidden)
        .map_err(unrendered)?
        .into_owned();
    if let Value::Object(members) = &mut masked {
        secrets::mask(vendor, members);
    }
    Ok(Renders { clear, masked })
}

fn unrendered(err: RenderError) -> Unrendered {
    match err {
        RenderError::Missing(missing) => {
            Unrendered::Missing(missing.keys().map(|k| k.as_str().to_owned()).collect())
        }
        RenderError::TooLarge { size, limit } => Unrendered::Problem(problem(
            "config",
            "too_large",
            format!("the rendered config would be {size} bytes, over the limit of {limit}"),
        )),
    }
}
