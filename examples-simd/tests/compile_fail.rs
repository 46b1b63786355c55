//! The `compile_fail` doctests must fail for the reason they show: stable rustdoc checks only
//! that they fail, so each is compiled again here and must fail with its pinned error code.

use shared::testkit::assert_compile_fail_codes;

#[test]
fn a_parallel_closure_cannot_write_a_shared_counter() {
    assert_compile_fail_codes(include_str!("../src/numba.rs"), &["rayon"], &["E0594"]);
}

#[test]
fn an_avx2_kernel_needs_unsafe_to_call() {
    assert_compile_fail_codes(
        include_str!("../src/simd.rs"),
        &["examples_simd"],
        &["E0133"],
    );
}
