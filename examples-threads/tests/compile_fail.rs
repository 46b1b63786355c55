//! The `compile_fail` doctests must fail for the reason they show: stable rustdoc checks only
//! that they fail, so each is compiled again here and must fail with its pinned error code.

use shared::testkit::assert_compile_fail_codes;

#[test]
fn refused_programs_fail_with_their_pinned_error_codes() {
    assert_compile_fail_codes(
        include_str!("../src/races.rs"),
        &[],
        &["E0277", "E0277", "E0373"],
    );
}
