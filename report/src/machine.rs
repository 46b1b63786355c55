//! The machine line of the report: CPU, cores, memory, OS, rustc, BLAS, read from the OS.
//!
//! Every field is read, never assumed: `/proc/cpuinfo`, `/proc/meminfo`, `/etc/os-release`,
//! `rustc -V`, and `ldd` on the example binaries for the BLAS library they would load. What
//! cannot be read says so (`"unknown (...)"`) instead of failing the run.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

/// What the run ran on, and how it was run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model, e.g. `"AMD EPYC 7B13"`.
    pub cpu: String,
    /// Logical cores available to the run.
    pub cores: usize,
    /// Total memory in GiB.
    pub memory_gib: f64,
    /// Operating system and kernel, e.g. `"Debian GNU/Linux 12 (bookworm), Linux 6.1.0"`.
    pub os: String,
    /// `rustc -V`.
    pub rustc: String,
    /// The BLAS/LAPACK library the example binaries would load (`ldd`), or why none.
    pub blas: String,
    /// The Python interpreter's version, when Python ran.
    #[serde(default)]
    pub python: Option<String>,
    /// When the run started, UTC, RFC 3339.
    pub started_utc: String,
    /// `--scale` of the run.
    pub scale: f64,
    /// `--quick` of the run.
    pub quick: bool,
}

impl Machine {
    /// Reads everything from this machine; `binaries` are asked which BLAS they link.
    pub fn detect(binaries: &[PathBuf], scale: f64, quick: bool) -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let kernel = read("/proc/sys/kernel/osrelease").trim().to_owned();
        let os = match os_name(&read("/etc/os-release")) {
            Some(name) if !kernel.is_empty() => format!("{name}, Linux {kernel}"),
            Some(name) => name,
            None => format!("{} {kernel}", std::env::consts::OS),
        };
        Self {
            cpu: cpu_model(&read("/proc/cpuinfo")).unwrap_or_else(|| "unknown CPU".to_owned()),
            cores: shared::system::cores(),
            memory_gib: mem_total_gib(&read("/proc/meminfo")).unwrap_or(0.0),
            os,
            rustc: command_line("rustc", &["-V"])
                .unwrap_or_else(|| "unknown (rustc not on PATH)".to_owned()),
            blas: blas(binaries),
            python: None,
            started_utc: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            scale,
            quick,
        }
    }

    /// The report's one-line summary.
    pub fn line(&self) -> String {
        let mut s = format!(
            "{} · {} cores · {:.1} GiB · {} · {} · BLAS: {}",
            self.cpu, self.cores, self.memory_gib, self.os, self.rustc, self.blas
        );
        if let Some(py) = &self.python {
            s.push_str(&format!(" · {py}"));
        }
        s
    }
}

/// The first `model name` of `/proc/cpuinfo`.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// `MemTotal` of `/proc/meminfo`, in GiB.
pub fn mem_total_gib(meminfo: &str) -> Option<f64> {
    let kib: f64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib / (1024.0 * 1024.0))
}

/// `PRETTY_NAME` of `/etc/os-release`.
pub fn os_name(os_release: &str) -> Option<String> {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
}

fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// The BLAS/LAPACK libraries `ldd` resolves for the binaries, with symlinks followed (Debian
/// switches OpenBLAS variants with `update-alternatives`, so the resolved file is the truth).
fn blas(binaries: &[PathBuf]) -> String {
    let mut found: Vec<String> = Vec::new();
    for bin in binaries {
        let Ok(out) = Command::new("ldd").arg(bin).output() else {
            return "unknown (ldd not found)".to_owned();
        };
        for lib in blas_libraries(&String::from_utf8_lossy(&out.stdout)) {
            let real = std::fs::canonicalize(&lib).unwrap_or_else(|_| PathBuf::from(&lib));
            let shown = describe(Path::new(&lib), &real);
            if !found.contains(&shown) {
                found.push(shown);
            }
        }
    }
    if found.is_empty() {
        "none linked by these binaries".to_owned()
    } else {
        found.join(", ")
    }
}

fn describe(link: &Path, real: &Path) -> String {
    if link == real {
        link.display().to_string()
    } else {
        format!("{} -> {}", link.display(), real.display())
    }
}

/// Paths of BLAS or LAPACK libraries in `ldd` output.
pub fn blas_libraries(ldd: &str) -> Vec<String> {
    ldd.lines()
        .filter_map(|l| {
            let (name, rest) = l.trim().split_once(" => ")?;
            let lower = name.to_ascii_lowercase();
            if !(lower.contains("blas") || lower.contains("lapack")) {
                return None;
            }
            rest.split_whitespace()
                .next()
                .filter(|p| p.starts_with('/'))
                .map(str::to_owned)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_parsed() {
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC  7B13 64-Core Processor\nflags : x\n";
        assert_eq!(
            cpu_model(cpuinfo).as_deref(),
            Some("AMD EPYC 7B13 64-Core Processor")
        );
        assert_eq!(cpu_model("nothing"), None);
        let gib = mem_total_gib("MemTotal:       24576000 kB\nMemFree: 1 kB\n").unwrap();
        assert!((gib - 23.4375).abs() < 1e-9);
        assert_eq!(
            os_name("NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n").as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
    }

    #[test]
    fn blas_is_found_in_ldd_output() {
        let ldd = "\tlinux-vdso.so.1 (0x00007ffc)\n\
            \tlibopenblas.so.0 => /lib/x86_64-linux-gnu/libopenblas.so.0 (0x00007f)\n\
            \tliblapack.so.3 => /lib/x86_64-linux-gnu/liblapack.so.3 (0x00007f)\n\
            \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n";
        assert_eq!(
            blas_libraries(ldd),
            [
                "/lib/x86_64-linux-gnu/libopenblas.so.0",
                "/lib/x86_64-linux-gnu/liblapack.so.3"
            ]
        );
        assert!(blas_libraries("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n").is_empty());
    }

    #[test]
    fn detect_reads_this_machine() {
        let m = Machine::detect(&[], 0.5, true);
        assert_eq!(m.cores, shared::system::cores());
        assert_eq!((m.scale, m.quick, m.python.as_deref()), (0.5, true, None));
        assert_eq!(m.blas, "none linked by these binaries");
        let started = chrono::DateTime::parse_from_rfc3339(&m.started_utc).unwrap();
        assert_eq!(started.offset().local_minus_utc(), 0, "{}", m.started_utc);
        assert!(m.started_utc.ends_with('Z'), "{}", m.started_utc);
    }

    #[test]
    fn the_line_names_every_field_and_python_when_it_ran() {
        let mut m = Machine {
            cpu: "CPU X".into(),
            cores: 2,
            memory_gib: 23.44,
            os: "Debian 12, Linux 6.1".into(),
            rustc: "rustc 1.85.0".into(),
            blas: "/lib/libopenblas.so.0".into(),
            python: None,
            started_utc: "2025-01-02T03:04:05Z".into(),
            scale: 1.0,
            quick: false,
        };
        let line = "CPU X · 2 cores · 23.4 GiB · Debian 12, Linux 6.1 · rustc 1.85.0 · BLAS: /lib/libopenblas.so.0";
        assert_eq!(m.line(), line);
        m.python = Some("Python 3.11.2".into());
        assert_eq!(m.line(), format!("{line} · Python 3.11.2"));
    }
}
