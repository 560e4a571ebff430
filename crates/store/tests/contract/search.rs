//! Lists filtered by a name substring and a vendor: literal matching,
//! Unicode case folding, exact totals, and cursors that keep working.

use integrations_domain::{NameQuery, Page, Template, TemplateId};
use integrations_ports::{
    Newest, PipelineFilter, PipelineStore, TemplateFilter, TemplateStore, Window,
};
use integrations_store::DieselStore;
use integrations_testing::TestDb;

use crate::support::{audit, new_pipeline, new_template, org, store, tick};

fn named(text: &str) -> TemplateFilter {
    TemplateFilter {
        name: Some(NameQuery::parse(text).expect("a valid query")),
        vendor: None,
    }
}

fn names_found(store: &DieselStore, filter: &TemplateFilter) -> (Vec<String>, u64) {
    let page = store
        .find_templates(&org("org_a"), filter, Page::default().into())
        .expect("listed");
    let mut names: Vec<String> = page
        .items
        .iter()
        .map(|t| t.name.as_str().to_owned())
        .collect();
    names.sort();
    (names, page.total)
}

fn create(store: &DieselStore, name: &str, vendor: &str) -> Template {
    let mut new = new_template(&org("org_a"), name);
    new.vendor = vendor.into();
    store.create_template(new, audit().into()).expect("created")
}

fn finds_templates_by_a_literal_folded_substring(db: &TestDb) {
    let store = store(db);
    for (name, vendor) in [
        ("Meta CAPI Production", "meta_capi"),
        ("meta capi staging", "meta_capi"),
        ("GA4 web", "ga4"),
        ("50% off", "ga4"),
        ("500 off", "ga4"),
        ("a_b", "ga4"),
        ("axb", "ga4"),
        ("back\\slash", "ga4"),
        ("backslash", "ga4"),
        ("Ärger", "tiktok"),
        ("ÉTÉ", "tiktok"),
    ] {
        create(&store, name, vendor);
    }
    // Elsewhere and deleted: never found.
    store
        .create_template(
            new_template(&org("org_b"), "Meta elsewhere"),
            audit().into(),
        )
        .expect("created");
    let gone = create(&store, "Meta gone", "meta_capi");
    store
        .delete_template(&org("org_a"), gone.id, tick(), None, audit())
        .expect("deleted");

    let strings = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        names_found(&store, &named("CAPI")),
        (strings(&["Meta CAPI Production", "meta capi staging"]), 2)
    );
    // `%` and `_` are plain characters, and so is the escape character.
    assert_eq!(names_found(&store, &named("%")), (strings(&["50% off"]), 1));
    assert_eq!(
        names_found(&store, &named("0%")),
        (strings(&["50% off"]), 1)
    );
    assert_eq!(names_found(&store, &named("_")), (strings(&["a_b"]), 1));
    assert_eq!(names_found(&store, &named("a_b")), (strings(&["a_b"]), 1));
    assert_eq!(
        names_found(&store, &named("\\")),
        (strings(&["back\\slash"]), 1)
    );
    assert_eq!(
        names_found(&store, &named("k\\s")),
        (strings(&["back\\slash"]), 1)
    );
    assert_eq!(names_found(&store, &named("\\%")), (vec![], 0));
    // Unicode case folding, as names are compared, on every backend.
    assert_eq!(names_found(&store, &named("ä")), (strings(&["Ärger"]), 1));
    assert_eq!(names_found(&store, &named("ÄRG")), (strings(&["Ärger"]), 1));
    // A decomposed query finds the composed name.
    assert_eq!(
        names_found(&store, &named("A\u{308}r")),
        (strings(&["Ärger"]), 1)
    );
    assert_eq!(names_found(&store, &named("été")), (strings(&["ÉTÉ"]), 1));
    assert_eq!(names_found(&store, &named("nothing like it")), (vec![], 0));
    // The empty query keeps everything (and the counted total agrees).
    assert_eq!(names_found(&store, &named("")).1, 11);

    // By vendor, and by both.
    let ga4 = TemplateFilter {
        name: None,
        vendor: Some("ga4".into()),
    };
    assert_eq!(names_found(&store, &ga4).1, 7);
    let ga4_off = TemplateFilter {
        name: Some(NameQuery::parse("OFF").expect("valid")),
        vendor: Some("ga4".into()),
    };
    assert_eq!(
        names_found(&store, &ga4_off),
        (strings(&["50% off", "500 off"]), 2)
    );
    let none = TemplateFilter {
        name: None,
        vendor: Some("no_such_vendor".into()),
    };
    assert_eq!(names_found(&store, &none), (vec![], 0));
    // Unfiltered, the total still comes out right.
    assert_eq!(names_found(&store, &TemplateFilter::default()).1, 11);
}

fn filtered_pages_follow_cursors_and_offsets(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    let mut wanted: Vec<TemplateId> = Vec::new();
    for i in 0..7 {
        let hit = create(&store, &format!("Hit {i}"), "ga4");
        wanted.push(hit.id);
        create(&store, &format!("Miss {i}"), "ga4");
    }
    wanted.reverse(); // newest first
    let filter = named("hit");
    let mut seen: Vec<TemplateId> = Vec::new();
    let mut window: Window = Window::from(Page::new(Some(3), None).expect("valid"));
    loop {
        let page = store
            .find_templates(&a, &filter, window.clone())
            .expect("listed");
        assert_eq!(page.total, 7);
        seen.extend(page.items.iter().map(|t| t.id));
        if !page.more {
            break;
        }
        let last = page.items.last().expect("a full page");
        window = Window::after(
            3,
            Newest {
                created_at: last.created_at,
                id: last.id.to_string(),
            },
        );
    }
    assert_eq!(seen, wanted);
    let offset = store
        .find_templates(
            &a,
            &filter,
            Page::new(Some(2), Some(5)).expect("valid").into(),
        )
        .expect("listed");
    assert_eq!(
        offset.items.iter().map(|t| t.id).collect::<Vec<_>>(),
        wanted[5..7]
    );
    assert!(!offset.more);
    assert_eq!(offset.total, 7);
}

fn finds_pipelines_by_name(db: &TestDb) {
    let store = store(db);
    let a = org("org_a");
    for name in ["Web shop", "WEB app", "Ärger_1", "Ärger 1", "app"] {
        store
            .create_pipeline(
                new_pipeline(&a, name, serde_json::json!({})),
                audit().into(),
            )
            .expect("created");
    }
    let find = |text: &str| {
        let filter = PipelineFilter {
            name: Some(NameQuery::parse(text).expect("valid")),
        };
        let page = store
            .find_pipelines(&a, &filter, Page::default().into())
            .expect("listed");
        let mut names: Vec<String> = page
            .items
            .iter()
            .map(|p| p.name.as_str().to_owned())
            .collect();
        names.sort();
        (names, page.total)
    };
    assert_eq!(find("web"), (vec!["WEB app".into(), "Web shop".into()], 2));
    assert_eq!(find("ä"), (vec!["Ärger 1".into(), "Ärger_1".into()], 2));
    assert_eq!(find("r_"), (vec!["Ärger_1".into()], 1));
    assert_eq!(find("APP").1, 2);
    assert_eq!(
        store
            .find_pipelines(&a, &PipelineFilter::default(), Page::default().into())
            .expect("listed")
            .total,
        5
    );
}

integrations_testing::backend_tests!(
    finds_templates_by_a_literal_folded_substring,
    filtered_pages_follow_cursors_and_offsets,
    finds_pipelines_by_name,
);
