//! What the OS says about the machine and about processes' memory.

use std::path::Path;

/// Logical cores available to this process.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Resident memory of a process, in bytes (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_bytes(pid: u32) -> std::io::Result<u64> {
    status_kib(
        &Path::new("/proc").join(pid.to_string()).join("status"),
        "VmRSS:",
    )
    .map(|k| k * 1024)
}

/// Resident memory of this process, in bytes.
pub fn self_rss_bytes() -> std::io::Result<u64> {
    rss_bytes(std::process::id())
}

/// Virtual memory (address space) of this process (`VmSize`), in bytes: what it has reserved,
/// e.g. every thread's whole stack, whether or not the pages were ever touched.
pub fn self_virtual_bytes() -> std::io::Result<u64> {
    status_kib(Path::new("/proc/self/status"), "VmSize:").map(|k| k * 1024)
}

fn status_kib(path: &Path, key: &str) -> std::io::Result<u64> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no {key} line in {}", path.display())))
}

/// Bytes as MiB, for printing.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
