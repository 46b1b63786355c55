//! Helpers for the example crates' integration tests, which run the real binaries
//! (`env!("CARGO_BIN_EXE_<name>")`) and check their output.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What a finished run printed.
#[derive(Debug)]
pub struct Run {
    /// Exit status.
    pub status: ExitStatus,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

impl Run {
    /// The exit code (`None` if killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// stdout parsed as JSON lines (panics, with the line, on anything else: under `--json`
    /// stdout must hold only JSON).
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))
            })
            .collect()
    }

    /// The JSON lines of one `kind` (`measurement`, `span`, `check`).
    pub fn json_of_kind(&self, kind: &str) -> Vec<serde_json::Value> {
        self.json_lines()
            .into_iter()
            .filter(|v| v["kind"] == kind)
            .collect()
    }
}

/// Runs `bin` with `args`, killing it (and failing the test) after `timeout`.
pub fn run_bin(bin: &str, args: &[&str], timeout: Duration) -> Run {
    run_command(Command::new(bin).args(args), timeout)
}

/// Runs a prepared command with a timeout; stdout and stderr are captured.
pub fn run_command(cmd: &mut Command, timeout: Duration) -> Run {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped")));
    let err = drain(Box::new(child.stderr.take().expect("piped")));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait on child") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err.join().unwrap_or_default();
            panic!("{cmd:?} did not finish within {timeout:?}; stderr:\n{stderr}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// A ```` ```compile_fail,EXXXX ```` block of a source file's doc comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedBlock {
    /// The pinned error code, e.g. `E0277`.
    pub code: String,
    /// The program, with rustdoc's hidden-line markers (`# `) removed.
    pub body: String,
    /// 1-based line of the opening fence.
    pub line: usize,
}

/// The `compile_fail,EXXXX` blocks in the `//!` and `///` comments of `source`.
pub fn compile_fail_blocks(source: &str) -> Vec<RefusedBlock> {
    let mut blocks = Vec::new();
    let mut open: Option<(RefusedBlock, usize)> = None;
    for (i, raw) in source.lines().enumerate() {
        let trimmed = raw.trim_start();
        let Some(doc) = trimmed
            .strip_prefix("//!")
            .or_else(|| trimmed.strip_prefix("///"))
        else {
            continue;
        };
        let doc = doc.strip_prefix(' ').unwrap_or(doc);
        let text = doc.trim_start();
        let indent = doc.len() - text.len();
        match open.take() {
            None => {
                if let Some(code) = text.strip_prefix("```compile_fail,") {
                    let block = RefusedBlock {
                        code: code.trim().to_owned(),
                        body: String::new(),
                        line: i + 1,
                    };
                    open = Some((block, indent));
                }
            }
            Some((block, _)) if text.starts_with("```") => blocks.push(block),
            Some((mut block, fence)) => {
                let line = doc.get(fence.min(indent)..).unwrap_or(text);
                let line = match line {
                    "#" => "",
                    l => l.strip_prefix("# ").unwrap_or(l),
                };
                block.body.push_str(line);
                block.body.push('\n');
                open = Some((block, fence));
            }
        }
    }
    blocks
}

/// Checks that every `compile_fail,EXXXX` doctest of `source` fails with its own code.
///
/// On stable Rust, rustdoc checks only that a `compile_fail` doctest fails to compile, not
/// that it fails with the pinned error code (that check is nightly-only). So each block is
/// compiled here with `rustc`, wrapped in `fn main` as rustdoc does, against the rlibs that
/// `cargo test` just built (the newest `lib<name>-*.rlib` of each crate in `externs`, found
/// next to the running test binary), and must fail with `error[EXXXX]`. `expected` lists the
/// codes in file order, so a block cannot silently disappear.
///
/// # Panics
/// When the blocks or codes differ from `expected`, a block compiles, or it fails with
/// another error; the message shows rustc's output.
pub fn assert_compile_fail_codes(source: &str, externs: &[&str], expected: &[&str]) {
    let blocks = compile_fail_blocks(source);
    let codes: Vec<&str> = blocks.iter().map(|b| b.code.as_str()).collect();
    assert_eq!(codes, expected, "compile_fail blocks found in the file");

    let deps = std::env::current_exe()
        .expect("the test binary's path")
        .parent()
        .expect("the test binary is in target/<profile>/deps")
        .to_path_buf();
    let extern_args: Vec<String> = externs
        .iter()
        .map(|name| format!("{name}={}", newest_rlib(&deps, name).display()))
        .collect();
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (i, block) in blocks.iter().enumerate() {
        let file = dir.path().join(format!("refused_{i}.rs"));
        let program = if block.body.contains("fn main") {
            block.body.clone()
        } else {
            format!("#![allow(unused)]\nfn main() {{\n{}}}\n", block.body)
        };
        std::fs::write(&file, program).expect("write the refused program");
        let mut cmd = Command::new(&rustc);
        cmd.args([
            "--edition=2024",
            "--crate-type=bin",
            "--emit=metadata",
            "--out-dir",
        ])
        .arg(dir.path())
        .arg("-L")
        .arg(format!("dependency={}", deps.display()));
        for e in &extern_args {
            cmd.args(["--extern", e]);
        }
        let out = cmd.arg(&file).output().expect("rustc runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "the compile_fail block at line {} compiled:\n{}",
            block.line,
            block.body
        );
        assert!(
            stderr.contains(&format!("error[{}]", block.code)),
            "the compile_fail block at line {} did not fail with {}:\n{}\n{stderr}",
            block.line,
            block.code,
            block.body
        );
    }
}

fn newest_rlib(deps: &std::path::Path, name: &str) -> std::path::PathBuf {
    let prefix = format!("lib{name}-");
    std::fs::read_dir(deps)
        .expect("read the deps directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.extension().is_some_and(|x| x == "rlib")
                && p.file_name()
                    .and_then(|f| f.to_str())
                    .is_some_and(|f| f.starts_with(&prefix))
        })
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .unwrap_or_else(|| {
            panic!(
                "no {prefix}*.rlib in {}: build the crate first",
                deps.display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let caught =
            std::panic::catch_unwind(|| assert_compile_fail_codes(&wrong, &[], &["E0308"]));
        assert!(caught.is_err(), "a wrong pinned code must be caught");
    }
}
