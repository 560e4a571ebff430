//! The application's error type.
//!
//! # Error policy
//!
//! - `domain` returns small typed errors per rule (`TextError`, `ConfigProblem`…).
//! - `ports` define [`StoreError`], the contract of every storage adapter.
//! - `app` (this crate) turns both into [`AppError`]: one variant per outcome a
//!   client can act on, each mapping to exactly one HTTP status and error code
//!   in the `http` crate. Validation collects *every* problem into one
//!   [`AppError::Invalid`]; where a check stops listing (the domain lists at
//!   most [`MAX_PROBLEMS`](integrations_domain::MAX_PROBLEMS) config
//!   problems), a [`FieldProblem::truncated`] entry counts the rest. The
//!   `http` crate lists at most that many problems in a response, then one
//!   `truncated` entry with how many more there are.
//! - `Unavailable` and `Internal` carry their cause chain for the log; clients
//!   see only a fixed message.
//! - The binary uses `anyhow` for start-up failures, with context per step.

use integrations_domain::Action;
use integrations_ports::{AuthError, PipelineRef, StoreError};

/// "outer: inner: innermost": an error and its causes, for the log.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A boxed error with its source chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One invalid input value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field, as a JSON path from the request body (`name`, `config.pixel_id`).
    pub field: String,
    /// A short machine-readable code (`required`, `too_long`, `invalid_type`…).
    pub problem: &'static str,
    /// What is wrong, for humans (never a secret).
    pub message: String,
    /// For a [`FieldProblem::TRUNCATED`] entry: how many problems it stands
    /// for; 0 otherwise.
    pub more: usize,
}

impl FieldProblem {
    /// The code of an entry that stands for problems found but not listed.
    pub const TRUNCATED: &'static str = "truncated";

    /// A problem with `field`.
    pub fn new(
        field: impl Into<String>,
        problem: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            problem,
            message: message.into(),
            more: 0,
        }
    }

    /// Stands for `more` problems of `field` (and below) that a check found
    /// but did not list.
    pub fn truncated(field: impl Into<String>, more: usize) -> Self {
        Self {
            more,
            ..Self::new(
                field,
                Self::TRUNCATED,
                format!("{more} more problem(s) not listed"),
            )
        }
    }

    /// Whether this entry stands for problems not listed.
    pub fn is_truncated(&self) -> bool {
        self.problem == Self::TRUNCATED
    }
}

/// Which kind of object a name clash is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamedKind {
    /// An integration template.
    Template,
    /// A pipeline.
    Pipeline,
    /// An object whose kind the failing step did not say (a name clash no
    /// use case expected): still a 409, never a 500.
    Object,
}

fn name_taken(kind: NamedKind, name: &str) -> String {
    if name.is_empty() {
        format!("{} with this name already exists", kind.words())
    } else {
        format!("{} named '{name}' already exists", kind.words())
    }
}

impl NamedKind {
    /// The kind in words, with its article.
    pub fn words(self) -> &'static str {
        match self {
            Self::Template => "an integration template",
            Self::Pipeline => "a pipeline",
            Self::Object => "an object",
        }
    }
}

/// What a use case can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No valid bearer token.
    #[error(transparent)]
    Unauthenticated(#[from] AuthError),
    /// The caller's role does not permit the action.
    #[error("this action needs {}", .0.requirement())]
    Forbidden(Action),
    /// No such object in the caller's org.
    #[error("not found")]
    NotFound,
    /// Well-formed input with invalid values; every problem is listed.
    #[error("the request has {} invalid value(s)", .0.len())]
    Invalid(Vec<FieldProblem>),
    /// The name is used by another live object of the org.
    #[error("{}", name_taken(*.kind, .name))]
    NameTaken {
        /// What kind of object.
        kind: NamedKind,
        /// The name asked for (empty when the failing step did not say).
        name: String,
    },
    /// The template is pinned by pipelines.
    #[error("the integration template is still attached to {} pipeline(s); detach it first", .pipelines.len() + .more)]
    TemplateInUse {
        /// The first of them (at most [`integrations_ports::MAX_PIPELINES_NAMED`]).
        pipelines: Vec<PipelineRef>,
        /// How many more pin it.
        more: usize,
    },
    /// The template is already attached to the pipeline.
    #[error("the integration template is already attached to this pipeline")]
    AlreadyAttached,
    /// A per-object quota is full (`LIMIT_REACHED`): the change would add a
    /// thing past its limit.
    #[error("the limit of {limit} {what} is reached")]
    LimitReached {
        /// The request field or collection the limit is about (`integrations`).
        field: &'static str,
        /// What is limited, in words (`integrations per pipeline`).
        what: &'static str,
        /// The limit.
        limit: u32,
    },
    /// The feed no longer holds events just above the caller's cursor:
    /// they were pruned. Start again from a snapshot.
    #[error(
        "events after {after} were pruned; the oldest kept is {oldest}: read a snapshot and tail from its Event-Seq"
    )]
    CursorExpired {
        /// The cursor given.
        after: u64,
        /// The lowest number the feed still serves.
        oldest: u64,
    },
    /// A rollout cannot be applied: some of its pipelines have missing
    /// parameters or problems in their rendered configs.
    #[error(
        "the rollout is blocked: fix the problems its preview lists, or leave those pipelines out"
    )]
    RolloutBlocked {
        /// Each blocking pipeline with one of its problems (at most
        /// [`MAX_PROBLEMS`](integrations_domain::MAX_PROBLEMS)).
        problems: Vec<(
            integrations_domain::PipelineId,
            integrations_ports::RolloutProblem,
        )>,
        /// How many more were found.
        more: usize,
    },
    /// The instant asked for is older than the history kept for the org
    /// (`HISTORY_EXPIRED`).
    #[error("the history of configs is kept from {complete_from} on")]
    HistoryExpired {
        /// The oldest instant the org's history answers for.
        complete_from: time::OffsetDateTime,
    },
    /// The caller's view of the template is out of date.
    #[error("the latest revision is {latest}")]
    StaleRevision {
        /// The current latest revision number.
        latest: u32,
    },
    /// `If-Match` names a version the object no longer has.
    #[error("the integration template changed since the version in If-Match; re-read it and retry")]
    PreconditionFailed,
    /// A request with the same `Idempotency-Key` is still being processed.
    #[error("a request with this Idempotency-Key is still being processed; retry shortly")]
    IdempotencyInProgress,
    /// The `Idempotency-Key` was used for a different request.
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyKeyReused,
    /// A stored secret was sealed under a key this process does not have.
    #[error("a stored secret was sealed under the key '{kid}', which this server does not have")]
    KeyUnavailable {
        /// The key's id (never the value).
        kid: String,
    },
    /// The process runs as much of this kind of work as it allows at once
    /// (`RATE_LIMITED`, with `Retry-After`): retry shortly.
    #[error("too many {what} are running in this process; retry in {retry_after_seconds} s")]
    Busy {
        /// What is running, in words (`rollout previews and applies`).
        what: &'static str,
        /// How long to wait before retrying, in seconds.
        retry_after_seconds: u64,
    },
    /// The database cannot be reached now.
    #[error("the database is unavailable")]
    Unavailable(#[source] BoxError),
    /// A bug or a broken invariant.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

impl AppError {
    /// A single-field validation failure.
    pub fn invalid(
        field: impl Into<String>,
        problem: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::Invalid(vec![FieldProblem::new(field, problem, message)])
    }

    /// A store error where a name clash means `kind` named `name`.
    pub(crate) fn naming(kind: NamedKind, name: &str) -> impl FnOnce(StoreError) -> Self {
        move |err| match err {
            StoreError::NameTaken => Self::NameTaken {
                kind,
                name: name.to_owned(),
            },
            other => other.into(),
        }
    }
}

/// The one translation of the store's outcomes into the application's. It is
/// total and right on its own: a use case that knows more (which kind of
/// object a name clash is about, what a quota limits) refines an outcome
/// before it gets here, but one that forgets still answers with the right
/// status — only `Unexpected` becomes `Internal`.
impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound,
            StoreError::UnknownReference { field } => Self::invalid(
                field,
                "not_found",
                format!("{field} does not name an object of this organisation"),
            ),
            StoreError::RevisionOfAnotherTemplate => Self::invalid(
                "revision_id",
                "wrong_template",
                "revision_id is a revision of another integration template",
            ),
            StoreError::NameTaken => Self::NameTaken {
                kind: NamedKind::Object,
                name: String::new(),
            },
            // A use case names what the quota is about when it knows.
            StoreError::LimitReached { limit } => Self::LimitReached {
                field: "body",
                what: "items",
                limit,
            },
            StoreError::TemplateInUse { pipelines, more } => {
                Self::TemplateInUse { pipelines, more }
            }
            StoreError::AlreadyAttached => Self::AlreadyAttached,
            // The request lost its claim to a retry: that retry now owns the key.
            StoreError::ClaimLost => Self::IdempotencyInProgress,
            StoreError::StaleRevision { latest } => Self::StaleRevision { latest },
            StoreError::PreconditionFailed => Self::PreconditionFailed,
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            StoreError::Unexpected(cause) => Self::Internal(cause),
        }
    }
}

/// Collects every problem of an input before failing.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<FieldProblem>);

impl Problems {
    /// Records the error of `result` against `field`, returning the value if any.
    pub(crate) fn check<T, E: std::fmt::Display + Coded>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        result
            .map_err(|err| {
                self.0.push(FieldProblem::new(
                    field,
                    err.code(),
                    format!("{field} {err}"),
                ));
            })
            .ok()
    }

    pub(crate) fn push(&mut self, problem: FieldProblem) {
        self.0.push(problem);
    }

    /// Whether nothing was recorded yet.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when nothing was recorded.
    pub(crate) fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Invalid(self.0))
        }
    }
}

/// Errors with a short machine-readable code.
pub(crate) trait Coded {
    fn code(&self) -> &'static str;
}

impl Coded for integrations_domain::TextError {
    fn code(&self) -> &'static str {
        integrations_domain::TextError::code(*self)
    }
}

#[cfg(test)]
mod tests {
    use integrations_ports::{PipelineRef, StoreError};

    use super::AppError;

    /// One of each store outcome. The match has no wildcard: a new variant
    /// fails to compile here until the test covers it.
    fn every_store_error() -> Vec<StoreError> {
        let all = vec![
            StoreError::NotFound,
            StoreError::UnknownReference {
                field: "revision_id",
            },
            StoreError::RevisionOfAnotherTemplate,
            StoreError::NameTaken,
            StoreError::LimitReached { limit: 3 },
            StoreError::TemplateInUse {
                pipelines: Vec::<PipelineRef>::new(),
                more: 1,
            },
            StoreError::AlreadyAttached,
            StoreError::ClaimLost,
            StoreError::StaleRevision { latest: 2 },
            StoreError::PreconditionFailed,
            StoreError::Unavailable("down".into()),
            StoreError::Unexpected("bug".into()),
        ];
        for err in &all {
            match err {
                StoreError::NotFound
                | StoreError::UnknownReference { .. }
                | StoreError::RevisionOfAnotherTemplate
                | StoreError::NameTaken
                | StoreError::LimitReached { .. }
                | StoreError::TemplateInUse { .. }
                | StoreError::AlreadyAttached
                | StoreError::ClaimLost
                | StoreError::StaleRevision { .. }
                | StoreError::PreconditionFailed
                | StoreError::Unavailable(_)
                | StoreError::Unexpected(_) => {}
            }
        }
        all
    }

    #[test]
    fn only_an_unexpected_store_error_becomes_internal() {
        for err in every_store_error() {
            let unexpected = matches!(err, StoreError::Unexpected(_));
            let shown = format!("{err:?}");
            let app = AppError::from(err);
            assert_eq!(
                matches!(app, AppError::Internal(_)),
                unexpected,
                "{shown} became {app:?}"
            );
        }
    }

    #[test]
    fn an_unmapped_name_clash_is_a_name_clash() {
        let app = AppError::from(StoreError::NameTaken);
        assert!(matches!(app, AppError::NameTaken { .. }), "{app:?}");
        assert_eq!(app.to_string(), "an object with this name already exists");
        let app = AppError::from(StoreError::LimitReached { limit: 7 });
        assert!(
            matches!(app, AppError::LimitReached { limit: 7, .. }),
            "{app:?}"
        );
    }
}
