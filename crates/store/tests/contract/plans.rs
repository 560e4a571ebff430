//! PostgreSQL's plans for what the store actually runs. Every statement a
//! lookup by id or a list sends is recorded (Diesel's instrumentation), then
//! prepared again on a direct connection and explained as a **generic** plan
//! (`plan_cache_mode = force_generic_plan`): the plan a prepared statement
//! gets after a few executions, made without the parameters' values. Beside a
//! big org (20,000 templates, 20,000 audit entries, 5,000 pipelines and
//! attachments) and thousands of other orgs, each lookup must go by its key
//! and each list by its index — never a sequential scan, never a scan of an
//! org's rows through the name index.

use std::cell::RefCell;

use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection as _};
use diesel::{Connection as _, PgConnection, QueryableByName, RunQueryDsl as _};
use integrations_domain::Page;
use integrations_ports::{
    AttachmentChanges, AttachmentStore, AuditStore, Newest, PipelineChanges, PipelineStore,
    TemplateChanges, TemplateStore, Window,
};
use integrations_testing::TestDb;
use serde_json::json;

use crate::attachments::attach_new;
use crate::support::{audit, new_pipeline, new_revision, new_template, org, store, tick};

thread_local! {
    /// The statements this thread's connections sent while recording.
    static RECORDED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// Records the SQL of each statement sent, on the thread that sends it.
struct Recorder;

impl Instrumentation for Recorder {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            let text = query.to_string();
            RECORDED.with(|recorded| {
                if let Some(statements) = recorded.borrow_mut().as_mut() {
                    statements.push(text);
                }
            });
        }
    }
}

/// The SELECT, UPDATE, DELETE and INSERT statements `work` sent, without their binds.
fn recorded(work: impl FnOnce()) -> Vec<String> {
    RECORDED.with(|recorded| *recorded.borrow_mut() = Some(Vec::new()));
    work();
    RECORDED
        .with(|recorded| recorded.borrow_mut().take())
        .unwrap_or_default()
        .into_iter()
        .map(|text| match text.split_once(" -- binds: ") {
            Some((sql, _)) => sql.to_owned(),
            None => text,
        })
        .filter(|sql| {
            ["SELECT", "UPDATE", "DELETE", "INSERT"]
                .iter()
                .any(|verb| sql.trim_start().starts_with(verb))
        })
        .collect()
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
    line: String,
}

/// The generic plan of `sql` (parameters `$1…$n`), as `EXPLAIN` prints it.
fn generic_plan(conn: &mut PgConnection, sql: &str) -> String {
    let params = (1..=64)
        .take_while(|n| sql.contains(&format!("${n}")))
        .count();
    conn.batch_execute(&format!(
        "SET plan_cache_mode = force_generic_plan; PREPARE probe AS {sql}"
    ))
    .unwrap_or_else(|err| panic!("PREPARE {sql}: {err}"));
    let nulls = vec!["NULL"; params].join(", ");
    let explain = if params == 0 {
        "EXPLAIN EXECUTE probe".to_owned()
    } else {
        format!("EXPLAIN EXECUTE probe({nulls})")
    };
    let lines: Vec<PlanLine> = diesel::sql_query(explain)
        .load(conn)
        .unwrap_or_else(|err| panic!("EXPLAIN {sql}: {err}"));
    conn.batch_execute("DEALLOCATE probe").expect("deallocated");
    lines
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One org with many rows, thousands of orgs with a few, counted. The tables
/// are not analysed yet (autovacuum off for them): the state of a new
/// database, where PostgreSQL plans without statistics.
const BIG_ORG: &str = "
ALTER TABLE templates SET (autovacuum_enabled = false);
ALTER TABLE revisions SET (autovacuum_enabled = false);
ALTER TABLE pipelines SET (autovacuum_enabled = false);
ALTER TABLE attachments SET (autovacuum_enabled = false);
ALTER TABLE audit_log SET (autovacuum_enabled = false);
ALTER TABLE org_counts SET (autovacuum_enabled = false);
INSERT INTO templates (id, org_id, name, name_key, vendor, latest_revision, created_at, updated_at)
SELECT 'tmpl_big' || lpad(g::text, 23, '0'), 'org_big', 't' || g, 't' || g, 'webhook', 1,
       timestamp '2026-01-01' + g * interval '1 second', timestamp '2026-01-01' + g * interval '1 second'
FROM generate_series(1, 20000) g;
INSERT INTO templates (id, org_id, name, name_key, vendor, latest_revision, created_at, updated_at)
SELECT 'tmpl_few' || lpad(g::text, 23, '0'), 'org_f' || g, 't', 't', 'webhook', 0, now(), now()
FROM generate_series(1, 3000) g;
INSERT INTO revisions (id, template_id, org_id, revision_number, config, delivery_mode, created_by, created_at)
SELECT 'rev_big' || lpad(g::text, 24, '0'), 'tmpl_big' || lpad(g::text, 23, '0'), 'org_big', 1, '{}',
       'server_side', 'u', timestamp '2026-01-01' + g * interval '1 second'
FROM generate_series(1, 20000) g;
INSERT INTO pipelines (id, org_id, name, name_key, parameters, created_at, updated_at)
SELECT 'pip_big' || lpad(g::text, 24, '0'), 'org_big', 'p' || g, 'p' || g, '{}',
       timestamp '2026-01-01' + g * interval '1 second', timestamp '2026-01-01' + g * interval '1 second'
FROM generate_series(1, 5000) g;
INSERT INTO attachments (id, org_id, pipeline_id, template_id, revision_id, enabled, created_at, updated_at)
SELECT 'pi_big' || lpad(g::text, 26, '0'), 'org_big', 'pip_big' || lpad(g::text, 24, '0'),
       'tmpl_big' || lpad((g % 100 + 1)::text, 23, '0'), 'rev_big' || lpad((g % 100 + 1)::text, 24, '0'),
       true, timestamp '2026-01-01' + g * interval '1 second', timestamp '2026-01-01' + g * interval '1 second'
FROM generate_series(1, 5000) g;
INSERT INTO audit_log (id, org_id, actor, action, resource_type, resource_id, created_at)
SELECT 'log_big' || lpad(g::text, 24, '0'), 'org_big', 'u', 'template.create', 'template',
       'tmpl_big' || lpad((g % 20000 + 1)::text, 23, '0'), timestamp '2026-01-01' + g * interval '1 second'
FROM generate_series(1, 20000) g;
INSERT INTO org_counts (org_id, stripe, live_templates, live_pipelines, audit_entries)
SELECT 'org_f' || g, s, 1, 0, 1 FROM generate_series(1, 3000) g, generate_series(0, 3) s;
INSERT INTO org_counts (org_id, stripe, live_templates, live_pipelines, audit_entries)
VALUES ('org_big', 0, 20000, 5000, 20000);
";

/// Checks every plan of `statements`: no sequential scan, no scan through
/// an index that serves names (nor, for a lookup, one that serves lists), and
/// `wanted` in at least one. Adds what is wrong to `problems`.
fn check_plans(
    conn: &mut PgConnection,
    (what, wanted, statements): &(&str, &str, Vec<String>),
    forbidden: &[&str],
    problems: &mut Vec<String>,
) {
    if statements.is_empty() {
        problems.push(format!("{what}: nothing recorded"));
    }
    let mut seen = false;
    for sql in statements {
        let plan = generic_plan(conn, sql);
        for bad in forbidden.iter().chain(&["Seq Scan", "_live_name"]) {
            if plan.contains(bad) {
                problems.push(format!("{what}: {bad} in the plan of\n{sql}\n{plan}"));
            }
        }
        seen |= plan.contains(wanted);
    }
    if !seen {
        problems.push(format!("{what}: no plan uses {wanted}: {statements:#?}"));
    }
}

#[expect(clippy::too_many_lines, reason = "one lookup or list after another")]
#[test]
fn postgres_generic_plans_use_keys_and_list_indexes() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    diesel::connection::set_default_instrumentation(|| Some(Box::new(Recorder)))
        .expect("instrumentation installed");
    let store = store(&db);
    let a = org("org_a");
    let mut raw = PgConnection::establish(db.url()).expect("a direct connection");
    raw.batch_execute(BIG_ORG).expect("the big org");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    let r = store
        .create_revision(&a, t.id, new_revision(json!({})), audit().into())
        .expect("revised");
    let p = store
        .create_pipeline(new_pipeline(&a, "P", json!({})), audit().into())
        .expect("created");
    let pi = store
        .attach(&a, p.id, attach_new(t.id, r.id), audit().into())
        .expect("attached");

    // Lookups by id, and the changes that find their row by id.
    let by_id: Vec<(&str, &str, Vec<String>)> = vec![
        (
            "template",
            "templates_pkey",
            recorded(|| {
                store.template(&a, t.id).expect("found");
            }),
        ),
        (
            "revision",
            "revisions_number",
            recorded(|| {
                store.revision(&a, t.id, r.number).expect("found");
                store.latest_revision(&a, t.id).expect("found");
            }),
        ),
        (
            "pipeline",
            "pipelines_pkey",
            recorded(|| {
                store.pipeline(&a, p.id).expect("found");
            }),
        ),
        (
            "attachment",
            "attachments_pkey",
            recorded(|| {
                store.attachment(&a, p.id, pi.id).expect("found");
                store.attachments(&a, p.id).expect("listed");
                store.attached_revisions(&a, p.id).expect("listed");
            }),
        ),
        (
            "template update",
            "templates_pkey",
            recorded(|| {
                let changes = TemplateChanges {
                    name: None,
                    description: Some(None),
                    updated_at: tick(),
                    expected_updated_at: Some(store.template(&a, t.id).expect("found").updated_at),
                };
                store
                    .update_template(&a, t.id, changes, audit())
                    .expect("updated");
            }),
        ),
        (
            "revision create",
            "templates_pkey",
            recorded(|| {
                store
                    .create_revision(&a, t.id, new_revision(json!({})), audit().into())
                    .expect("revised");
            }),
        ),
        (
            "pipeline update",
            "pipelines_pkey",
            recorded(|| {
                let changes = PipelineChanges {
                    secret_parameters: None,
                    name: None,
                    description: None,
                    parameters: None,
                    updated_at: tick(),
                };
                store
                    .update_pipeline(&a, p.id, changes, audit())
                    .expect("updated");
            }),
        ),
        (
            "attachment update",
            "attachments_pkey",
            recorded(|| {
                let changes = AttachmentChanges {
                    revision_id: Some(r.id),
                    enabled: Some(false),
                    updated_at: tick(),
                };
                store
                    .update_attachment(&a, p.id, pi.id, changes, audit())
                    .expect("updated");
            }),
        ),
        (
            "template delete",
            "templates_pkey",
            recorded(|| {
                store
                    .delete_template(&a, t.id, tick(), None, audit())
                    .expect_err("in use");
            }),
        ),
    ];

    // Lists: from an offset and after a cursor, with totals from the counters.
    let first = || Window::from(Page::default());
    let after = Newest {
        created_at: t.created_at,
        id: t.id.to_string(),
    };
    let lists: Vec<(&str, &str, Vec<String>)> = vec![
        (
            "templates",
            "templates_live_newest",
            recorded(|| {
                store.templates(&a, first()).expect("listed");
                store
                    .templates(&a, Window::after(50, after.clone()))
                    .expect("listed");
            }),
        ),
        (
            "template totals",
            "org_counts_pkey",
            recorded(|| {
                store.templates(&a, first()).expect("listed");
            }),
        ),
        (
            "pipelines",
            "pipelines_live_newest",
            recorded(|| {
                store.pipelines(&a, first()).expect("listed");
                store
                    .pipelines(&a, Window::after(50, after.clone()))
                    .expect("listed");
            }),
        ),
        (
            "audit log",
            "audit_log_org_newest",
            recorded(|| {
                store.audit_log(&a, None, first()).expect("read");
                store
                    .audit_log(&a, None, Window::after(50, after.clone()))
                    .expect("read");
            }),
        ),
        (
            "audit log of one object",
            "audit_log_resource",
            recorded(|| {
                store.audit_log(&a, Some("test"), first()).expect("read");
                store
                    .audit_log(&a, Some("test"), Window::after(50, after.clone()))
                    .expect("read");
            }),
        ),
        (
            "revisions",
            "revisions_number",
            recorded(|| {
                let live = store
                    .create_template(new_template(&a, "Live"), audit().into())
                    .expect("created");
                store
                    .create_revision(&a, live.id, new_revision(json!({})), audit().into())
                    .expect("revised");
                store
                    .revisions(&a, live.id, Window::from(Page::default()))
                    .expect("listed");
                store
                    .revisions(&a, live.id, Window::after(50, 2))
                    .expect("listed");
            }),
        ),
    ];
    let pinned = store
        .create_template(new_template(&a, "Pinned"), audit().into())
        .expect("created");
    let revision = store
        .create_revision(&a, pinned.id, new_revision(json!({})), audit().into())
        .expect("revised");
    store
        .attach(&a, p.id, attach_new(pinned.id, revision.id), audit().into())
        .expect("attached");
    let pins = recorded(|| {
        store.template_pins(&a, pinned.id, first()).expect("listed");
        store
            .template_pins(&a, pinned.id, Window::after(50, after.clone()))
            .expect("listed");
    });
    let pins = ("pins", "attachments_template_newest", pins);

    // Without statistics (a new database), then with them.
    let mut problems = Vec::new();
    for statistics in ["without statistics", "after ANALYZE"] {
        if statistics == "after ANALYZE" {
            raw.batch_execute("ANALYZE").expect("analysed");
        }
        let mut found = Vec::new();
        for lookup in &by_id {
            let list_indexes = ["_live_newest", "audit_log_org_newest", "audit_log_resource"];
            check_plans(&mut raw, lookup, &list_indexes, &mut found);
        }
        for list in lists.iter().chain([&pins]) {
            check_plans(&mut raw, list, &[], &mut found);
        }
        problems.extend(found.into_iter().map(|p| format!("{statistics}: {p}")));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
