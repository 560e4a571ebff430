//! Fixtures shared by the contract tests.

use std::sync::atomic::{AtomicI64, Ordering};

use diesel::connection::SimpleConnection;
use diesel::sql_types::BigInt;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use integrations_domain::{
    AuditId, DeliveryMode, Description, Name, OrgId, Parameters, PipelineId, RevisionId,
    TemplateId, UserId,
};
use integrations_ports::{
    AuditAction, AuditEntry, NewPipeline, NewRevision, NewTemplate, ResourceType,
};
use integrations_store::{DatabaseUrl, DieselStore, PoolOptions};
use integrations_testing::{Backend, TestDb};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use ulid::Ulid;

pub fn store(db: &TestDb) -> DieselStore {
    let url = DatabaseUrl::parse(db.url()).expect("a valid test URL");
    DieselStore::open(&url, PoolOptions::for_url(&url)).expect("the store opens")
}

pub fn org(name: &str) -> OrgId {
    OrgId::parse(name).expect("a valid org id")
}

pub fn user() -> UserId {
    UserId::parse("user_123").expect("a valid user id")
}

pub fn name(text: &str) -> Name {
    Name::parse(text).expect("a valid name")
}

/// Distinct, increasing instants (one second apart), so "newest first" is testable.
pub fn tick() -> OffsetDateTime {
    static NEXT: AtomicI64 = AtomicI64::new(1_767_225_600); // 2026-01-01T00:00:00Z
    let seconds = NEXT.fetch_add(1, Ordering::Relaxed);
    OffsetDateTime::from_unix_timestamp(seconds).expect("a valid instant")
}

pub fn new_template(org_id: &OrgId, template_name: &str) -> NewTemplate {
    NewTemplate {
        id: TemplateId::from_ulid(Ulid::generate()),
        org_id: org_id.clone(),
        name: name(template_name),
        vendor: "meta_capi".into(),
        description: Some(Description::parse("for tests").expect("valid")),
        catalog_vendor_key: None,
        catalog_variant_key: None,
        created_at: tick(),
    }
}

pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

pub fn new_revision(config: Value) -> NewRevision {
    NewRevision {
        id: RevisionId::from_ulid(Ulid::generate()),
        config: object(config),
        secrets: Vec::new(),
        delivery_mode: DeliveryMode::ServerSide,
        change_summary: None,
        created_by: user(),
        created_at: tick(),
        restored_from: None,
        expected_latest: None,
    }
}

pub fn new_pipeline(org_id: &OrgId, pipeline_name: &str, parameters: Value) -> NewPipeline {
    NewPipeline {
        id: PipelineId::from_ulid(Ulid::generate()),
        org_id: org_id.clone(),
        name: name(pipeline_name),
        description: None,
        parameters: serde_json::from_value::<Parameters>(parameters).expect("valid parameters"),
        secret_parameters: integrations_domain::SecretParameters::new(),
        secrets: Vec::new(),
        created_at: tick(),
    }
}

/// A direct connection, for what the ports cannot do (raw SQL against invariants).
pub enum Raw {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl Raw {
    pub fn connect(db: &TestDb) -> Self {
        match db.backend() {
            Backend::Sqlite => {
                let path = db.url().trim_start_matches("sqlite://");
                let mut conn = SqliteConnection::establish(path).expect("raw SQLite connection");
                conn.batch_execute("PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;")
                    .expect("pragmas");
                Self::Sqlite(conn)
            }
            Backend::Postgres => Self::Postgres(
                PgConnection::establish(db.url()).expect("raw PostgreSQL connection"),
            ),
        }
    }

    pub fn execute(&mut self, sql: &str) -> Result<(), diesel::result::Error> {
        match self {
            Self::Sqlite(conn) => conn.batch_execute(sql),
            Self::Postgres(conn) => conn.batch_execute(sql),
        }
    }

    /// The single number `sql` selects as `n`.
    pub fn count(&mut self, sql: &str) -> i64 {
        let query = diesel::sql_query(sql);
        let rows: Vec<Count> = match self {
            Self::Sqlite(conn) => query.load(conn),
            Self::Postgres(conn) => query.load(conn),
        }
        .expect("count query");
        rows.first().map(|c| c.n).expect("one row")
    }
}

/// An audit entry for a change made by a test.
/// The audit entry of a new revision of `template`, as the application
/// makes it (the store adds the number).
pub fn revision_audit(template: TemplateId, revision: &NewRevision) -> AuditEntry {
    AuditEntry {
        action: AuditAction::RevisionCreate,
        resource_type: ResourceType::Template,
        resource_id: template.to_string(),
        new_value: Some(serde_json::json!({
            "id": revision.id.to_string(),
            "config": revision.config,
            "delivery_mode": revision.delivery_mode.as_str(),
            "change_summary": null,
            "restored_from": null,
        })),
        ..audit()
    }
}

pub fn audit() -> AuditEntry {
    AuditEntry {
        id: AuditId::from_ulid(Ulid::generate()),
        org: org("org_a"),
        actor: user(),
        action: AuditAction::TemplateCreate,
        resource_type: ResourceType::Template,
        resource_id: "test".into(),
        old_value: None,
        new_value: Some(serde_json::json!({ "k": 1 })),
        at: tick(),
    }
}
