//! The CTAP NFC binding (CTAP 2.1 §11.3, unchanged in 2.2 and 2.3) over ISO/IEC 7816-4 APDUs, as a
//! pure byte state machine: command APDUs in, response APDUs out, no IO and no dependencies.
//!
//! Spec: <https://fidoalliance.org/specs/fido-v2.1-ps-20210615/fido-client-to-authenticator-protocol-v2.1-ps-20210615.html#nfc>
//!
//! The card application (a CTAP2 engine, optionally with U2F) implements [`Applet`];
//! [`NfcCard`] wraps it and handles everything that belongs to the transport:
//!
//! - SELECT of the FIDO AID `A0000006472F0001` (answering `U2F_V2` or `FIDO_2_0`), 6A82 for other
//!   AIDs and 6985 for any command sent before a successful SELECT;
//! - NFCCTAP_MSG (`80 10`), NFCCTAP_GETRESPONSE (`80 11`, with cancel `P1 = 11`) and 9100 status
//!   updates when the client allowed them (see [`StatusUpdates`]), NFCCTAP_CONTROL end-session
//!   (`80 12 01 00`);
//! - short-APDU command chaining (CLA bit 0x10) bounded by [`CardConfig::max_message`],
//!   extended-length APDUs (including case 3E without Le, as python-fido2 sends them), and
//!   responses longer than Le through `61xx` and ISO GET RESPONSE (`00 C0`);
//! - raw U2F messages (CLA 00, INS 01/02/03);
//! - field off/on ([`NfcCard::power_off`], [`NfcCard::power_on`]) resetting the selection and all buffers.
//!
//! The [`atr`] module has the answer-to-reset a reader driver should report: it advertises
//! extended length and command chaining.
//!
//! ```
//! use keyfleet_ctap_transport::{Applet, NfcCard, FIDO_AID};
//!
//! /// A CTAP2 application that knows only authenticatorGetInfo (0x04).
//! struct Tiny;
//! impl Applet for Tiny {
//!     fn ctap2(&mut self, request: &[u8]) -> Vec<u8> {
//!         match request.first() {
//!             Some(0x04) => vec![0x00, 0xA1, 0x01, 0x81, 0x68, b'F', b'I', b'D', b'O', b'_', b'2', b'_', b'0'],
//!             _ => vec![0x01], // CTAP1_ERR_INVALID_COMMAND
//!         }
//!     }
//!     fn u2f(&mut self, _: u8, _: u8, _: u8, _: &[u8]) -> Result<Vec<u8>, u16> {
//!         Err(0x6D00)
//!     }
//!     fn u2f_enabled(&self) -> bool {
//!         false
//!     }
//! }
//!
//! let mut card = NfcCard::new(Tiny);
//! card.power_on();
//! let select = [&[0x00, 0xA4, 0x04, 0x00, 0x08][..], &FIDO_AID, &[0x00]].concat();
//! assert_eq!(card.process(&select), b"FIDO_2_0\x90\x00");
//! let info = card.process(&[0x80, 0x10, 0x80, 0x00, 0x01, 0x04, 0x00]);
//! assert_eq!(&info[info.len() - 2..], [0x90, 0x00]);
//! assert_eq!(info[0], 0x00); // CTAP2_OK
//! ```

pub mod apdu;
pub mod atr;
mod card;

pub use apdu::StatusWord;
pub use card::{
    CTAP2_ERR_KEEPALIVE_CANCEL, CardConfig, DEFAULT_MAX_MESSAGE, GETRESPONSE_CANCEL, MSG_P1_GETRESPONSE_SUPPORTED,
    NfcCard, StatusUpdates,
};

/// The FIDO application identifier (CTAP 2.1 §11.3.1).
pub const FIDO_AID: [u8; 8] = [0xA0, 0x00, 0x00, 0x06, 0x47, 0x2F, 0x00, 0x01];
/// SELECT answer of an authenticator that supports CTAP1/U2F (and maybe CTAP2).
pub const VERSION_U2F_V2: &[u8] = b"U2F_V2";
/// SELECT answer of a CTAP2-only authenticator.
pub const VERSION_FIDO_2_0: &[u8] = b"FIDO_2_0";

/// ISO SELECT.
pub const INS_SELECT: u8 = 0xA4;
/// ISO GET RESPONSE.
pub const INS_GET_RESPONSE: u8 = 0xC0;
/// NFCCTAP_MSG: a CTAP2 request (class 80).
pub const INS_NFCCTAP_MSG: u8 = 0x10;
/// NFCCTAP_GETRESPONSE: poll (or cancel) a request answered with 9100 (class 80).
pub const INS_NFCCTAP_GETRESPONSE: u8 = 0x11;
/// NFCCTAP_CONTROL (class 80).
pub const INS_NFCCTAP_CONTROL: u8 = 0x12;
/// NFCCTAP_CONTROL P1: end the CTAP session.
pub const CTAP_CONTROL_END_SESSION: u8 = 0x01;
/// U2F_REGISTER (class 00).
pub const INS_U2F_REGISTER: u8 = 0x01;
/// U2F_AUTHENTICATE (class 00).
pub const INS_U2F_AUTHENTICATE: u8 = 0x02;
/// U2F_VERSION (class 00).
pub const INS_U2F_VERSION: u8 = 0x03;

/// STATUS_PROCESSING, the data of a 9100 status update.
pub const STATUS_PROCESSING: u8 = 0x01;
/// STATUS_UPNEEDED, the data of a 9100 status update while waiting for user presence.
pub const STATUS_UPNEEDED: u8 = 0x02;

/// The FIDO application on the card: a CTAP2 engine, optionally with CTAP1/U2F.
///
/// Implementations do no transport work: chaining, Le, status words other than the U2F ones and
/// selection all live in [`NfcCard`].
pub trait Applet {
    /// Runs one CTAP2 request, `command byte ‖ CBOR parameters`, and returns `status byte ‖ CBOR`.
    /// CTAP errors travel in the status byte, never as status words.
    fn ctap2(&mut self, request: &[u8]) -> Vec<u8>;

    /// Runs one raw U2F message (INS 01 register, 02 authenticate, 03 version) and returns its
    /// response data, or the status word to send instead (e.g. 6985 user presence needed, 6A80
    /// bad key handle, 6D00 unsupported).
    fn u2f(&mut self, ins: u8, p1: u8, p2: u8, data: &[u8]) -> Result<Vec<u8>, u16>;

    /// Whether U2F is offered; decides the SELECT answer and whether U2F INS reach [`Applet::u2f`].
    fn u2f_enabled(&self) -> bool;

    /// The NFC field came on: a new power-up (the 10-second reset window starts here).
    fn power_on(&mut self) {}

    /// The NFC field went off: drop volatile state (pinUvAuthToken, key agreement, …).
    fn power_off(&mut self) {}
}

#[cfg(test)]
mod tests;
