//! The card: command APDUs in, response APDUs out (CTAP 2.1 §11.3, ISO 7816-4 §5 and §7).
//!
//! [`NfcCard`] owns four pieces of state, all dropped when the field goes off:
//! whether the FIDO application is selected, a command chain being received, a CTAP request
//! waiting for its first NFCCTAP_GETRESPONSE poll, and the unread tail of a response that did not
//! fit in the client's Le.

#[cfg(test)]
mod tests;

use crate::apdu::{self, Command, EXTENDED_LE_MAX, SHORT_LE_MAX, StatusWord};
use crate::{
    Applet, CTAP_CONTROL_END_SESSION, FIDO_AID, INS_GET_RESPONSE, INS_NFCCTAP_CONTROL, INS_NFCCTAP_GETRESPONSE,
    INS_NFCCTAP_MSG, INS_SELECT, STATUS_PROCESSING, VERSION_FIDO_2_0, VERSION_U2F_V2,
};

/// CTAP status byte CTAP2_ERR_KEEPALIVE_CANCEL, our answer to a cancelled request.
pub const CTAP2_ERR_KEEPALIVE_CANCEL: u8 = 0x2D;
/// NFCCTAP_GETRESPONSE P1 asking to cancel the pending request.
pub const GETRESPONSE_CANCEL: u8 = 0x11;
/// NFCCTAP_MSG P1 bit: the client supports NFCCTAP_GETRESPONSE, so 9100 status updates are allowed.
pub const MSG_P1_GETRESPONSE_SUPPORTED: u8 = 0x80;
/// The default bound on a reassembled chained command: the largest extended APDU body.
pub const DEFAULT_MAX_MESSAGE: usize = 65535;

/// When the card answers NFCCTAP_MSG with a 9100 status update instead of the result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StatusUpdates {
    /// Always run the request at once and answer with the result. Valid for every client, and the
    /// fastest with python-fido2, which waits 100 ms before each poll.
    #[default]
    Never,
    /// When the client allows it (P1 bit 0x80), answer `01 9100` (STATUS_PROCESSING) and run the
    /// request on the first NFCCTAP_GETRESPONSE poll, so that a client can cancel it. Clients that
    /// do not set the bit still get the result directly.
    FirstPoll,
}

/// Card settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CardConfig {
    /// When to send 9100 status updates.
    pub status_updates: StatusUpdates,
    /// The largest command, after chaining, the card accepts; larger ones get 6700.
    pub max_message: usize,
}

impl Default for CardConfig {
    fn default() -> Self {
        Self {
            status_updates: StatusUpdates::Never,
            max_message: DEFAULT_MAX_MESSAGE,
        }
    }
}

/// The header that every piece of one command chain must repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ChainKey {
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
}

impl ChainKey {
    fn of(cmd: &Command<'_>) -> Self {
        Self {
            cla: cmd.base_cla(),
            ins: cmd.ins,
            p1: cmd.p1,
            p2: cmd.p2,
        }
    }
}

/// A response that did not fit in Le, waiting for ISO GET RESPONSE.
#[derive(Debug)]
struct Outgoing {
    data: Vec<u8>,
    offset: usize,
    sw: StatusWord,
}

/// A complete command after chaining, owning its data.
struct Message {
    key: ChainKey,
    data: Vec<u8>,
    le: usize,
}

/// An ISO 7816-4 card carrying the FIDO application over the CTAP NFC binding.
///
/// ```
/// use keyfleet_ctap_transport::{Applet, NfcCard};
/// struct Echo;
/// impl Applet for Echo {
///     fn ctap2(&mut self, request: &[u8]) -> Vec<u8> { [&[0x00], request].concat() }
///     fn u2f(&mut self, _: u8, _: u8, _: u8, _: &[u8]) -> Result<Vec<u8>, u16> { Err(0x6D00) }
///     fn u2f_enabled(&self) -> bool { false }
/// }
/// let mut card = NfcCard::new(Echo);
/// assert_eq!(card.process(&[0x80, 0x10, 0x80, 0x00, 0x01, 0x04]), [0x69, 0x85]); // not selected
/// let select = [0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x06, 0x47, 0x2F, 0x00, 0x01, 0x00];
/// assert_eq!(card.process(&select), b"FIDO_2_0\x90\x00");
/// assert_eq!(card.process(&[0x80, 0x10, 0x80, 0x00, 0x01, 0x04, 0x00]), [0x00, 0x04, 0x90, 0x00]);
/// ```
pub struct NfcCard<A> {
    applet: A,
    config: CardConfig,
    selected: bool,
    chain: Option<(ChainKey, Vec<u8>)>,
    pending_request: Option<Vec<u8>>,
    outgoing: Option<Outgoing>,
}

impl<A: Applet> NfcCard<A> {
    /// A card with the default [`CardConfig`], field on, nothing selected.
    pub fn new(applet: A) -> Self {
        Self::with_config(applet, CardConfig::default())
    }

    /// A card with the given settings.
    pub fn with_config(applet: A, config: CardConfig) -> Self {
        Self {
            applet,
            config,
            selected: false,
            chain: None,
            pending_request: None,
            outgoing: None,
        }
    }

    /// The application behind the card.
    pub fn applet(&self) -> &A {
        &self.applet
    }

    /// The application behind the card, mutably (e.g. to wear or take off a band).
    pub fn applet_mut(&mut self) -> &mut A {
        &mut self.applet
    }

    /// Gives the application back.
    pub fn into_applet(self) -> A {
        self.applet
    }

    /// Whether the FIDO application is selected.
    pub fn is_selected(&self) -> bool {
        self.selected
    }

    /// The NFC field went off (or the reader powered the card down): forget the selection and every
    /// buffer, then tell the application.
    pub fn power_off(&mut self) {
        self.clear_session();
        self.applet.power_off();
    }

    /// The NFC field came on (or the reader powered the card up): a fresh session.
    pub fn power_on(&mut self) {
        self.clear_session();
        self.applet.power_on();
    }

    fn clear_session(&mut self) {
        self.selected = false;
        self.chain = None;
        self.pending_request = None;
        self.outgoing = None;
    }

    /// Processes one command APDU and returns the response APDU (`data ‖ SW1 SW2`).
    ///
    /// A malformed APDU (6700) or an unsupported class (6E00) leaves the card's state untouched.
    pub fn process(&mut self, raw: &[u8]) -> Vec<u8> {
        let cmd = match apdu::parse(raw) {
            Ok(cmd) => cmd,
            Err(_) => return apdu::response(&[], StatusWord::WrongLength),
        };
        if let Err(sw) = check_cla(cmd.cla) {
            return apdu::response(&[], sw);
        }
        if cmd.base_cla() == 0x00 && cmd.ins == INS_GET_RESPONSE && self.chain.is_none() {
            return self.get_response(&cmd);
        }
        self.outgoing = None;
        if cmd.base_cla() == 0x00 && cmd.ins == INS_SELECT {
            self.chain = None;
            return self.select(&cmd);
        }
        if !self.selected {
            self.chain = None;
            return apdu::response(&[], StatusWord::ConditionsNotSatisfied);
        }
        match self.assemble(&cmd) {
            Ok(Some(message)) => {
                let (data, sw) = self.dispatch(&message);
                self.respond(data, sw, message.le)
            }
            Ok(None) => apdu::response(&[], StatusWord::Success),
            Err(sw) => apdu::response(&[], sw),
        }
    }

    /// Adds one piece to the chain; returns the whole message once its last piece has arrived.
    fn assemble(&mut self, cmd: &Command<'_>) -> Result<Option<Message>, StatusWord> {
        let key = ChainKey::of(cmd);
        let mut data = match self.chain.take() {
            Some((chain_key, _)) if chain_key != key => return Err(StatusWord::LastCommandOfChainExpected),
            Some((_, data)) => data,
            None => Vec::new(),
        };
        if data.len() + cmd.data.len() > self.config.max_message {
            return Err(StatusWord::WrongLength);
        }
        data.extend_from_slice(cmd.data);
        if cmd.is_chained() {
            self.chain = Some((key, data));
            return Ok(None);
        }
        let le = cmd
            .le
            .unwrap_or(if cmd.extended { EXTENDED_LE_MAX } else { SHORT_LE_MAX });
        Ok(Some(Message { key, data, le }))
    }

    /// Routes a complete command to its handler.
    fn dispatch(&mut self, message: &Message) -> (Vec<u8>, StatusWord) {
        match (message.key.cla, message.key.ins) {
            (0x80, INS_NFCCTAP_MSG) => self.ctap_msg(message),
            (0x80, INS_NFCCTAP_GETRESPONSE) => self.ctap_get_response(message),
            (0x80, INS_NFCCTAP_CONTROL) => self.ctap_control(message),
            (0x00, ins @ 0x01..=0x03) => self.u2f(ins, message),
            (0x00, INS_GET_RESPONSE) => (Vec::new(), StatusWord::LastCommandOfChainExpected),
            _ => (Vec::new(), StatusWord::InsNotSupported),
        }
    }

    /// SELECT by AID (ISO 7816-4 §11.2.2, CTAP 2.1 §11.3.1). Selecting anything else deselects.
    fn select(&mut self, cmd: &Command<'_>) -> Vec<u8> {
        self.pending_request = None;
        if cmd.is_chained() {
            return apdu::response(&[], StatusWord::LastCommandOfChainExpected);
        }
        if cmd.p1 != 0x04 || cmd.p2 & !0x0C != 0 {
            return apdu::response(&[], StatusWord::IncorrectP1P2);
        }
        if cmd.data != FIDO_AID {
            self.selected = false;
            return apdu::response(&[], StatusWord::FileNotFound);
        }
        self.selected = true;
        let version = if self.applet.u2f_enabled() {
            VERSION_U2F_V2
        } else {
            VERSION_FIDO_2_0
        };
        let le = cmd.le.unwrap_or(SHORT_LE_MAX);
        self.respond(version.to_vec(), StatusWord::Success, le)
    }

    /// NFCCTAP_MSG (CTAP 2.1 §11.3.2): `CTAP command byte ‖ CBOR` in, `status ‖ CBOR` out.
    fn ctap_msg(&mut self, message: &Message) -> (Vec<u8>, StatusWord) {
        self.pending_request = None;
        if message.key.p1 & !MSG_P1_GETRESPONSE_SUPPORTED != 0 || message.key.p2 != 0 {
            return (Vec::new(), StatusWord::IncorrectP1P2);
        }
        if message.data.is_empty() {
            return (Vec::new(), StatusWord::WrongLength);
        }
        let polling_allowed = message.key.p1 & MSG_P1_GETRESPONSE_SUPPORTED != 0;
        if polling_allowed && self.config.status_updates == StatusUpdates::FirstPoll {
            self.pending_request = Some(message.data.clone());
            return (vec![STATUS_PROCESSING], StatusWord::StatusUpdate);
        }
        (self.applet.ctap2(&message.data), StatusWord::Success)
    }

    /// NFCCTAP_GETRESPONSE (CTAP 2.1 §11.3.2): run or cancel the request announced with 9100.
    fn ctap_get_response(&mut self, message: &Message) -> (Vec<u8>, StatusWord) {
        if message.key.p2 != 0 {
            return (Vec::new(), StatusWord::IncorrectP1P2);
        }
        if !message.data.is_empty() {
            return (Vec::new(), StatusWord::WrongLength);
        }
        let cancel = match message.key.p1 {
            0x00 => false,
            GETRESPONSE_CANCEL => true,
            _ => return (Vec::new(), StatusWord::IncorrectP1P2),
        };
        let Some(request) = self.pending_request.take() else {
            return (Vec::new(), StatusWord::ConditionsNotSatisfied);
        };
        if cancel {
            return (vec![CTAP2_ERR_KEEPALIVE_CANCEL], StatusWord::Success);
        }
        (self.applet.ctap2(&request), StatusWord::Success)
    }

    /// NFCCTAP_CONTROL (CTAP 2.3 §11.3.4): `80 12 01 00` ends the CTAP session, deselecting the application.
    fn ctap_control(&mut self, message: &Message) -> (Vec<u8>, StatusWord) {
        if message.key.p1 != CTAP_CONTROL_END_SESSION || message.key.p2 != 0 {
            return (Vec::new(), StatusWord::IncorrectP1P2);
        }
        if !message.data.is_empty() {
            return (Vec::new(), StatusWord::WrongLength);
        }
        self.clear_session();
        (Vec::new(), StatusWord::Success)
    }

    /// A raw U2F message (FIDO U2F NFC protocol): register 01, authenticate 02, version 03.
    fn u2f(&mut self, ins: u8, message: &Message) -> (Vec<u8>, StatusWord) {
        if !self.applet.u2f_enabled() {
            return (Vec::new(), StatusWord::InsNotSupported);
        }
        match self.applet.u2f(ins, message.key.p1, message.key.p2, &message.data) {
            Ok(data) => (data, StatusWord::Success),
            Err(sw) => (Vec::new(), StatusWord::from(sw)),
        }
    }

    /// ISO GET RESPONSE (`00 C0 00 00 Le`): the next piece of a response announced with 61xx.
    fn get_response(&mut self, cmd: &Command<'_>) -> Vec<u8> {
        if cmd.p1 != 0 || cmd.p2 != 0 || cmd.is_chained() {
            self.outgoing = None;
            return apdu::response(&[], StatusWord::IncorrectP1P2);
        }
        if !cmd.data.is_empty() {
            self.outgoing = None;
            return apdu::response(&[], StatusWord::WrongLength);
        }
        let Some(outgoing) = self.outgoing.take() else {
            return apdu::response(&[], StatusWord::ConditionsNotSatisfied);
        };
        let le = cmd
            .le
            .unwrap_or(if cmd.extended { EXTENDED_LE_MAX } else { SHORT_LE_MAX });
        self.send_from(outgoing, le)
    }

    /// Sends a response, keeping what does not fit in Le for GET RESPONSE.
    fn respond(&mut self, data: Vec<u8>, sw: StatusWord, le: usize) -> Vec<u8> {
        self.send_from(Outgoing { data, offset: 0, sw }, le)
    }

    fn send_from(&mut self, mut outgoing: Outgoing, le: usize) -> Vec<u8> {
        let end = outgoing.data.len().min(outgoing.offset + le);
        let chunk = &outgoing.data[outgoing.offset..end];
        let remaining = outgoing.data.len() - end;
        if remaining == 0 {
            return apdu::response(chunk, outgoing.sw);
        }
        // 61xx: xx is the number of bytes still available, 00 meaning 256 or more.
        let announced = u8::try_from(remaining).unwrap_or(0);
        let out = apdu::response(chunk, StatusWord::MoreData(announced));
        outgoing.offset = end;
        self.outgoing = Some(outgoing);
        out
    }
}

/// Accepts the interindustry class 00 and the proprietary class 80, with or without the chaining
/// bit, on the basic logical channel only.
fn check_cla(cla: u8) -> Result<(), StatusWord> {
    match cla & !apdu::CLA_CHAINING {
        0x00 | 0x80 => Ok(()),
        0x01..=0x03 | 0x81..=0x83 => Err(StatusWord::LogicalChannelNotSupported),
        _ => Err(StatusWord::ClaNotSupported),
    }
}
