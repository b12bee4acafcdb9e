//! Structured target: a session of APDUs (and field resets) through a selected card.
//!
//! The input is split on a two-byte separator into APDUs; an empty piece turns the field off
//! and on again. Every response must end in a status word, and data only comes with 9000, 9100
//! or 61xx.
#![no_main]

use keyfleet_ctap_transport::apdu::split_response;
use keyfleet_ctap_transport::{Applet, CardConfig, FIDO_AID, NfcCard, StatusUpdates, StatusWord};
use libfuzzer_sys::fuzz_target;

struct Echo {
    u2f: bool,
}

impl Applet for Echo {
    fn ctap2(&mut self, request: &[u8]) -> Vec<u8> {
        match request {
            [0x7F, n] => vec![0xAA; usize::from(*n) * 8],
            other => [&[0x00][..], other].concat(),
        }
    }

    fn u2f(&mut self, ins: u8, _: u8, _: u8, data: &[u8]) -> Result<Vec<u8>, u16> {
        if ins == 0x02 { Err(0x6985) } else { Ok(data.to_vec()) }
    }

    fn u2f_enabled(&self) -> bool {
        self.u2f
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let status_updates = if flags & 1 == 0 {
        StatusUpdates::Never
    } else {
        StatusUpdates::FirstPoll
    };
    let config = CardConfig {
        status_updates,
        max_message: 4096,
    };
    let mut card = NfcCard::with_config(Echo { u2f: flags & 2 != 0 }, config);
    card.power_on();
    if flags & 4 == 0 {
        let select = [&[0x00, 0xA4, 0x04, 0x00, 0x08][..], &FIDO_AID, &[0x00]].concat();
        card.process(&select);
    }
    for apdu in rest.split(|&b| b == 0xFE) {
        if apdu.is_empty() {
            card.power_off();
            card.power_on();
            continue;
        }
        let response = card.process(apdu);
        let (body, sw) = split_response(&response).expect("a status word");
        if !matches!(
            sw,
            StatusWord::Success | StatusWord::StatusUpdate | StatusWord::MoreData(_)
        ) {
            assert!(body.is_empty());
        }
    }
});
