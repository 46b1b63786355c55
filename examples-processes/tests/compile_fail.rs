//! The `compile_fail` doctests must fail for the reason they show: stable rustdoc checks only
//! that they fail, so each is compiled again here and must fail with its pinned error code.

use shared::testkit::assert_compile_fail_codes;

#[test]
fn a_closure_is_not_a_task_and_cannot_be_serialised() {
    assert_compile_fail_codes(
        include_str!("../src/gotchas.rs"),
        &["examples_processes", "shared"],
        &["E0308", "E0277"],
    );
}
