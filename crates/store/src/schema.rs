//! The tables, as Diesel sees them (hand-written: one schema serves both backends).

diesel::table! {
    templates (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        name_key -> Text,
        vendor -> Text,
        description -> Nullable<Text>,
        catalog_vendor_key -> Nullable<Text>,
        catalog_variant_key -> Nullable<Text>,
        latest_revision -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    revisions (id) {
        id -> Text,
        template_id -> Text,
        org_id -> Text,
        revision_number -> Integer,
        config -> Text,
        delivery_mode -> Text,
        change_summary -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        restored_from -> Nullable<Integer>,
    }
}

diesel::table! {
    pipelines (id) {
        id -> Text,
        org_id -> Text,
        name -> Text,
        name_key -> Text,
        description -> Nullable<Text>,
        parameters -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        secret_parameters -> Text,
    }
}

diesel::table! {
    attachments (id) {
        id -> Text,
        org_id -> Text,
        pipeline_id -> Text,
        template_id -> Text,
        revision_id -> Text,
        enabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::joinable!(revisions -> templates (template_id));
diesel::joinable!(attachments -> pipelines (pipeline_id));
diesel::joinable!(attachments -> templates (template_id));
diesel::allow_tables_to_appear_in_same_query!(templates, revisions, pipelines, attachments);

diesel::table! {
    idempotency_keys (org_id, user_id, idempotency_key) {
        org_id -> Text,
        user_id -> Text,
        idempotency_key -> Text,
        fingerprint -> Text,
        status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        location -> Nullable<Text>,
        created_at -> Timestamp,
        claim_token -> Nullable<Text>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        org_id -> Text,
        actor -> Text,
        action -> Text,
        resource_type -> Text,
        resource_id -> Text,
        old_value -> Nullable<Text>,
        new_value -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sealed_values (owner_kind, owner_id, field_path) {
        org_id -> Text,
        owner_kind -> Text,
        owner_id -> Text,
        field_path -> Text,
        version_id -> Text,
        kid -> Text,
        ciphertext -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    org_counts (org_id, stripe) {
        org_id -> Text,
        stripe -> Integer,
        live_templates -> BigInt,
        live_pipelines -> BigInt,
        audit_entries -> BigInt,
    }
}

diesel::table! {
    event_seqs (org_id) {
        org_id -> Text,
        last_seq -> BigInt,
    }
}

diesel::table! {
    events (org_id, seq) {
        org_id -> Text,
        seq -> BigInt,
        id -> Text,
        #[sql_name = "type"]
        event_type -> Text,
        resource_type -> Text,
        resource_id -> Text,
        pipeline_ids -> Text,
        actor -> Text,
        at -> Timestamp,
        data -> Text,
    }
}

diesel::table! {
    rollouts (id) {
        id -> Text,
        org_id -> Text,
        template_id -> Text,
        to_revision -> Nullable<Integer>,
        rolled_back_from -> Nullable<Text>,
        note -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        pipelines -> Text,
        diffs -> Text,
    }
}

diesel::table! {
    config_history (pipeline_id, subject, seq) {
        org_id -> Text,
        pipeline_id -> Text,
        subject -> Text,
        seq -> BigInt,
        at -> Timestamp,
        live -> Bool,
        parameters -> Nullable<Text>,
        secret_parameters -> Nullable<Text>,
        template_id -> Nullable<Text>,
        revision_id -> Nullable<Text>,
        enabled -> Nullable<Bool>,
        attached_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    history_sealed_values (pipeline_id, field_path, version_id) {
        org_id -> Text,
        pipeline_id -> Text,
        field_path -> Text,
        version_id -> Text,
        kid -> Text,
        ciphertext -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    history_horizons (org_id) {
        org_id -> Text,
        complete_from -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(config_history, pipelines);
diesel::allow_tables_to_appear_in_same_query!(config_history, attachments);
diesel::allow_tables_to_appear_in_same_query!(config_history, templates);
diesel::allow_tables_to_appear_in_same_query!(config_history, revisions);
