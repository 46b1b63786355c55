//! Singular values on OpenBLAS, and its thread control (feature `linalg`).

use shared::linalg::*;

#[test]
fn singular_values_of_a_known_matrix() {
    let a = ndarray::array![[0.0, 2.0], [1.0, 0.0], [0.0, 0.0]];
    let s = singular_values(a.view()).unwrap();
    assert!((s[0] - 2.0).abs() < 1e-12 && (s[1] - 1.0).abs() < 1e-12);
}

#[test]
fn the_thread_guard_restores_the_previous_count() {
    let before = threads();
    {
        let _one = Threads::set(1);
        assert_eq!(threads(), 1);
        let _two = Threads::set(2);
        assert_eq!(threads(), 2);
    }
    assert_eq!(threads(), before);
    assert!(config().contains("OpenBLAS"), "{}", config());
    assert_ne!(threading_model(), "unknown");
}
