//! Integration test: a whole python-fido2-shaped session through the public API only.

use keyfleet_ctap_transport::apdu::split_response;
use keyfleet_ctap_transport::atr::{ATR, HISTORICAL_BYTES, declares_extended_length};
use keyfleet_ctap_transport::{Applet, FIDO_AID, NfcCard, StatusWord};

/// Answers authenticatorGetInfo with a fixed CBOR map and echoes anything else, large enough to
/// need chaining and GET RESPONSE.
struct Applet2 {
    info: Vec<u8>,
}

impl Applet for Applet2 {
    fn ctap2(&mut self, request: &[u8]) -> Vec<u8> {
        match request {
            [0x04] => [&[0x00][..], &self.info].concat(),
            other => [&[0x00][..], other].concat(),
        }
    }

    fn u2f(&mut self, _: u8, _: u8, _: u8, _: &[u8]) -> Result<Vec<u8>, u16> {
        Err(0x6D00)
    }

    fn u2f_enabled(&self) -> bool {
        false
    }
}

/// Sends a CTAP request the way python-fido2's `CtapPcscDevice` does in short mode: 250-byte
/// chained pieces, Le = 00, then GET RESPONSE while the card answers 61xx.
fn call_short(card: &mut NfcCard<Applet2>, request: &[u8]) -> Vec<u8> {
    let mut pieces = request.chunks(250).peekable();
    let mut response = Vec::new();
    while let Some(piece) = pieces.next() {
        let cla = if pieces.peek().is_some() { 0x90 } else { 0x80 };
        let lc = u8::try_from(piece.len()).unwrap();
        let le: &[u8] = if cla == 0x80 { &[0x00] } else { &[] };
        response = card.process(&[&[cla, 0x10, 0x80, 0x00, lc][..], piece, le].concat());
    }
    let mut out = Vec::new();
    loop {
        let (data, sw) = split_response(&response).unwrap();
        out.extend_from_slice(data);
        match sw {
            StatusWord::Success => return out,
            StatusWord::MoreData(n) => response = card.process(&[0x00, 0xC0, 0x00, 0x00, n]),
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The same in python-fido2's extended mode: one case 3E APDU without Le.
fn call_extended(card: &mut NfcCard<Applet2>, request: &[u8]) -> Vec<u8> {
    let lc = u16::try_from(request.len()).unwrap().to_be_bytes();
    let response = card.process(&[&[0x80, 0x10, 0x80, 0x00, 0x00][..], &lc, request].concat());
    let (data, sw) = split_response(&response).unwrap();
    assert_eq!(sw, StatusWord::Success);
    data.to_vec()
}

#[test]
fn python_fido2_shaped_session() {
    let info: Vec<u8> = (0..700u16).map(|i| i.to_be_bytes()[1]).collect();
    let mut card = NfcCard::new(Applet2 { info: info.clone() });
    assert!(declares_extended_length(&HISTORICAL_BYTES));
    assert_eq!(ATR[0], 0x3B);
    card.power_on();
    let select = [&[0x00, 0xA4, 0x04, 0x00, 0x08][..], &FIDO_AID, &[0x00]].concat();
    assert_eq!(card.process(&select), b"FIDO_2_0\x90\x00");

    assert_eq!(call_short(&mut card, &[0x04]), [&[0x00][..], &info].concat());
    for len in [10, 300, 1000] {
        let request: Vec<u8> = (0..len).map(|i: u16| i.to_be_bytes()[1] | 0x01).collect();
        let expected = [&[0x00][..], &request].concat();
        assert_eq!(call_short(&mut card, &request), expected, "short, {len} bytes");
        assert_eq!(call_extended(&mut card, &request), expected, "extended, {len} bytes");
    }

    card.power_off();
    card.power_on();
    assert_eq!(card.process(&[0x80, 0x10, 0x80, 0x00, 0x01, 0x04, 0x00]), [0x69, 0x85]);
}
