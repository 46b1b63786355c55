//! Readings from the OS (`shared::system`).

use shared::system::{cores, rss_bytes, self_rss_bytes, self_virtual_bytes};

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
