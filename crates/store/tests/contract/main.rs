//! The storage contract: every port method and every documented error, on
//! SQLite always and on PostgreSQL wherever it is reachable. Each test gets a
//! database of its own.

#![expect(
    clippy::expect_used,
    clippy::many_single_char_names,
    reason = "tests: a broken fixture must fail the test at once; a, b, t, u, p read best"
)]

mod attachments;
mod audit;
mod flat_costs;
mod idempotency;
mod limits;
mod outage;
mod pipelines;
mod plans;
mod revisions;
mod schema;
mod sealed;
mod sessions;
mod support;
mod templates;

use integrations_testing::backend_tests;

use attachments::*;
use audit::*;
use flat_costs::*;
use idempotency::*;
use limits::*;
use pipelines::*;
use revisions::*;
use schema::*;
use sealed::*;
use sessions::*;
use templates::*;

backend_tests!(
    // templates
    creates_and_reads_a_template,
    names_are_unique_per_org_case_insensitively,
    lists_templates_newest_first_in_windows,
    updates_name_and_description,
    soft_delete_hides_the_template_and_keeps_the_row,
    other_orgs_see_nothing,
    // revisions
    revisions_are_numbered_from_one_and_move_updated_at,
    configs_are_stored_without_loss,
    reads_revisions_by_number_and_in_pages,
    expected_latest_guards_against_stale_writes,
    concurrent_revision_creates_are_gapless,
    install_creates_template_and_first_revision_atomically,
    // pipelines
    pipelines_round_trip_with_parameters,
    pipeline_names_are_unique_and_deletes_are_soft,
    rows_written_under_older_rules_still_load,
    // attachments
    attaches_reads_repins_and_detaches,
    attach_reports_each_bad_reference,
    a_template_in_use_cannot_be_deleted,
    deleting_a_pipeline_removes_its_attachments,
    attach_and_delete_never_leave_a_dangling_attachment,
    // audit log
    audit_entries_commit_and_roll_back_with_their_change,
    // idempotency keys
    idempotency_keys_are_claimed_once_then_replayed,
    abandoned_and_released_claims_can_be_retried,
    a_change_whose_claim_was_taken_over_rolls_back,
    // bounded answers and quotas
    attach_refuses_a_pipeline_past_its_limit,
    racing_attaches_at_the_limit_let_exactly_one_win,
    deleting_a_pipeline_audits_each_attachment_it_removes,
    revisions_below_walk_a_snapshot_of_the_history,
    template_pins_come_in_pages,
    migrations_wait_for_the_lock_then_fail_clearly,
    // sealed values
    sealed_values_are_written_with_their_revision_and_read_per_org,
    a_refused_revision_leaves_no_sealed_value,
    sealed_values_change_only_their_envelope,
    // flat costs
    totals_stay_exact_through_every_change,
    an_existing_database_gets_its_counts,
    cursors_page_like_offsets_with_ties_and_new_items,
    // schema
    migrations_round_trip,
    revisions_refuse_update_and_delete_in_the_database,
    every_foreign_key_is_indexed,
    timestamps_are_utc_to_the_microsecond,
    // units of work
    a_session_keeps_one_connection_for_all_its_calls,
    creating_a_revision_takes_seven_statements_on_one_connection,
);

mod session_tests {
    #[test]
    fn postgres_a_terminated_backend_is_replaced_and_retried_once() {
        super::sessions::postgres_a_terminated_backend_is_replaced_and_retried_once();
    }

    #[test]
    fn postgres_a_session_does_not_retry_after_its_first_statement() {
        super::sessions::postgres_a_session_does_not_retry_after_its_first_statement();
    }
}

mod plans_tests {
    #[test]
    fn postgres_generic_plans_use_keys_and_list_indexes() {
        super::plans::generic_plans_use_keys_and_list_indexes();
    }
}

mod outage_tests {
    use super::outage;

    #[test]
    fn sqlite_write_lock_timeout_is_unavailable() {
        outage::sqlite_write_lock_timeout_is_unavailable();
    }

    #[test]
    fn postgres_gone_is_unavailable_quickly() {
        outage::postgres_gone_is_unavailable_quickly();
    }

    #[test]
    fn unreachable_server_fails_to_open_quickly() {
        outage::unreachable_server_fails_to_open_quickly();
    }
}
