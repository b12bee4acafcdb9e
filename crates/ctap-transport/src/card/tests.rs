use super::*;
use crate::apdu::split_response;

/// A CTAP2 application that records what it was asked. `7F hh ll` asks for a reply of `hhll` bytes;
/// anything else is echoed behind a CTAP2_OK status byte.
#[derive(Default)]
struct TestApplet {
    u2f: bool,
    requests: Vec<Vec<u8>>,
    u2f_calls: Vec<(u8, u8, u8, Vec<u8>)>,
    power_ons: u32,
    power_offs: u32,
}

impl Applet for TestApplet {
    fn ctap2(&mut self, request: &[u8]) -> Vec<u8> {
        self.requests.push(request.to_vec());
        match request {
            [0x7F, hi, lo] => (0..u16::from_be_bytes([*hi, *lo]))
                .map(|i| i.to_be_bytes()[1])
                .collect(),
            _ => [&[0x00], request].concat(),
        }
    }

    fn u2f(&mut self, ins: u8, p1: u8, p2: u8, data: &[u8]) -> Result<Vec<u8>, u16> {
        self.u2f_calls.push((ins, p1, p2, data.to_vec()));
        match (ins, p1) {
            (0x03, _) => Ok(b"U2F_V2".to_vec()),
            (0x01, _) => Ok(data.iter().rev().copied().collect()),
            (0x02, 0x07) => Err(0x6985),
            _ => Err(0x6A80),
        }
    }

    fn u2f_enabled(&self) -> bool {
        self.u2f
    }

    fn power_on(&mut self) {
        self.power_ons += 1;
    }

    fn power_off(&mut self) {
        self.power_offs += 1;
    }
}

const SELECT: [u8; 14] = [
    0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x06, 0x47, 0x2F, 0x00, 0x01, 0x00,
];

fn card() -> NfcCard<TestApplet> {
    card_with(TestApplet::default(), CardConfig::default())
}

fn card_with(applet: TestApplet, config: CardConfig) -> NfcCard<TestApplet> {
    let mut card = NfcCard::with_config(applet, config);
    card.power_on();
    card
}

fn selected() -> NfcCard<TestApplet> {
    let mut card = card();
    assert_eq!(card.process(&SELECT), b"FIDO_2_0\x90\x00");
    card
}

/// Sends `apdu` and checks the response data and status word.
fn check(card: &mut NfcCard<TestApplet>, apdu: &[u8], data: &[u8], sw: u16) {
    let response = card.process(apdu);
    let (got, got_sw) = split_response(&response).expect("a status word");
    assert_eq!((got, u16::from(got_sw)), (data, sw), "APDU {apdu:02x?}");
}

/// A short NFCCTAP_MSG with Le = 00.
fn msg(p1: u8, data: &[u8]) -> Vec<u8> {
    let lc = u8::try_from(data.len()).unwrap();
    [&[0x80, 0x10, p1, 0x00, lc][..], data, &[0x00]].concat()
}

/// A request for a CTAP reply of `len` bytes.
fn big(len: u16) -> [u8; 3] {
    let [hi, lo] = len.to_be_bytes();
    [0x7F, hi, lo]
}

fn pattern(len: u16) -> Vec<u8> {
    (0..len).map(|i| i.to_be_bytes()[1]).collect()
}

#[test]
fn every_command_before_select_is_refused() {
    let mut card = card();
    for apdu in [
        msg(0x80, &[0x04]),
        vec![0x80, 0x11, 0x00, 0x00, 0x00],
        vec![0x80, 0x12, 0x01, 0x00],
        vec![0x00, 0x03, 0x00, 0x00, 0x00],
        vec![0x00, 0xC0, 0x00, 0x00, 0x00],
        vec![0x80, 0x55, 0x00, 0x00],
        vec![0x90, 0x10, 0x80, 0x00, 0x01, 0x04],
    ] {
        check(&mut card, &apdu, &[], 0x6985);
    }
    assert!(card.applet().requests.is_empty());
}

#[test]
fn select_answers_fido_2_0_without_u2f_and_u2f_v2_with_it() {
    let mut card = card();
    check(&mut card, &SELECT, b"FIDO_2_0", 0x9000);
    assert!(card.is_selected());
    let mut card = card_with(
        TestApplet {
            u2f: true,
            ..TestApplet::default()
        },
        CardConfig::default(),
    );
    check(&mut card, &SELECT, b"U2F_V2", 0x9000);
    // Without Le (case 3) the answer still comes back.
    check(&mut card, &SELECT[..13], b"U2F_V2", 0x9000);
}

#[test]
fn select_of_another_aid_is_refused_and_deselects() {
    let mut card = selected();
    let mut other = SELECT;
    other[12] = 0x02;
    check(&mut card, &other, &[], 0x6A82);
    assert!(!card.is_selected());
    check(&mut card, &msg(0x80, &[0x04]), &[], 0x6985);
    // A prefix of the AID is not the AID, and neither is no AID at all.
    check(
        &mut card,
        &[0x00, 0xA4, 0x04, 0x00, 0x04, 0xA0, 0x00, 0x00, 0x06],
        &[],
        0x6A82,
    );
    check(&mut card, &[0x00, 0xA4, 0x04, 0x00], &[], 0x6A82);
}

#[test]
fn select_with_wrong_parameters() {
    let mut card = card();
    let mut by_file_id = SELECT;
    by_file_id[2] = 0x00;
    check(&mut card, &by_file_id, &[], 0x6A86);
    let mut next_occurrence = SELECT;
    next_occurrence[3] = 0x02;
    check(&mut card, &next_occurrence, &[], 0x6A86);
    let mut chained = SELECT;
    chained[0] = 0x10;
    check(&mut card, &chained, &[], 0x6883);
    assert!(!card.is_selected());
    // P2 = 0C (no response data requested) is allowed.
    let mut no_fci = SELECT;
    no_fci[3] = 0x0C;
    check(&mut card, &no_fci, b"FIDO_2_0", 0x9000);
}

#[test]
fn msg_runs_the_request() {
    let mut card = selected();
    check(&mut card, &msg(0x80, &[0x04]), &[0x00, 0x04], 0x9000);
    check(&mut card, &msg(0x00, &[0x01, 0xA0]), &[0x00, 0x01, 0xA0], 0x9000);
    check(&mut card, &[0x80, 0x10, 0x00, 0x00, 0x01, 0x04], &[0x00, 0x04], 0x9000);
    assert_eq!(card.applet().requests, [vec![0x04], vec![0x01, 0xA0], vec![0x04]]);
}

#[test]
fn msg_with_bad_parameters_or_no_data() {
    let mut card = selected();
    check(&mut card, &[0x80, 0x10, 0x80, 0x00, 0x00], &[], 0x6700);
    check(&mut card, &[0x80, 0x10, 0x80, 0x00], &[], 0x6700);
    let mut bad_p1 = msg(0x81, &[0x04]);
    check(&mut card, &bad_p1, &[], 0x6A86);
    bad_p1[2] = 0x40;
    check(&mut card, &bad_p1, &[], 0x6A86);
    let mut bad_p2 = msg(0x80, &[0x04]);
    bad_p2[3] = 0x01;
    check(&mut card, &bad_p2, &[], 0x6A86);
    assert!(card.applet().requests.is_empty());
}

#[test]
fn long_response_goes_through_61xx_and_get_response() {
    let mut card = selected();
    let expected = pattern(600);
    check(&mut card, &msg(0x80, &big(600)), &expected[..256], 0x6100);
    check(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x00], &expected[256..512], 0x6158);
    check(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x58], &expected[512..], 0x9000);
    check(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x00], &[], 0x6985);
}

#[test]
fn get_response_honours_a_smaller_le() {
    let mut card = selected();
    let expected = pattern(20);
    check(
        &mut card,
        &msg(0x80, &big(20))[..8]
            .iter()
            .copied()
            .chain([0x08])
            .collect::<Vec<_>>(),
        &expected[..8],
        0x610C,
    );
    check(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x05], &expected[8..13], 0x6107);
    // No Le at all means "as much as fits in a short response".
    check(&mut card, &[0x00, 0xC0, 0x00, 0x00], &expected[13..], 0x9000);
}

#[test]
fn a_new_command_discards_the_unread_response() {
    let mut card = selected();
    check(&mut card, &msg(0x80, &big(300)), &pattern(300)[..256], 0x612C);
    check(&mut card, &msg(0x80, &[0x04]), &[0x00, 0x04], 0x9000);
    check(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x00], &[], 0x6985);
}

#[test]
fn bad_get_response_is_refused_and_drops_the_unread_response() {
    let mut card = selected();
    check(&mut card, &msg(0x80, &big(300)), &pattern(300)[..256], 0x612C);
    check(&mut card, &[0x00, 0xC0, 0x01, 0x00, 0x00], &[], 0x6A86);
    check(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x00], &[], 0x6985);
    check(&mut card, &msg(0x80, &big(300)), &pattern(300)[..256], 0x612C);
    check(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x01, 0xAA, 0x00], &[], 0x6700);
    check(&mut card, &msg(0x80, &big(300)), &pattern(300)[..256], 0x612C);
    check(&mut card, &[0x10, 0xC0, 0x00, 0x00, 0x00], &[], 0x6A86);
}

#[test]
fn malformed_apdu_and_unknown_class_change_nothing() {
    let mut card = selected();
    check(&mut card, &msg(0x80, &big(300)), &pattern(300)[..256], 0x612C);
    check(&mut card, &[0x00, 0xC0], &[], 0x6700);
    check(&mut card, &[0x80, 0x10, 0x80, 0x00, 0x05, 0x01], &[], 0x6700);
    check(&mut card, &[0x40, 0xC0, 0x00, 0x00, 0x00], &[], 0x6E00);
    check(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x00], &pattern(300)[256..], 0x9000);
    assert!(card.is_selected());
}

#[test]
fn unknown_class_and_logical_channels() {
    let mut card = selected();
    for cla in [0x40, 0x60, 0xA0, 0xC0, 0xE0, 0xFF, 0x84, 0x04] {
        check(&mut card, &[cla, 0x10, 0x80, 0x00, 0x01, 0x04], &[], 0x6E00);
    }
    for cla in [0x01, 0x02, 0x03, 0x81, 0x83, 0x93] {
        check(&mut card, &[cla, 0x10, 0x80, 0x00, 0x01, 0x04], &[], 0x6881);
    }
}

#[test]
fn unknown_instructions() {
    let mut card = selected();
    for (cla, ins) in [
        (0x80, 0x13),
        (0x80, 0xA4),
        (0x80, 0x01),
        (0x00, 0x10),
        (0x00, 0x11),
        (0x00, 0xB0),
        (0x80, 0xC0),
    ] {
        check(&mut card, &[cla, ins, 0x00, 0x00], &[], 0x6D00);
    }
    assert!(card.applet().requests.is_empty());
}

#[test]
fn extended_apdu_without_le_gets_the_whole_response() {
    let mut card = selected();
    let [hi, lo] = 1000u16.to_be_bytes();
    check(
        &mut card,
        &[0x80, 0x10, 0x80, 0x00, 0x00, 0x00, 0x03, 0x7F, hi, lo],
        &pattern(1000),
        0x9000,
    );
    // With an explicit extended Le, longer responses are cut and continued with 61xx.
    check(
        &mut card,
        &[0x80, 0x10, 0x80, 0x00, 0x00, 0x00, 0x03, 0x7F, hi, lo, 0x01, 0x00],
        &pattern(1000)[..256],
        0x6100,
    );
    check(
        &mut card,
        &[0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00],
        &pattern(1000)[256..],
        0x9000,
    );
}

#[test]
fn extended_request_body() {
    let mut card = selected();
    let body: Vec<u8> = (0..3000u16).map(|i| i.to_be_bytes()[1] | 1).collect();
    let apdu = [&[0x80, 0x10, 0x80, 0x00, 0x00, 0x0B, 0xB8][..], &body].concat();
    check(&mut card, &apdu, &[&[0x00][..], &body].concat(), 0x9000);
}

#[test]
fn chained_request_is_reassembled() {
    let mut card = selected();
    let body: Vec<u8> = (0..600u16).map(|i| i.to_be_bytes()[1] | 1).collect();
    check(
        &mut card,
        &[&[0x90, 0x10, 0x80, 0x00, 0xFA][..], &body[..250]].concat(),
        &[],
        0x9000,
    );
    check(
        &mut card,
        &[&[0x90, 0x10, 0x80, 0x00, 0xFA][..], &body[250..500]].concat(),
        &[],
        0x9000,
    );
    assert!(card.applet().requests.is_empty());
    let reply = [&[0x00][..], &body].concat();
    check(
        &mut card,
        &[&[0x80, 0x10, 0x80, 0x00, 0x64][..], &body[500..], &[0x00]].concat(),
        &reply[..256],
        0x6100,
    );
    check(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x00], &reply[256..512], 0x6159);
    check(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x59], &reply[512..], 0x9000);
    assert_eq!(card.applet().requests, [body]);
}

#[test]
fn chain_interrupted_by_another_command_is_dropped() {
    let mut card = selected();
    check(&mut card, &[0x90, 0x10, 0x80, 0x00, 0x01, 0x01], &[], 0x9000);
    // Different INS, then different P1, then GET RESPONSE: each breaks the chain.
    check(&mut card, &[0x80, 0x12, 0x01, 0x00], &[], 0x6883);
    check(&mut card, &msg(0x80, &[0x04]), &[0x00, 0x04], 0x9000);
    check(&mut card, &[0x90, 0x10, 0x80, 0x00, 0x01, 0x01], &[], 0x9000);
    check(&mut card, &msg(0x00, &[0x02]), &[], 0x6883);
    check(&mut card, &[0x90, 0x10, 0x80, 0x00, 0x01, 0x01], &[], 0x9000);
    check(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x00], &[], 0x6883);
    check(&mut card, &msg(0x80, &[0x02]), &[0x00, 0x02], 0x9000);
    assert_eq!(card.applet().requests, [vec![0x04], vec![0x02]]);
}

#[test]
fn select_restarts_a_broken_chain() {
    let mut card = selected();
    check(&mut card, &[0x90, 0x10, 0x80, 0x00, 0x01, 0x01], &[], 0x9000);
    check(&mut card, &SELECT, b"FIDO_2_0", 0x9000);
    check(&mut card, &msg(0x80, &[0x04]), &[0x00, 0x04], 0x9000);
    assert_eq!(card.applet().requests, [vec![0x04]]);
}

#[test]
fn chain_larger_than_the_bound_is_refused() {
    let config = CardConfig {
        max_message: 500,
        ..CardConfig::default()
    };
    let mut card = card_with(TestApplet::default(), config);
    check(&mut card, &SELECT, b"FIDO_2_0", 0x9000);
    let piece = [&[0x90, 0x10, 0x80, 0x00, 0xFA][..], &[0x01; 250]].concat();
    check(&mut card, &piece, &[], 0x9000);
    check(&mut card, &piece, &[], 0x9000);
    check(&mut card, &[0x80, 0x10, 0x80, 0x00, 0x01, 0x01], &[], 0x6700);
    // The chain is gone: the next piece starts a new message.
    check(&mut card, &msg(0x80, &[0x04]), &[0x00, 0x04], 0x9000);
    assert_eq!(card.applet().requests, [vec![0x04]]);
}

#[test]
fn default_bound_stops_an_endless_chain() {
    let mut card = selected();
    let piece = [&[0x90, 0x10, 0x80, 0x00, 0xFF][..], &[0x01; 255]].concat();
    let mut accepted = 0usize;
    loop {
        match card.process(&piece).as_slice() {
            [0x90, 0x00] => accepted += 1,
            [0x67, 0x00] => break,
            other => panic!("unexpected {other:02x?}"),
        }
    }
    assert_eq!(accepted, DEFAULT_MAX_MESSAGE / 255);
    assert!(card.applet().requests.is_empty());
}

#[test]
fn extended_message_larger_than_the_bound_is_refused() {
    let config = CardConfig {
        max_message: 10,
        ..CardConfig::default()
    };
    let mut card = card_with(TestApplet::default(), config);
    check(&mut card, &SELECT, b"FIDO_2_0", 0x9000);
    check(
        &mut card,
        &[&[0x80, 0x10, 0x80, 0x00, 0x00, 0x00, 0x0B][..], &[0x01; 11]].concat(),
        &[],
        0x6700,
    );
    check(
        &mut card,
        &[&[0x80, 0x10, 0x80, 0x00, 0x00, 0x00, 0x0A][..], &[0x01; 10]].concat(),
        &[0x00; 1].iter().chain(&[0x01; 10]).copied().collect::<Vec<_>>(),
        0x9000,
    );
}

#[test]
fn status_updates_never_answers_directly() {
    let mut card = selected();
    check(&mut card, &msg(0x80, &[0x04]), &[0x00, 0x04], 0x9000);
    check(&mut card, &[0x80, 0x11, 0x00, 0x00, 0x00], &[], 0x6985);
    check(&mut card, &[0x80, 0x11, 0x11, 0x00, 0x00], &[], 0x6985);
}

fn polling_card() -> NfcCard<TestApplet> {
    let config = CardConfig {
        status_updates: StatusUpdates::FirstPoll,
        ..CardConfig::default()
    };
    let mut card = card_with(TestApplet::default(), config);
    check(&mut card, &SELECT, b"FIDO_2_0", 0x9000);
    card
}

#[test]
fn status_update_then_result_on_poll() {
    let mut card = polling_card();
    check(&mut card, &msg(0x80, &[0x04]), &[0x01], 0x9100);
    assert!(card.applet().requests.is_empty());
    check(&mut card, &[0x80, 0x11, 0x00, 0x00, 0x00], &[0x00, 0x04], 0x9000);
    check(&mut card, &[0x80, 0x11, 0x00, 0x00, 0x00], &[], 0x6985);
    assert_eq!(card.applet().requests, [vec![0x04]]);
}

#[test]
fn status_update_only_when_the_client_allows_it() {
    let mut card = polling_card();
    check(&mut card, &msg(0x00, &[0x04]), &[0x00, 0x04], 0x9000);
}

#[test]
fn status_update_result_longer_than_le() {
    let mut card = polling_card();
    check(&mut card, &msg(0x80, &big(300)), &[0x01], 0x9100);
    check(&mut card, &[0x80, 0x11, 0x00, 0x00, 0x00], &pattern(300)[..256], 0x612C);
    check(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x2C], &pattern(300)[256..], 0x9000);
    // Extended poll (python-fido2's extended mode) gets it in one piece.
    check(&mut card, &msg(0x80, &big(300)), &[0x01], 0x9100);
    check(
        &mut card,
        &[0x80, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00],
        &pattern(300),
        0x9000,
    );
}

#[test]
fn cancel_drops_the_pending_request() {
    let mut card = polling_card();
    check(&mut card, &msg(0x80, &[0x02]), &[0x01], 0x9100);
    check(
        &mut card,
        &[0x80, 0x11, 0x11, 0x00, 0x00],
        &[CTAP2_ERR_KEEPALIVE_CANCEL],
        0x9000,
    );
    check(&mut card, &[0x80, 0x11, 0x00, 0x00, 0x00], &[], 0x6985);
    assert!(card.applet().requests.is_empty());
}

#[test]
fn bad_polls_keep_the_pending_request() {
    let mut card = polling_card();
    check(&mut card, &msg(0x80, &[0x04]), &[0x01], 0x9100);
    check(&mut card, &[0x80, 0x11, 0x22, 0x00, 0x00], &[], 0x6A86);
    check(&mut card, &[0x80, 0x11, 0x00, 0x01, 0x00], &[], 0x6A86);
    check(&mut card, &[0x80, 0x11, 0x00, 0x00, 0x01, 0x00, 0x00], &[], 0x6700);
    check(&mut card, &[0x80, 0x11, 0x00, 0x00, 0x00], &[0x00, 0x04], 0x9000);
}

#[test]
fn pending_request_is_dropped_by_a_new_msg_select_or_field_off() {
    let mut card = polling_card();
    check(&mut card, &msg(0x80, &[0x01]), &[0x01], 0x9100);
    check(&mut card, &msg(0x80, &[0x02]), &[0x01], 0x9100);
    check(&mut card, &[0x80, 0x11, 0x00, 0x00, 0x00], &[0x00, 0x02], 0x9000);
    check(&mut card, &msg(0x80, &[0x03]), &[0x01], 0x9100);
    check(&mut card, &SELECT, b"FIDO_2_0", 0x9000);
    check(&mut card, &[0x80, 0x11, 0x00, 0x00, 0x00], &[], 0x6985);
    check(&mut card, &msg(0x80, &[0x03]), &[0x01], 0x9100);
    card.power_off();
    card.power_on();
    check(&mut card, &SELECT, b"FIDO_2_0", 0x9000);
    check(&mut card, &[0x80, 0x11, 0x00, 0x00, 0x00], &[], 0x6985);
    assert_eq!(card.applet().requests, [vec![0x02]]);
}

#[test]
fn control_end_session_deselects() {
    let mut card = selected();
    check(&mut card, &[0x80, 0x12, 0x02, 0x00], &[], 0x6A86);
    check(&mut card, &[0x80, 0x12, 0x01, 0x01], &[], 0x6A86);
    check(&mut card, &[0x80, 0x12, 0x01, 0x00, 0x01, 0x00], &[], 0x6700);
    assert!(card.is_selected());
    check(&mut card, &[0x80, 0x12, 0x01, 0x00], &[], 0x9000);
    assert!(!card.is_selected());
    check(&mut card, &msg(0x80, &[0x04]), &[], 0x6985);
}

#[test]
fn u2f_disabled_means_unknown_instructions() {
    let mut card = selected();
    for ins in [0x01, 0x02, 0x03] {
        check(&mut card, &[0x00, ins, 0x00, 0x00, 0x00], &[], 0x6D00);
    }
    assert!(card.applet().u2f_calls.is_empty());
}

#[test]
fn u2f_messages_reach_the_applet() {
    let mut card = card_with(
        TestApplet {
            u2f: true,
            ..TestApplet::default()
        },
        CardConfig::default(),
    );
    check(&mut card, &SELECT, b"U2F_V2", 0x9000);
    check(&mut card, &[0x00, 0x03, 0x00, 0x00, 0x00], b"U2F_V2", 0x9000);
    check(
        &mut card,
        &[0x00, 0x01, 0x03, 0x00, 0x03, 0x01, 0x02, 0x03, 0x00],
        &[0x03, 0x02, 0x01],
        0x9000,
    );
    check(&mut card, &[0x00, 0x02, 0x07, 0x00, 0x01, 0xAA, 0x00], &[], 0x6985);
    check(&mut card, &[0x00, 0x02, 0x03, 0x00, 0x01, 0xAA, 0x00], &[], 0x6A80);
    // Extended U2F and chained U2F work the same.
    check(
        &mut card,
        &[0x00, 0x01, 0x03, 0x00, 0x00, 0x00, 0x02, 0x01, 0x02, 0x00, 0x00],
        &[0x02, 0x01],
        0x9000,
    );
    check(&mut card, &[0x10, 0x01, 0x03, 0x00, 0x01, 0x01], &[], 0x9000);
    check(
        &mut card,
        &[0x00, 0x01, 0x03, 0x00, 0x01, 0x02, 0x00],
        &[0x02, 0x01],
        0x9000,
    );
    assert_eq!(card.applet().u2f_calls.len(), 6);
    assert_eq!(card.applet().u2f_calls[1], (0x01, 0x03, 0x00, vec![0x01, 0x02, 0x03]));
}

#[test]
fn field_off_resets_everything_and_tells_the_applet() {
    let mut card = selected();
    check(&mut card, &msg(0x80, &big(300)), &pattern(300)[..256], 0x612C);
    check(&mut card, &[0x90, 0x10, 0x80, 0x00, 0x01, 0x01], &[], 0x9000);
    card.power_off();
    assert_eq!((card.applet().power_ons, card.applet().power_offs), (1, 1));
    assert!(!card.is_selected());
    card.power_on();
    assert_eq!(card.applet().power_ons, 2);
    check(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x00], &[], 0x6985);
    check(&mut card, &SELECT, b"FIDO_2_0", 0x9000);
    check(&mut card, &[0x00, 0xC0, 0x00, 0x00, 0x00], &[], 0x6985);
    check(&mut card, &msg(0x80, &[0x04]), &[0x00, 0x04], 0x9000);
    assert_eq!(card.applet().requests, [big(300).to_vec(), vec![0x04]]);
}

#[test]
fn applet_accessors() {
    let mut card = selected();
    card.applet_mut().u2f = true;
    assert!(card.applet().u2f);
    assert!(card.into_applet().u2f);
}

/// A deterministic xorshift generator, so the test needs no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn byte(&mut self) -> u8 {
        self.next().to_be_bytes()[0]
    }
}

#[test]
fn random_apdus_always_get_a_well_formed_answer() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let interesting = [
        0x00, 0x80, 0x90, 0x10, 0xA4, 0xC0, 0x10, 0x11, 0x12, 0x01, 0x02, 0x03, 0x04, 0x08,
    ];
    for round in 0..20_000 {
        let mut card = card_with(
            TestApplet {
                u2f: round % 2 == 0,
                ..TestApplet::default()
            },
            CardConfig::default(),
        );
        check(
            &mut card,
            &SELECT,
            if round % 2 == 0 { b"U2F_V2" } else { b"FIDO_2_0" },
            0x9000,
        );
        for _ in 0..8 {
            let len = usize::from(rng.byte() % 24);
            let apdu: Vec<u8> = (0..len)
                .map(|_| match rng.byte() % 3 {
                    0 => interesting[usize::from(rng.byte()) % interesting.len()],
                    _ => rng.byte(),
                })
                .collect();
            let response = card.process(&apdu);
            let (data, sw) = split_response(&response).expect("a status word");
            let le = apdu::parse(&apdu).ok().and_then(|c| c.le).unwrap_or(65536);
            assert!(data.len() <= le, "{apdu:02x?} gave {response:02x?}");
            if !matches!(
                sw,
                StatusWord::Success | StatusWord::StatusUpdate | StatusWord::MoreData(_)
            ) {
                assert!(data.is_empty(), "{apdu:02x?} gave {response:02x?}");
            }
        }
    }
}
