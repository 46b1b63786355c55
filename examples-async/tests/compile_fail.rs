//! The `compile_fail` doctests must fail for the reason they show: stable rustdoc checks only
//! that they fail, so each is compiled again here and must fail with its pinned error code.

use shared::testkit::assert_compile_fail_codes;

const TOKIO: &[&str] = &["tokio"];

#[test]
fn a_task_cannot_borrow_what_it_may_outlive() {
    assert_compile_fail_codes(include_str!("../src/service_request.rs"), TOKIO, &["E0373"]);
}

#[test]
fn a_task_cannot_borrow_locals_nor_take_an_rc_to_another_thread() {
    assert_compile_fail_codes(
        include_str!("../src/future_api.rs"),
        TOKIO,
        &["E0373", "E0277"],
    );
}
