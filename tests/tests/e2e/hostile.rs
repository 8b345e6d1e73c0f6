//! A misbehaving plugin fails only its own (record, plugin), with the right reason, while
//! the other records of the same event succeed.

use s3plug_host::outcome::{FailureKind, Status};
use s3plug_tests::{Harness, RawRecord, TESTGUEST, outcome_of, s3_event};

const TIMEOUT_MS: u64 = 300;

fn harness() -> Harness {
    Harness::new(&format!(
        r#"
[[plugin]]
name = "guest"
wasm = "{TESTGUEST}"
trigger = {{ bucket = "inbox" }}
write = ["outbox/out/"]
limits = {{ timeout_ms = {TIMEOUT_MS}, memory_mib = 32, max_writes = 4 }}
config = {{ out_bucket = "outbox" }}
"#
    ))
}

/// Runs one event with `ok/` records around each hostile key, and checks the hostile
/// record's outcome while the `ok/` records are processed.
fn run_between_good_records(mode_key: &str) -> s3plug_host::outcome::RecordOutcome {
    let h = harness();
    h.put("inbox", "ok/before.txt", b"before");
    h.put("inbox", mode_key, b"payload");
    h.put("inbox", "ok/after.txt", b"after");
    let outcomes = h.run(&s3_event(&[
        RawRecord::put("inbox", "ok/before.txt"),
        RawRecord::put("inbox", mode_key),
        RawRecord::put("inbox", "ok/after.txt"),
    ]));
    assert_eq!(outcomes.len(), 3, "{outcomes:#?}");
    for (index, key) in [(0, "ok/before.txt"), (2, "ok/after.txt")] {
        let good = outcome_of(&outcomes, index, "guest");
        assert_eq!(good.status, Status::Ok, "{good:#?}");
        assert!(
            h.store.bytes("outbox", &format!("out/{key}")).is_some(),
            "{key} was not copied"
        );
    }
    outcome_of(&outcomes, 1, "guest").clone()
}

#[test]
fn infinite_loop_is_stopped_near_its_timeout() {
    let outcome = run_between_good_records("loop/forever");
    assert_eq!(outcome.status, Status::Failed);
    assert_eq!(outcome.reason, Some(FailureKind::Timeout), "{outcome:#?}");
    let error = outcome.error.as_deref().unwrap_or_default();
    assert!(error.starts_with("timeout: "), "{error}");
    assert!(
        error.contains(&format!("timeout_ms = {TIMEOUT_MS}")),
        "{error}"
    );
    let ms = outcome.duration_ms;
    assert!(ms >= TIMEOUT_MS as f64 - 10.0, "stopped too early: {ms} ms");
    assert!(ms < TIMEOUT_MS as f64 + 1000.0, "stopped too late: {ms} ms");
}

#[test]
fn memory_bomb_is_stopped_at_its_memory_limit() {
    let outcome = run_between_good_records("membomb/x");
    assert_eq!(outcome.reason, Some(FailureKind::Memory), "{outcome:#?}");
    let error = outcome.error.as_deref().unwrap_or_default();
    assert!(error.contains("memory_mib = 32"), "{error}");
}

#[test]
fn panic_fails_with_its_message() {
    let outcome = run_between_good_records("panic/x");
    assert_eq!(outcome.reason, Some(FailureKind::Trap), "{outcome:#?}");
    let error = outcome.error.as_deref().unwrap_or_default();
    assert!(error.contains("testguest panicked on purpose"), "{error}");
}

#[test]
fn trap_fails_the_record() {
    let outcome = run_between_good_records("trap/x");
    assert_eq!(outcome.reason, Some(FailureKind::Trap), "{outcome:#?}");
    assert!(
        outcome
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("unreachable"),
        "{outcome:#?}"
    );
}

#[test]
fn deep_recursion_is_a_stack_overflow() {
    let outcome = run_between_good_records("stack/x");
    assert_eq!(
        outcome.reason,
        Some(FailureKind::StackOverflow),
        "{outcome:#?}"
    );
}

#[test]
fn overflowing_the_shadow_stack_in_linear_memory_traps() {
    // Rust keeps large frames in linear memory below the data; running past its start is an
    // out-of-bounds access, never a write into the plugin's other data.
    let outcome = run_between_good_records("stack-frames/x");
    assert_eq!(outcome.reason, Some(FailureKind::Trap), "{outcome:#?}");
    assert!(
        outcome
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("out of bounds memory access"),
        "{outcome:#?}"
    );
}

#[test]
fn reading_outside_the_grants_is_denied() {
    let h = harness();
    h.put("forbidden-bucket", "secret.txt", b"secret");
    h.put("inbox", "read-outside/x", b"x");
    let outcomes = h.run(&s3_event(&[RawRecord::put("inbox", "read-outside/x")]));
    let outcome = outcome_of(&outcomes, 0, "guest");
    assert_eq!(outcome.reason, Some(FailureKind::Denied), "{outcome:#?}");
    let error = outcome.error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("denied: get forbidden-bucket/secret.txt"),
        "{error}"
    );
    assert_eq!(outcome.usage.as_ref().map(|u| u.denials), Some(1));
}

#[test]
fn writing_outside_the_grants_is_denied_and_writes_nothing() {
    let outcome = run_between_good_records("write-outside/x");
    assert_eq!(outcome.reason, Some(FailureKind::Denied), "{outcome:#?}");
    let error = outcome.error.as_deref().unwrap_or_default();
    assert!(
        error.starts_with("denied: put forbidden-bucket/x.txt"),
        "{error}"
    );
}

#[test]
fn listing_outside_the_grants_is_denied() {
    let outcome = run_between_good_records("list-outside/x");
    assert_eq!(outcome.reason, Some(FailureKind::Denied), "{outcome:#?}");
}

#[test]
fn deleting_the_trigger_needs_a_write_grant() {
    let h = harness();
    h.put("inbox", "delete-trigger/x", b"x");
    let outcomes = h.run(&s3_event(&[RawRecord::put("inbox", "delete-trigger/x")]));
    assert_eq!(
        outcome_of(&outcomes, 0, "guest").reason,
        Some(FailureKind::Denied)
    );
    assert!(
        h.store.bytes("inbox", "delete-trigger/x").is_some(),
        "the object was deleted"
    );
}

#[test]
fn too_many_writes_fail_the_record_at_max_writes() {
    let h = harness();
    h.put("inbox", "many-writes/x", b"x");
    let outcomes = h.run(&s3_event(&[RawRecord::put("inbox", "many-writes/x")]));
    let outcome = outcome_of(&outcomes, 0, "guest");
    assert_eq!(
        outcome.reason,
        Some(FailureKind::LimitExceeded),
        "{outcome:#?}"
    );
    assert!(
        outcome
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("max_writes (4)"),
        "{outcome:#?}"
    );
    let written = h
        .store
        .keys()
        .into_iter()
        .filter(|(_, k)| k.starts_with("out/many-writes/"))
        .count();
    assert_eq!(written, 4, "exactly max_writes objects are written");
}

#[test]
fn a_log_flood_is_cut_at_the_log_budget() {
    let h = harness();
    h.put("inbox", "log-flood/x", b"x");
    let outcomes = h.run(&s3_event(&[RawRecord::put("inbox", "log-flood/x")]));
    let outcome = outcome_of(&outcomes, 0, "guest");
    assert_eq!(outcome.status, Status::Ok, "{outcome:#?}");
    // 100 000 lines against the default budget of 1000.
    assert_eq!(outcome.usage.as_ref().map(|u| u.logs_dropped), Some(99_000));
}

#[test]
fn a_returned_error_fails_only_that_record() {
    let outcome = run_between_good_records("fail/x");
    assert_eq!(outcome.reason, Some(FailureKind::PluginError));
    assert_eq!(
        outcome.error.as_deref(),
        Some("plugin-error: failing on purpose")
    );
}
