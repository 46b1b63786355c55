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

/// Peak resident memory of this process (`VmHWM`), in bytes.
pub fn self_peak_rss_bytes() -> std::io::Result<u64> {
    status_kib(Path::new("/proc/self/status"), "VmHWM:").map(|k| k * 1024)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_grows_when_memory_is_touched() {
        let before = self_rss_bytes().unwrap();
        let buf = vec![1u8; 64 << 20];
        let after = self_rss_bytes().unwrap();
        assert_eq!(buf.iter().map(|&b| b as u64).sum::<u64>(), 64 << 20);
        assert!(
            after >= before + (48 << 20),
            "before {before}, after {after}"
        );
        assert!(self_peak_rss_bytes().unwrap() >= after);
        assert!(cores() >= 1);
    }

    #[test]
    fn reserving_address_space_grows_virtual_memory_not_rss() {
        let before = self_virtual_bytes().unwrap();
        // A thread's stack is reserved whole when the thread starts, but only touched pages
        // become resident.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::Builder::new()
            .stack_size(512 << 20)
            .spawn(move || rx.recv())
            .unwrap();
        let during = self_virtual_bytes().unwrap();
        tx.send(()).unwrap();
        t.join().unwrap().unwrap();
        assert!(
            during >= before + (200 << 20),
            "before {before}, during {during}"
        );
        assert!(during > self_rss_bytes().unwrap());
    }

    #[test]
    fn missing_process_is_an_error() {
        assert!(rss_bytes(u32::MAX).is_err());
    }
}
