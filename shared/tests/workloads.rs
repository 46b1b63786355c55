//! The tutorials' workloads: seeded, reproducible, and equal to what Python computes.

use shared::workloads::*;

#[test]
fn scrypt_matches_pythons_hashlib() {
    let d = scrypt::digest(scrypt::MY_PASSWORD.as_bytes(), &scrypt::Params::TUTORIAL);
    assert_eq!(hex::encode(d), scrypt::MY_PASSWORD_HEX);
    let pw = &scrypt::passwords(8)[7];
    assert_eq!(pw, "password 7");
    let d = scrypt::digest(pw.as_bytes(), &scrypt::Params::TUTORIAL);
    assert_eq!(hex::encode(d), scrypt::PASSWORDS_HEX[7]);
}

#[test]
fn quick_scrypt_matches_pythons_hashlib() {
    let quick = scrypt::Params::QUICK;
    let (mine, batch) = scrypt::known_hex(&quick).unwrap();
    let d = scrypt::digest(scrypt::MY_PASSWORD.as_bytes(), &quick);
    assert_eq!(hex::encode(d), mine);
    for (pw, expected) in scrypt::passwords(8).iter().zip(batch) {
        assert_eq!(hex::encode(scrypt::digest(pw.as_bytes(), &quick)), expected);
    }
    let tutorial = scrypt::known_hex(&scrypt::Params::TUTORIAL).unwrap();
    assert_eq!(tutorial.0, scrypt::MY_PASSWORD_HEX);
    let other = scrypt::Params { p: 1, ..quick };
    assert!(scrypt::known_hex(&other).is_none());
}

#[test]
fn batches_are_judged_against_hashlib() {
    let quick = scrypt::Params::QUICK;
    let batch: Vec<String> = scrypt::passwords(3)
        .iter()
        .map(|pw| scrypt::hex_digest(pw, &quick))
        .collect();
    assert_eq!(scrypt::batch_matches_hashlib(&quick, &batch), Some(true));
    let mut wrong = batch.clone();
    wrong.swap(0, 1);
    assert_eq!(scrypt::batch_matches_hashlib(&quick, &wrong), Some(false));
    let other = scrypt::Params { p: 1, ..quick };
    assert_eq!(scrypt::batch_matches_hashlib(&other, &batch), None);
    let mine = scrypt::hex_digest(scrypt::MY_PASSWORD, &quick);
    assert_eq!(scrypt::mine_matches_hashlib(&quick, &mine), Some(true));
    assert_eq!(scrypt::mine_matches_hashlib(&quick, &batch[0]), Some(false));
    assert!(
        quick
            .describe(8)
            .starts_with("scrypt of 8 passwords (n=2^7, r=256, p=2")
    );
}

#[test]
fn seeded_workloads_are_reproducible() {
    assert_eq!(queue_tasks(7), queue_tasks(7));
    assert_ne!(queue_tasks(7), queue_tasks(8));
    let tasks = queue_tasks(1);
    assert_eq!(tasks.len(), 26);
    assert!(tasks[..15].iter().all(|t| (1..=5).contains(&t.secs)));
    assert!(tasks[15..].iter().all(|t| (2..=6).contains(&t.secs)));
    assert_eq!(tasks[15].id, 100);
    assert_eq!(tasks[25].id, 110);

    let a = matrix_batch(3, 2, 4, 3);
    assert_eq!(a, matrix_batch(3, 2, 4, 3));
    assert_eq!(a.shape(), &[2, 4, 3]);
    assert!(a.iter().all(|&v| (0.0..1.0).contains(&v)));
}

#[test]
fn service_workload_is_seeded_per_iteration() {
    let w = service::Workload::new(5, 3, 2, 64);
    assert_eq!(w.sleeps_s.len(), 3);
    assert!(w.sleeps_s.iter().flatten().all(|s| (0.0..1.0).contains(s)));
    assert_eq!(w.fft_input(2, 1), w.fft_input(2, 1));
    assert_ne!(w.fft_input(2, 1), w.fft_input(1, 2));
    assert_eq!(w.cpu_step(1, 1), w.cpu_step(1, 1));
    assert!(w.longest_sleep_s() >= w.request_sleep_s(0));
}

#[test]
fn fft_of_a_constant_is_an_impulse() {
    use rustfft::num_complex::Complex64;
    let mut data = vec![Complex64::new(1.0, 0.0); 8];
    service::fft_forward(&mut data);
    assert!((data[0].re - 8.0).abs() < 1e-12);
    assert!(data[1..].iter().all(|c| c.norm() < 1e-12));
}

#[test]
fn csv_file_has_the_tutorials_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.csv");
    csv_file::write(&path, 5).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        "line,data,0\nline,data,1\nline,data,2\nline,data,3\nline,data,4\n"
    );
    assert_eq!(csv_file::expected_sum(5), 10);
}

#[test]
fn web_helpers() {
    let urls = web::wiki_urls("http://127.0.0.1:1/");
    assert_eq!(urls[2], "http://127.0.0.1:1/wiki/this_page_does_not_exist");
    assert_eq!(web::image_body().len(), web::IMAGE_BYTES);
    assert_eq!(web::existence(404), "does not exist");
    assert_eq!(web::existence(503), "unknown");
}

#[test]
fn rows_differ_relative_to_their_largest_value() {
    let a = [vec![10.0, 1.0], vec![2.0]];
    let b = [vec![10.0, 1.0 + 1e-9], vec![2.0]];
    assert!((max_rel_diff_rows(&a, &b) - 1e-10).abs() < 1e-15);
    assert_eq!(max_rel_diff_rows(&a, &a), 0.0);
    assert_eq!(max_rel_diff_rows(&a, &b[..1]), f64::INFINITY);
    assert_eq!(
        max_rel_diff_rows(&a, &[vec![10.0], vec![2.0]]),
        f64::INFINITY
    );
}

#[test]
fn page_status_says_why_it_is_unknown() {
    let ok = web::PageStatus::of("u", Ok(200));
    assert_eq!((ok.status, ok.reason.as_deref()), ("exists", None));
    assert_eq!(ok.to_string(), "u - exists");
    let odd = web::PageStatus::of("u", Ok(503));
    assert_eq!(odd.line(), "u - unknown");
    assert_eq!(odd.to_string(), "u - unknown (HTTP 503)");
    let refused = reqwest::blocking::get(shared::server::unreachable_url().unwrap()).unwrap_err();
    let page = web::PageStatus::of("u", Err(&refused));
    assert_eq!(page.status, "unknown");
    assert!(page.reason.unwrap().starts_with("cannot connect: "));
}
