use std::collections::BTreeMap;

use diesel::sql_types::{BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};
use integrations_ports::TemplateStore;
use integrations_store::{DatabaseUrl, migrations};
use integrations_testing::{Backend, TestDb};
use serde_json::json;
use time::macros::datetime;

use crate::support::{Raw, audit, new_revision, new_template, org, store};

fn migrations_round_trip(db: &TestDb) {
    let url = DatabaseUrl::parse(db.url()).expect("valid");
    let applied = migrations::run_pending(&url).expect("up");
    assert!(!applied.is_empty());
    let mut raw = Raw::connect(db);
    assert_eq!(raw.count("SELECT COUNT(*) AS n FROM templates"), 0);
    let reverted = migrations::revert_all(&url).expect("down");
    assert_eq!(reverted.len(), applied.len());
    assert!(
        raw.execute("SELECT 1 FROM templates").is_err(),
        "the tables are gone"
    );
    assert_eq!(migrations::run_pending(&url).expect("up again"), applied);
    assert!(
        migrations::run_pending(&url)
            .expect("nothing pending")
            .is_empty()
    );
    // The schema works after the round trip.
    let store = store(db);
    let t = store
        .create_template(new_template(&org("org_a"), "T"), audit().into())
        .expect("created");
    store
        .create_revision(&org("org_a"), t.id, new_revision(json!({})), audit().into())
        .expect("revised");
}

fn revisions_refuse_update_and_delete_in_the_database(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let t = store
        .create_template(new_template(&a, "T"), audit().into())
        .expect("created");
    store
        .create_revision(&a, t.id, new_revision(json!({ "v": 1 })), audit().into())
        .expect("revised");
    let mut raw = Raw::connect(db);
    for statement in [
        "UPDATE revisions SET config = '{\"v\":2}'",
        "UPDATE revisions SET revision_number = 7",
        "DELETE FROM revisions",
    ] {
        let err = raw.execute(statement).expect_err(statement);
        assert!(
            err.to_string().contains("revisions are immutable"),
            "{statement}: {err}"
        );
    }
    if db.backend() == Backend::Postgres {
        let err = raw
            .execute("TRUNCATE revisions CASCADE")
            .expect_err("truncate");
        assert!(err.to_string().contains("revisions are immutable"), "{err}");
    }
    assert_eq!(
        raw.count("SELECT COUNT(*) AS n FROM revisions WHERE config = '{\"v\":1}'"),
        1
    );
}

#[derive(QueryableByName)]
struct KeyColumn {
    #[diesel(sql_type = Text)]
    tbl: String,
    #[diesel(sql_type = Text)]
    key_name: String,
    #[diesel(sql_type = BigInt)]
    pos: i64,
    #[diesel(sql_type = Text)]
    col: String,
}

const SQLITE_FOREIGN_KEYS: &str = "SELECT m.name AS tbl, CAST(f.id AS TEXT) AS key_name, f.seq AS pos, f.\"from\" AS col \
     FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f WHERE m.type = 'table'";
const SQLITE_INDEXES: &str = "SELECT m.name AS tbl, il.name AS key_name, ii.seqno AS pos, ii.name AS col \
     FROM sqlite_master m JOIN pragma_index_list(m.name) il JOIN pragma_index_info(il.name) ii \
     WHERE m.type = 'table' AND il.partial = 0";
const POSTGRES_FOREIGN_KEYS: &str = "SELECT c.conrelid::regclass::text AS tbl, c.conname::text AS key_name, k.ord AS pos, \
     a.attname::text AS col FROM pg_constraint c CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum \
     WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace";
const POSTGRES_INDEXES: &str = "SELECT i.indrelid::regclass::text AS tbl, i.indexrelid::regclass::text AS key_name, \
     k.ord AS pos, a.attname::text AS col FROM pg_index i \
     CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
     JOIN pg_class t ON t.oid = i.indrelid \
     WHERE t.relnamespace = 'public'::regnamespace AND i.indpred IS NULL";

/// (table, key) → columns in key order.
fn keys(raw: &mut Raw, sql: &str) -> BTreeMap<(String, String), Vec<String>> {
    let query = diesel::sql_query(sql);
    let mut rows: Vec<KeyColumn> = match raw {
        Raw::Sqlite(conn) => query.load(conn),
        Raw::Postgres(conn) => query.load(conn),
    }
    .expect("catalog query");
    rows.sort_by_key(|r| r.pos);
    let mut keys: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for row in rows {
        keys.entry((row.tbl, row.key_name))
            .or_default()
            .push(row.col);
    }
    keys
}

fn every_foreign_key_is_indexed(db: &TestDb) {
    let _store = store(db); // migrates
    let mut raw = Raw::connect(db);
    let (fk_sql, index_sql) = match db.backend() {
        Backend::Sqlite => (SQLITE_FOREIGN_KEYS, SQLITE_INDEXES),
        Backend::Postgres => (POSTGRES_FOREIGN_KEYS, POSTGRES_INDEXES),
    };
    let foreign_keys = keys(&mut raw, fk_sql);
    let indexes = keys(&mut raw, index_sql);
    assert_eq!(
        foreign_keys.len(),
        4,
        "revisions→templates, attachments→pipelines/templates/revisions: {foreign_keys:?}"
    );
    for ((table, key), columns) in &foreign_keys {
        let mut wanted = columns.clone();
        wanted.sort();
        let covered = indexes.iter().any(|((index_table, _), index_columns)| {
            let mut leading: Vec<String> =
                index_columns.iter().take(wanted.len()).cloned().collect();
            leading.sort();
            index_table == table && leading == wanted
        });
        assert!(
            covered,
            "foreign key {key} on {table}({columns:?}) has no index"
        );
    }
}

/// `?at=` turns an instant into the org's last event by then
/// (`max(seq) WHERE org_id = ? AND at <= ?`): an index leads with those
/// columns and carries `seq`, so the lookup never reads an org's events one
/// by one.
fn events_are_indexed_by_org_and_instant(db: &TestDb) {
    let _store = store(db); // migrates
    let mut raw = Raw::connect(db);
    let index_sql = match db.backend() {
        Backend::Sqlite => SQLITE_INDEXES,
        Backend::Postgres => POSTGRES_INDEXES,
    };
    let indexes = keys(&mut raw, index_sql);
    let wanted = ["org_id", "at", "seq"].map(str::to_owned).to_vec();
    assert!(
        indexes
            .iter()
            .any(|((table, _), columns)| table == "events" && *columns == wanted),
        "no index on events (org_id, at, seq): {indexes:?}"
    );
}

fn timestamps_are_utc_to_the_microsecond(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let mut new = new_template(&a, "T");
    new.created_at = datetime!(2026-02-25 16:30:00.123456 +02:00);
    let created = store.create_template(new, audit().into()).expect("created");
    let read = store.template(&a, created.id).expect("found");
    assert_eq!(read.created_at, datetime!(2026-02-25 14:30:00.123456 UTC));
    assert!(read.created_at.offset().is_utc());
    assert_eq!(read.updated_at, read.created_at);
}

/// One backend's migration tree: each migration's directory name, with the
/// files in it.
fn migration_tree(backend: &str) -> BTreeMap<String, Vec<String>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations")
        .join(backend);
    std::fs::read_dir(&root)
        .unwrap_or_else(|err| panic!("{}: {err}", root.display()))
        .map(|entry| {
            let entry = entry.expect("a directory entry");
            let mut files: Vec<String> = std::fs::read_dir(entry.path())
                .expect("a migration directory")
                .map(|file| {
                    file.expect("a file")
                        .file_name()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect();
            files.sort();
            (entry.file_name().to_string_lossy().into_owned(), files)
        })
        .collect()
}

/// The store embeds one tree per backend and runs whichever the URL names:
/// a migration written for one backend only would leave the other's schema
/// behind (`just migration NAME` creates both).
#[test]
fn both_migration_trees_hold_the_same_names() {
    let sqlite = migration_tree("sqlite");
    let postgres = migration_tree("postgres");
    assert!(sqlite.len() >= 4, "{sqlite:?}");
    let names = |tree: &BTreeMap<String, Vec<String>>| tree.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&sqlite), names(&postgres), "sqlite vs postgres");
    for (name, files) in sqlite.iter().chain(&postgres) {
        assert_eq!(files, &["down.sql", "up.sql"], "{name}");
        assert!(
            name.split_once('_')
                .is_some_and(|(version, _)| version.len() == 17),
            "{name}: YYYY-MM-DD-HHMMSS_name"
        );
    }
}

integrations_testing::backend_tests!(
    migrations_round_trip,
    revisions_refuse_update_and_delete_in_the_database,
    every_foreign_key_is_indexed,
    events_are_indexed_by_org_and_instant,
    timestamps_are_utc_to_the_microsecond,
);
