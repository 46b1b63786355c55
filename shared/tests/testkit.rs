//! The test kit's check of pinned `compile_fail` error codes (`shared::testkit`).

use shared::testkit::{assert_compile_fail_codes, compile_fail_blocks};

#[test]
fn blocks_are_found_with_their_codes_indentation_and_hidden_lines() {
    let src = "//! Intro\n//!\n//!    ```compile_fail,E0277\n//!    # use std::rc::Rc;\n//!    let x = Rc::new(1);\n//!      std::thread::spawn(move || x);\n//!    ```\n/// ```compile_fail,E0133\n/// unsafe_fn();\n/// ```\n//! ```\n//! ok();\n//! ```\n";
    let blocks = compile_fail_blocks(src);
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[0].code, "E0277");
    assert_eq!(blocks[0].line, 3);
    assert_eq!(
        blocks[0].body,
        "use std::rc::Rc;\nlet x = Rc::new(1);\n  std::thread::spawn(move || x);\n"
    );
    assert_eq!(blocks[1].code, "E0133");
}

#[test]
fn codes_are_checked_against_rustc() {
    let src = "//! ```compile_fail,E0277\n//! let x = std::rc::Rc::new(1);\n//! std::thread::spawn(move || drop(x));\n//! ```\n";
    assert_compile_fail_codes(src, &[], &["E0277"]);
    let wrong = src.replace("E0277", "E0308");
    let caught = std::panic::catch_unwind(|| assert_compile_fail_codes(&wrong, &[], &["E0308"]));
    assert!(caught.is_err(), "a wrong pinned code must be caught");
}
