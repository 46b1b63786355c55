//! `report run`: every section of every example binary (and of its Python counterpart), one
//! process per section, with progress, into `results/<UTC time>/`.
//!
//! Each binary lists its sections with the hidden `--list-sections`; each section then runs
//! as `<binary> <section> --json --scale S [--quick]`. Its stdout (JSON lines only) goes to
//! `results.jsonl`, its stderr (the human tables) to `logs/<crate>-<section>.log`. After each
//! section the runner adds a `{"kind":"section",...}` line saying whether it exited 0, so a
//! failure is in the results even when the section printed nothing.
//!
//! Every section runs in a process group of its own, so that a timeout or Ctrl-C kills the
//! section together with any worker processes it started: no child outlives the run.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::data::{Key, Results, SectionRun, same_name};
use crate::machine::Machine;
use crate::render::{self, Rendered};
use crate::tutorials::Tutorials;
use shared::say;
use shared::server::Server;
use shared::workloads;

/// Set by the Ctrl-C handler; the runner then kills the running section and stops.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Makes Ctrl-C (and SIGTERM/SIGHUP) stop the run cleanly: the running section's process
/// group is killed, what was measured is rendered, and the exit code says so. Call once from
/// `main`.
pub fn install_interrupt_handler() -> anyhow::Result<()> {
    ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst))
        .context("cannot install the Ctrl-C handler")
}

/// Python beside Rust.
#[derive(Debug, Clone)]
pub struct PythonOptions {
    /// The interpreter (normally `python/.venv/bin/python`).
    pub interpreter: PathBuf,
    /// Where the programs are: `<dir>/<binary name with _ for ->.py`.
    pub dir: PathBuf,
}

/// What to run and how.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The example binaries, in running order.
    pub binaries: Vec<PathBuf>,
    /// `--quick` for every section.
    pub quick: bool,
    /// `--scale` for every section.
    pub scale: f64,
    /// The directory that holds one directory per run, and the `latest` link.
    pub results_root: PathBuf,
    /// Also run the Python programs.
    pub python: Option<PythonOptions>,
    /// A section still running after this long is killed and counted as failed.
    pub timeout: Duration,
    /// The tutorials' figures and claims, for the report.
    pub tutorials: Tutorials,
    /// Run only these `crate/section`s (all when empty).
    pub only: Vec<String>,
}

impl RunOptions {
    /// Whether `--only` lets this section run.
    pub fn selected(&self, krate: &str, section: &str) -> bool {
        self.only.is_empty()
            || self.only.iter().any(|o| {
                o.split_once('/')
                    .is_some_and(|(k, s)| k == krate && same_name(s, section))
            })
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// `results/<UTC time>/`.
    pub dir: PathBuf,
    /// One record per section run.
    pub runs: Vec<SectionRun>,
    /// The report and charts.
    pub rendered: Rendered,
    /// Whether Ctrl-C stopped the run early.
    pub interrupted: bool,
}

impl Outcome {
    /// `crate/section (language)` of every section that failed.
    pub fn failed(&self) -> Vec<String> {
        self.runs
            .iter()
            .filter(|r| !r.ok)
            .map(|r| format!("{}/{} ({})", r.key.krate, r.key.section, r.key.language))
            .collect()
    }
}

/// One program whose sections are run: a Rust binary or a Python script.
#[derive(Debug, Clone)]
struct Program {
    krate: String,
    language: &'static str,
    command: Vec<OsString>,
    extra_args: Vec<String>,
}

impl Program {
    fn key(&self, section: &str) -> Key {
        Key::new(self.language, &self.krate, section)
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.command[0]);
        cmd.args(&self.command[1..]);
        cmd
    }
}

/// The crate a binary belongs to: its file name (every example crate is one binary).
fn crate_of(binary: &Path) -> String {
    binary.file_name().map_or_else(
        || binary.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Runs everything, writes the results and the report. Fails only when nothing can be run
/// (a missing binary, an unwritable directory); failing sections are in [`Outcome::failed`].
pub fn run(opts: &RunOptions) -> anyhow::Result<Outcome> {
    if opts.binaries.is_empty() {
        anyhow::bail!("no example binaries given: pass them after `--` (see `report run --help`)");
    }
    for b in &opts.binaries {
        if !b.is_file() {
            anyhow::bail!(
                "{} does not exist: build the examples first (cargo build --release --workspace)",
                b.display()
            );
        }
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
    let dir = unique_dir(&opts.results_root, &stamp)?;
    std::fs::create_dir_all(dir.join("logs"))
        .with_context(|| format!("cannot create {}", dir.join("logs").display()))?;
    let jsonl = dir.join("results.jsonl");
    let sink = Arc::new(Mutex::new(
        File::create(&jsonl).with_context(|| format!("cannot create {}", jsonl.display()))?,
    ));

    let mut machine = Machine::detect(&opts.binaries, opts.scale, opts.quick);
    let mut programs: Vec<Program> = opts
        .binaries
        .iter()
        .map(|b| Program {
            krate: crate_of(b),
            language: "rust",
            command: vec![b.clone().into_os_string()],
            extra_args: Vec::new(),
        })
        .collect();

    // Python needs a server for its HTTP sections and the seeded inputs of the Rust side.
    let mut _server = None;
    if let Some(py) = &opts.python {
        machine.python = Some(python_version(&py.interpreter)?);
        let server = Server::start_with_latency(Duration::from_millis(100))?;
        let workloads_file = dir.join("workloads.json");
        let seed = shared::CommonArgs::default().seed;
        std::fs::write(
            &workloads_file,
            serde_json::to_string_pretty(&python_workloads(seed))?,
        )
        .with_context(|| format!("cannot write {}", workloads_file.display()))?;
        for b in &opts.binaries {
            let krate = crate_of(b);
            let script = py.dir.join(format!("{}.py", krate.replace('-', "_")));
            if !script.is_file() {
                say!(
                    "note: no Python counterpart for {krate} ({} not found)",
                    script.display()
                );
                continue;
            }
            programs.push(Program {
                krate,
                language: "python",
                command: vec![
                    py.interpreter.clone().into_os_string(),
                    script.into_os_string(),
                ],
                extra_args: vec![
                    "--base-url".to_owned(),
                    server.base_url(),
                    "--workloads".to_owned(),
                    workloads_file.display().to_string(),
                ],
            });
        }
        _server = Some(server);
    }
    write_line(
        &sink,
        &with_kind("machine", serde_json::to_value(&machine)?),
    )?;
    say!("machine: {}", machine.line());
    say!(
        "running with --scale {}{} into {}",
        opts.scale,
        if opts.quick { " --quick" } else { "" },
        dir.display()
    );

    // Every (program, section), listed by the programs themselves.
    let mut plan: Vec<(usize, String)> = Vec::new();
    let mut runs: Vec<SectionRun> = Vec::new();
    for (i, p) in programs.iter().enumerate() {
        match list_sections(p) {
            Ok(sections) if sections.is_empty() => {
                // A crate whose binary is still a placeholder lists nothing: nothing to run,
                // and the report lists its sections under "Not measured in this run".
                say!(
                    "note: {} ({}) lists no sections: skipped",
                    p.krate,
                    p.language
                );
            }
            Ok(sections) => plan.extend(
                sections
                    .into_iter()
                    .filter(|s| opts.selected(&p.krate, s))
                    .map(|s| (i, s)),
            ),
            Err(e) => {
                let r = SectionRun {
                    key: p.key("--list-sections"),
                    ok: false,
                    exit_code: None,
                    elapsed_s: 0.0,
                    reason: Some(format!("{e:#}")),
                    log: None,
                };
                write_line(&sink, &with_kind("section", serde_json::to_value(&r)?))?;
                runs.push(r);
            }
        }
    }

    if plan.is_empty() && !opts.only.is_empty() {
        anyhow::bail!(
            "no section matched --only {} (sections are listed by `<binary> --list-sections`)",
            opts.only.join(", ")
        );
    }
    let bar = progress_bar(plan.len() as u64);
    let mut interrupted = false;
    for (n, (i, section)) in plan.iter().enumerate() {
        if INTERRUPTED.load(Ordering::SeqCst) {
            interrupted = true;
            break;
        }
        let p = &programs[*i];
        let name = format!("{} {section} ({})", p.krate, p.language);
        if bar.is_hidden() {
            say!("[{}/{}] {name} ...", n + 1, plan.len());
        }
        let r = run_section(p, section, opts, &dir, &sink, &bar, &name)?;
        let line = format!(
            "  {} {:>8}  {name}",
            if r.ok { "ok    " } else { "FAILED" },
            format!("{:.1} s", r.elapsed_s)
        );
        if bar.is_hidden() {
            say!("{line}");
        } else {
            bar.println(line);
        }
        bar.inc(1);
        write_line(&sink, &with_kind("section", serde_json::to_value(&r)?))?;
        interrupted |= r.reason.as_deref() == Some(INTERRUPTED_REASON);
        runs.push(r);
        if interrupted {
            break;
        }
    }
    bar.finish_and_clear();
    drop(_server);

    let results = Results::load(&jsonl)?;
    let rendered = render::render(&dir, &results, &opts.tutorials)?;
    update_latest(&opts.results_root, &dir)?;
    let outcome = Outcome {
        dir,
        runs,
        rendered,
        interrupted,
    };
    summary(&outcome, &results);
    Ok(outcome)
}

const INTERRUPTED_REASON: &str = "interrupted (Ctrl-C): the section was killed";

fn unique_dir(root: &Path, stamp: &str) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(root)
        .with_context(|| format!("cannot create the results directory {}", root.display()))?;
    let mut dir = root.join(stamp);
    let mut k = 1;
    while dir.exists() {
        k += 1;
        dir = root.join(format!("{stamp}-{k}"));
    }
    Ok(dir)
}

fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] section {pos}/{len} {bar:24.cyan/blue} {wide_msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn with_kind(kind: &str, mut v: Value) -> Value {
    if let Some(obj) = v.as_object_mut() {
        obj.insert("kind".to_owned(), Value::from(kind));
    }
    v
}

fn write_line(sink: &Mutex<File>, v: &Value) -> anyhow::Result<()> {
    writeln!(sink.lock(), "{v}").context("cannot write results.jsonl")
}

fn python_version(interpreter: &Path) -> anyhow::Result<String> {
    let out = Command::new(interpreter)
        .arg("--version")
        .output()
        .with_context(|| {
            format!(
                "cannot run the Python interpreter {} (scripts/run_all.sh --with-python creates it)",
                interpreter.display()
            )
        })?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || text.is_empty() {
        anyhow::bail!("{} --version failed", interpreter.display());
    }
    Ok(text)
}

fn list_sections(p: &Program) -> anyhow::Result<Vec<String>> {
    let mut cmd = p.command();
    cmd.arg("--list-sections").stdin(Stdio::null());
    let out = output_with_timeout(&mut cmd, Duration::from_secs(60))
        .with_context(|| format!("{} --list-sections", p.krate))?;
    if !out.0 {
        anyhow::bail!(
            "`{} --list-sections` failed: {}",
            p.krate,
            out.2.lines().last().unwrap_or("no message")
        );
    }
    let names: Vec<String> = out
        .1
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(names)
}

/// (success, stdout, stderr) of a short command, killed after `timeout`.
fn output_with_timeout(
    cmd: &mut Command,
    timeout: Duration,
) -> anyhow::Result<(bool, String, String)> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start it")?;
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut s);
            }
            s
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().context("cannot wait for it")? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("it did not answer within {} s", timeout.as_secs());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok((
        status.success(),
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    ))
}

/// Kills a section's whole process group (the section and any workers it started).
struct GroupGuard(Child);

impl GroupGuard {
    fn kill(&mut self) {
        // SAFETY: kill(2) with a negative pid signals the process group the child leads
        // (it was started with process_group(0)); the child is not reaped yet, so its pid,
        // and so the group id, still belong to it.
        unsafe {
            libc::kill(-(self.0.id() as i32), libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_section(
    p: &Program,
    section: &str,
    opts: &RunOptions,
    dir: &Path,
    sink: &Arc<Mutex<File>>,
    bar: &ProgressBar,
    name: &str,
) -> anyhow::Result<SectionRun> {
    let log_rel = format!(
        "logs/{}.log",
        crate::charts::slug(&[&p.krate, section, p.language])
    );
    let log = File::create(dir.join(&log_rel))
        .with_context(|| format!("cannot create {}", dir.join(&log_rel).display()))?;
    let mut cmd = p.command();
    cmd.arg(section)
        .arg("--json")
        .arg("--scale")
        .arg(opts.scale.to_string())
        .args(if opts.quick { &["--quick"][..] } else { &[] })
        .args(&p.extra_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        // Its own process group: a timeout or Ctrl-C kills the section and its workers.
        .process_group(0);
    // SAFETY: the closure runs in the child between fork and exec and only calls prctl(2),
    // which is async-signal-safe; it allocates nothing and touches no lock.
    unsafe {
        cmd.pre_exec(|| {
            // If the runner dies without cleaning up (SIGKILL), the section dies with it.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let start = Instant::now();
    let mut child = GroupGuard(
        cmd.spawn()
            .with_context(|| format!("cannot start {} {section}", p.krate))?,
    );
    let stdout = child.0.stdout.take().expect("stdout is piped");
    let reader = {
        let sink = sink.clone();
        let language = p.language;
        std::thread::spawn(move || copy_json_lines(stdout, &sink, language))
    };

    let mut reason = None;
    let status = loop {
        if let Some(status) = child.0.try_wait().context("cannot wait for a section")? {
            break Some(status);
        }
        if INTERRUPTED.load(Ordering::SeqCst) {
            child.kill();
            reason = Some(INTERRUPTED_REASON.to_owned());
            break None;
        }
        if start.elapsed() > opts.timeout {
            child.kill();
            reason = Some(format!(
                "timed out after {} s and was killed",
                opts.timeout.as_secs()
            ));
            break None;
        }
        bar.set_message(format!("{name} {:.0} s", start.elapsed().as_secs_f64()));
        std::thread::sleep(Duration::from_millis(50));
    };
    let elapsed_s = start.elapsed().as_secs_f64();
    let noise = reader.join().unwrap_or_default();
    let exit_code = status.and_then(|s| s.code());
    // Under --json stdout must hold only JSON lines: anything else is a bug in the section.
    let ok = status.is_some_and(|s| s.success()) && noise == 0;
    if !status.is_some_and(|s| s.success()) && reason.is_none() {
        let log = std::fs::read_to_string(dir.join(&log_rel)).unwrap_or_default();
        let why = failure_summary(&log);
        reason = Some(match exit_code {
            Some(c) => format!("exit status {c}: {why}"),
            None => format!("killed by a signal: {why}"),
        });
    }
    if noise > 0 {
        let note = format!("{noise} line(s) on stdout were not JSON (see the log)");
        reason = Some(match reason {
            Some(r) => format!("{r}; {note}"),
            None => note,
        });
    }
    Ok(SectionRun {
        key: p.key(section),
        ok,
        exit_code,
        elapsed_s,
        reason,
        log: Some(log_rel),
    })
}

/// The lines of a failed section's log that say why: a panic and its message, else its last
/// `error...` line, else its last three lines.
fn failure_summary(log: &str) -> String {
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if let Some(i) = lines.iter().position(|l| l.contains("panicked at")) {
        return lines[i..lines.len().min(i + 2)].join(" ");
    }
    if let Some(l) = lines
        .iter()
        .rev()
        .find(|l| l.to_ascii_lowercase().starts_with("error"))
    {
        return (*l).to_owned();
    }
    let tail = &lines[lines.len().saturating_sub(3)..];
    if tail.is_empty() {
        "it printed nothing on stderr".to_owned()
    } else {
        tail.join(" / ")
    }
}

/// Copies the section's stdout into `results.jsonl`, adding `"language"` where a line lacks
/// it (check lines carry none). Returns how many lines were not JSON objects.
fn copy_json_lines(stdout: impl std::io::Read, sink: &Mutex<File>, language: &str) -> usize {
    let mut noise = 0;
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(Value::Object(mut obj)) => {
                obj.entry("language")
                    .or_insert_with(|| Value::from(language));
                if write_line(sink, &Value::Object(obj)).is_err() {
                    noise += 1;
                }
            }
            _ => noise += 1,
        }
    }
    noise
}

fn update_latest(root: &Path, dir: &Path) -> anyhow::Result<()> {
    let link = root.join("latest");
    if std::fs::symlink_metadata(&link).is_ok() {
        std::fs::remove_file(&link)
            .with_context(|| format!("cannot replace {}", link.display()))?;
    }
    let target = dir
        .file_name()
        .map_or_else(|| dir.to_path_buf(), PathBuf::from);
    std::os::unix::fs::symlink(&target, &link)
        .with_context(|| format!("cannot create the link {}", link.display()))
}

fn summary(outcome: &Outcome, results: &Results) {
    say!();
    say!("summary:");
    for r in &outcome.runs {
        let Key {
            language,
            krate,
            section,
        } = &r.key;
        let rows = results.rows_of(krate, section, language).count();
        let failed_checks = results
            .checks_of(krate, section)
            .iter()
            .filter(|c| c.key.language == *language && !c.ok)
            .count();
        let mut status = if r.ok {
            "ok".to_owned()
        } else {
            "FAILED".to_owned()
        };
        if failed_checks > 0 {
            status.push_str(&format!(", {failed_checks} check(s) failed"));
        }
        say!(
            "  {krate:<20} {section:<20} {language:<7} {:>8}  {rows:>3} measurements  {status}",
            format!("{:.1} s", r.elapsed_s)
        );
    }
    let total: f64 = outcome.runs.iter().map(|r| r.elapsed_s).sum();
    say!(
        "  {} sections in {total:.1} s, {} failed",
        outcome.runs.len(),
        outcome.failed().len()
    );
    say!("report: {}", outcome.rendered.report.display());
    say!(
        "charts: {} SVG files in {}",
        outcome.rendered.charts.len(),
        outcome.dir.join("charts").display()
    );
}

/// The seeded inputs of the tutorials' workloads, exactly as the Rust side generates them,
/// for the Python programs (`--workloads FILE`), so both languages run the same numbers.
pub fn python_workloads(seed: u64) -> Value {
    use workloads::{compute_x, scrypt, service, web};
    let service_json = |w: &service::Workload| {
        json!({
            "requests": w.requests,
            "iterations": w.iterations,
            "fft_len": w.fft_len,
            "sleeps_s": w.sleeps_s,
        })
    };
    let params = |p: &scrypt::Params| json!({"log_n": p.log_n, "r": p.r, "p": p.p, "len": p.len});
    let image = web::image_body();
    json!({
        "seed": seed,
        "compute_x": {
            "sleep_s": compute_x::SLEEP_S,
            "inputs": compute_x::inputs(),
            "default_y": compute_x::DEFAULT_Y,
            "partial_y": compute_x::PARTIAL_Y,
        },
        "fake_runtimes_s": workloads::FAKE_RUNTIMES_S,
        "queue_tasks": workloads::queue_tasks(seed),
        "service": {
            "tutorial": service_json(&service::Workload::tutorial(seed)),
            "quick": service_json(&service::Workload::quick(seed)),
        },
        "scrypt": {
            "tutorial": params(&scrypt::Params::TUTORIAL),
            "quick": params(&scrypt::Params::QUICK),
            "salt": String::from_utf8_lossy(scrypt::SALT),
            "my_password": scrypt::MY_PASSWORD,
            "my_password_hex": scrypt::MY_PASSWORD_HEX,
            "passwords": scrypt::passwords(8),
            "passwords_hex": scrypt::PASSWORDS_HEX,
        },
        "csv_rows": workloads::csv_file::ROWS,
        "web": {
            "wiki_pages": web::WIKI_PAGES,
            "image_downloads": web::IMAGE_DOWNLOADS,
            "image_bytes": web::IMAGE_BYTES,
            "image_head_hex": hex::encode(&image[..32]),
            "image_tail_hex": hex::encode(&image[image.len() - 32..]),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdout_lines_get_a_language_and_noise_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let sink = Mutex::new(File::create(&path).unwrap());
        let input = "{\"kind\":\"check\",\"crate\":\"c\",\"section\":\"s\",\"name\":\"n\",\"ok\":true,\"detail\":\"\"}\nhello\n\n{\"kind\":\"span\",\"language\":\"python\"}\n[1]\n";
        let noise = copy_json_lines(input.as_bytes(), &sink, "rust");
        assert_eq!(noise, 2);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["language"], "rust");
        assert_eq!(
            lines[1]["language"], "python",
            "an existing language is kept"
        );
    }

    #[test]
    fn failure_summaries_say_why() {
        let panic = "=== x\nthread 'main' panicked at src/a.rs:1:2:\nindex out of bounds\nstack backtrace:\n  0: main\n";
        assert_eq!(
            failure_summary(panic),
            "thread 'main' panicked at src/a.rs:1:2: index out of bounds"
        );
        let error = "table\nerror in section gil: on purpose\nerror: 1 check(s) failed\n";
        assert_eq!(failure_summary(error), "error: 1 check(s) failed");
        assert_eq!(failure_summary("a\nb\nc\nd\n"), "b / c / d");
        assert_eq!(failure_summary(""), "it printed nothing on stderr");
    }

    #[test]
    fn with_kind_adds_the_kind() {
        let v = with_kind("machine", json!({"cpu": "x"}));
        assert_eq!(v, json!({"kind": "machine", "cpu": "x"}));
    }

    #[test]
    fn python_workloads_are_the_rust_ones() {
        let w = python_workloads(42);
        assert_eq!(w["queue_tasks"].as_array().unwrap().len(), 26);
        assert_eq!(w["queue_tasks"][0]["id"], 0);
        assert_eq!(w["service"]["tutorial"]["fft_len"], 4_000_000);
        assert_eq!(
            w["service"]["tutorial"]["sleeps_s"][0][0],
            workloads::service::Workload::tutorial(42).sleeps_s[0][0]
        );
        assert_eq!(w["scrypt"]["passwords"][7], "password 7");
        assert_eq!(w["web"]["image_head_hex"].as_str().unwrap().len(), 64);
    }

    #[test]
    fn crate_is_the_binary_name_and_latest_is_replaced() {
        assert_eq!(
            crate_of(Path::new("target/release/examples-threads")),
            "examples-threads"
        );
        let root = tempfile::tempdir().unwrap();
        let a = unique_dir(root.path(), "20250101T000000Z").unwrap();
        std::fs::create_dir_all(&a).unwrap();
        let b = unique_dir(root.path(), "20250101T000000Z").unwrap();
        assert!(b.ends_with("20250101T000000Z-2"));
        std::fs::create_dir_all(&b).unwrap();
        update_latest(root.path(), &a).unwrap();
        update_latest(root.path(), &b).unwrap();
        let target = std::fs::read_link(root.path().join("latest")).unwrap();
        assert_eq!(target, PathBuf::from("20250101T000000Z-2"));
    }
}
