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

/// One section's `--json` run, read from its JSON lines: what it checked and what it measured.
#[derive(Debug)]
pub struct SectionRun {
    /// The run itself (human text is on stderr under `--json`).
    pub run: Run,
    /// Its `check` lines.
    pub checks: Vec<serde_json::Value>,
    /// Its `measurement` lines.
    pub measurements: Vec<serde_json::Value>,
}

impl SectionRun {
    /// Reads `run` of section `section` of crate `krate`, asserting what every good run of a
    /// section shows: exit 0, every JSON line belongs to the section, its banner was printed,
    /// at least one check ran, and every check passed.
    pub fn of(run: Run, krate: &str, section: &str) -> Self {
        assert_eq!(
            run.code(),
            Some(0),
            "{krate} {section} failed; stderr:\n{}\nstdout:\n{}",
            run.stderr,
            run.stdout
        );
        let lines = run.json_lines();
        assert!(
            lines.iter().all(|l| l["section"] == section),
            "a line of another section:\n{}",
            run.stdout
        );
        assert!(
            run.stderr.contains(&format!("=== {krate} {section}")),
            "no banner for {section}:\n{}",
            run.stderr
        );
        let checks = run.json_of_kind("check");
        assert!(!checks.is_empty(), "no checks ran:\n{}", run.stderr);
        for c in &checks {
            assert_eq!(c["ok"], true, "a failed check: {c}");
        }
        let measurements = run.json_of_kind("measurement");
        Self {
            run,
            checks,
            measurements,
        }
    }

    /// Every named check ran (and passed, see [`SectionRun::of`]).
    pub fn checked(&self, names: &[&str]) -> &Self {
        for name in names {
            assert!(
                self.checks.iter().any(|c| c["name"] == *name),
                "no check {name:?} among {:?}",
                self.checks.iter().map(|c| &c["name"]).collect::<Vec<_>>()
            );
        }
        self
    }

    /// Every named variant was measured.
    pub fn measured(&self, variants: &[&str]) -> &Self {
        for v in variants {
            assert!(
                self.measurement(v).is_some(),
                "no measurement of {v:?} among {:?}",
                self.measurements
                    .iter()
                    .map(|m| &m["variant"])
                    .collect::<Vec<_>>()
            );
        }
        self
    }

    /// The measurement of `variant`.
    pub fn measurement(&self, variant: &str) -> Option<&serde_json::Value> {
        self.measurements.iter().find(|m| m["variant"] == variant)
    }

    /// The human text says each of `texts` (for what no check states).
    pub fn says(&self, texts: &[&str]) -> &Self {
        for text in texts {
            assert!(
                self.run.stderr.contains(text),
                "missing {text:?} in:\n{}",
                self.run.stderr
            );
        }
        self
    }

    /// The named check's detail.
    pub fn detail(&self, name: &str) -> &str {
        self.checks
            .iter()
            .find(|c| c["name"] == name)
            .and_then(|c| c["detail"].as_str())
            .unwrap_or_else(|| panic!("no check {name:?}"))
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
