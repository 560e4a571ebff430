//! Bounded answers and quotas over HTTP: the streamed revisions list, the
//! paged pins list, the attachment cap (also under a race), and the audit of
//! the attachments a pipeline deletion removes.

use integrations_domain::Role;
use serde_json::{Value, json};

use crate::support::{TestApp, meta_config, paths::TEMPLATES};

fn pipeline(app: &TestApp, name: &str) -> String {
    app.create_pipeline(&app.owner(), &json!({ "name": name }))
        .expect(201)
        .body["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

/// A webhook template with one revision: (template id, revision id).
fn webhook(app: &TestApp, name: &str) -> (String, String) {
    let id = app.template(name, "webhook");
    let revision = app.revision(&id, &json!({ "url": "https://example.com/hook" }));
    (id, revision["id"].as_str().expect("an id").to_owned())
}

fn attach(app: &TestApp, pipeline: &str, (template, revision): &(String, String)) -> Value {
    app.attach(
        &app.owner(),
        pipeline,
        &json!({ "integration_id": template, "revision_id": revision }),
    )
    .body
}

fn the_full_revisions_list_is_streamed_whole_newest_first(app: &TestApp) {
    let token = app.token("org_a", Role::Viewer);
    let id = app.template("Meta", "meta_capi");
    let empty = app.list_revisions(&token, &id, "").expect(200);
    assert_eq!(empty.body, json!({ "revisions": [], "total": 0 }));
    // More than two batches, and not a multiple of the batch size.
    let created: Vec<Value> = (0..11)
        .map(|i| {
            let mut config = meta_config();
            config["batch_size"] = json!(i + 1);
            app.revision(&id, &config)
        })
        .collect();
    let listed = app.list_revisions(&token, &id, "").expect(200);
    assert_eq!(
        listed.header("transfer-encoding"),
        Some("chunked"),
        "streamed, not built whole"
    );
    assert!(
        listed
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"))
    );
    let newest_first: Vec<Value> = created.iter().rev().cloned().collect();
    assert_eq!(
        listed.body,
        json!({ "revisions": newest_first, "total": 11 })
    );
    assert!(
        listed.body["revisions"]
            .as_array()
            .expect("a list")
            .iter()
            .all(|r| r["config"]["access_token"] == "***"),
        "secrets masked in every batch"
    );
    // With limit or offset it stays an ordinary page.
    let page = app.list_revisions(&token, &id, "?offset=9").expect(200);
    assert_eq!(
        page.body,
        json!({ "revisions": [created[1], created[0]], "total": 11, "limit": 50, "offset": 9 })
    );
    // Checked before the answer starts: another org's template is a plain 404.
    app.list_revisions(&app.token("org_b", Role::Owner), &id, "")
        .expect_error(404, "NOT_FOUND");
}

fn the_pins_list_is_paged(app: &TestApp) {
    let token = app.token("org_a", Role::Viewer);
    let template = webhook(app, "Hook");
    let pipelines: Vec<String> = (1..=3)
        .map(|i| {
            let id = pipeline(app, &format!("P{i}"));
            assert!(attach(app, &id, &template)["id"].is_string());
            id
        })
        .collect();
    let path = format!("{TEMPLATES}/{}/pipelines", template.0);
    let first = app.get(&format!("{path}?limit=2"), &token).expect(200).body;
    assert_eq!(
        (&first["total"], &first["limit"], &first["offset"]),
        (&json!(3), &json!(2), &json!(0))
    );
    let ids = |body: &Value| -> Vec<String> {
        body["pipelines"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|p| p["pipeline_id"].as_str().expect("an id").to_owned())
            .collect()
    };
    assert_eq!(ids(&first), [pipelines[2].clone(), pipelines[1].clone()]);
    let rest = app
        .get(&format!("{path}?limit=2&offset=2"), &token)
        .expect(200)
        .body;
    assert_eq!(ids(&rest), [pipelines[0].clone()]);
    let all = app.get(&path, &token).expect(200).body;
    assert_eq!((&all["limit"], ids(&all).len()), (&json!(50), 3));
    for bad in ["limit=0", "limit=101", "offset=-1"] {
        app.get(&format!("{path}?{bad}"), &token)
            .expect_error(422, "VALIDATION_FAILED");
    }
}

fn a_pipeline_takes_at_most_100_attachments_even_under_a_race(app: &TestApp) {
    let pid = pipeline(app, "Busy");
    for i in 0..99 {
        let attached = attach(app, &pid, &webhook(app, &format!("T{i}")));
        assert!(attached["id"].is_string(), "{attached}");
    }
    // Two attaches race for the last place: exactly one wins.
    let racers = [webhook(app, "Racer A"), webhook(app, "Racer B")];
    let statuses: Vec<(u16, Value)> = std::thread::scope(|scope| {
        let handles: Vec<_> = racers
            .iter()
            .map(|racer| {
                scope.spawn(|| {
                    let reply = app.attach(
                        &app.owner(),
                        &pid,
                        &json!({ "integration_id": racer.0, "revision_id": racer.1 }),
                    );
                    (reply.status, reply.body)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });
    let mut codes: Vec<u16> = statuses.iter().map(|(status, _)| *status).collect();
    codes.sort_unstable();
    assert_eq!(codes, [201, 409], "{statuses:?}");
    let refused = &statuses
        .iter()
        .find(|(status, _)| *status == 409)
        .expect("one refused")
        .1;
    assert_eq!(refused["error"]["code"], "LIMIT_REACHED");
    assert_eq!(refused["error"]["details"][0]["limit"], 100);
    assert_eq!(refused["error"]["details"][0]["problem"], "limit_reached");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("100")),
        "{refused}"
    );
    let list = app
        .list_attachments(&app.owner(), &pid, "")
        .expect(200)
        .body;
    assert_eq!(list["integrations"].as_array().map(Vec::len), Some(100));
    // The 101st is refused too, and another pipeline is not affected.
    let late = webhook(app, "Late");
    app.attach(
        &app.owner(),
        &pid,
        &json!({ "integration_id": late.0, "revision_id": late.1 }),
    )
    .expect_error(409, "LIMIT_REACHED");
    assert!(attach(app, &pipeline(app, "Quiet"), &late)["id"].is_string());
}

fn deleting_a_pipeline_audits_each_attachment(app: &TestApp) {
    let token = app.owner();
    let pid = pipeline(app, "Web");
    let attached: Vec<Value> = (0..2)
        .map(|i| attach(app, &pid, &webhook(app, &format!("T{i}"))))
        .collect();
    app.delete_pipeline(&token, &pid).expect(200);
    for attachment in &attached {
        let id = attachment["id"].as_str().expect("an id");
        let log = app
            .get(&format!("/v1/admin/audit-log?resource_id={id}"), &token)
            .expect(200)
            .body;
        let entries = log["entries"].as_array().expect("entries");
        assert_eq!(
            entries
                .iter()
                .filter_map(|e| e["action"].as_str())
                .collect::<Vec<_>>(),
            ["attachment.delete", "attachment.create"],
            "{log}"
        );
        let removed = &entries[0];
        assert_eq!(removed["resource_type"], "attachment");
        assert_eq!(removed["actor"], "user_123");
        assert_eq!(removed["old_value"]["pipeline_id"], pid.as_str());
        assert_eq!(
            removed["old_value"]["integration_id"],
            attachment["integration_id"]
        );
        assert_eq!(removed["old_value"]["revision_number"], 1);
        assert!(removed["new_value"].is_null());
    }
    let pipeline_log = app
        .get(&format!("/v1/admin/audit-log?resource_id={pid}"), &token)
        .expect(200)
        .body;
    assert_eq!(pipeline_log["entries"][0]["action"], "pipeline.delete");
}

crate::api_tests!(
    the_full_revisions_list_is_streamed_whole_newest_first,
    the_pins_list_is_paged,
    a_pipeline_takes_at_most_100_attachments_even_under_a_race,
    deleting_a_pipeline_audits_each_attachment,
);
