//! Where output goes.
//!
//! Human text goes through [`say!`](crate::say): to stdout normally, to stderr under `--json`,
//! so that stdout then holds only JSON lines (one object each, see [`emit`]). A section's
//! own checks (digests equal, every task done once) go through [`check`]; a failed check makes
//! the binary exit non-zero through [`exit_code`], which is how `scripts/run_all.sh` notices.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Serialize;

static JSON: AtomicBool = AtomicBool::new(false);
static FAILED_CHECKS: AtomicUsize = AtomicUsize::new(0);

/// Set by [`CommonArgs::install`](crate::CommonArgs::install).
pub fn set_json(on: bool) {
    JSON.store(on, Ordering::Relaxed);
}

/// Whether `--json` is on.
pub fn is_json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Prints a line of human text: stdout normally, stderr under `--json`.
#[macro_export]
macro_rules! say {
    () => { $crate::output::say_line(::std::format_args!("")) };
    ($($arg:tt)*) => { $crate::output::say_line(::std::format_args!($($arg)*)) };
}

#[doc(hidden)]
pub fn say_line(args: std::fmt::Arguments<'_>) {
    // Errors writing to a closed pipe (`| head`) must not panic the example.
    if is_json() {
        let _ = writeln!(std::io::stderr().lock(), "{args}");
    } else {
        let _ = writeln!(std::io::stdout().lock(), "{args}");
    }
}

/// Writes one JSON object as one line on stdout, if `--json` is on.
pub fn emit<T: Serialize>(value: &T) {
    if !is_json() {
        return;
    }
    match serde_json::to_string(value) {
        Ok(line) => {
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        }
        Err(e) => say_line(format_args!(
            "warning: could not serialise a JSON line: {e}"
        )),
    }
}

#[derive(Serialize)]
struct CheckLine<'a> {
    kind: &'static str,
    #[serde(rename = "crate")]
    krate: &'a str,
    section: &'a str,
    name: &'a str,
    ok: bool,
    detail: &'a str,
}

/// Prints `ok`/`FAILED` for one of a section's own checks and emits it as a
/// `{"kind":"check",...}` line. A failure is remembered for [`exit_code`].
pub fn check(krate: &str, section: &str, name: &str, ok: bool, detail: &str) -> bool {
    // After Ctrl-C, results are cut short: judging them would only report the interruption.
    if crate::interrupt::requested() {
        return ok;
    }
    if !ok {
        FAILED_CHECKS.fetch_add(1, Ordering::Relaxed);
    }
    let mark = if ok { "ok    " } else { "FAILED" };
    if detail.is_empty() {
        say_line(format_args!("  [{mark}] {name}"));
    } else {
        say_line(format_args!("  [{mark}] {name}: {detail}"));
    }
    emit(&CheckLine {
        kind: "check",
        krate,
        section,
        name,
        ok,
        detail,
    });
    ok
}

/// `1 thread`, `2 threads`: a count with its noun, for the rows' names.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Number of failed checks so far in this process.
pub fn failed_checks() -> usize {
    FAILED_CHECKS.load(Ordering::Relaxed)
}

/// The process exit code: failure when any check failed. Return it from `main`.
pub fn exit_code() -> ExitCode {
    match failed_checks() {
        0 => ExitCode::SUCCESS,
        n => {
            let _ = writeln!(
                std::io::stderr().lock(),
                "error: {n} check(s) failed (see FAILED above)"
            );
            ExitCode::FAILURE
        }
    }
}
