//! Messages between processes (`shared::message`).

use shared::message::{decode, encode};

#[test]
fn values_round_trip_and_bad_bytes_are_errors() {
    let bytes = encode(&(7u32, "seven".to_owned())).unwrap();
    assert_eq!(
        decode::<(u32, String)>(&bytes).unwrap(),
        (7, "seven".to_owned())
    );
    let mut longer = bytes.clone();
    longer.push(0);
    let err = decode::<(u32, String)>(&longer).unwrap_err();
    assert!(err.to_string().contains("1 bytes left over"), "{err}");
    assert!(decode::<(u32, String)>(&bytes[..2]).is_err());
}
