//! ISO/IEC 7816-4 command APDUs and status words.
//!
//! A command APDU is a four-byte header (CLA INS P1 P2) followed by an optional body. ISO 7816-4
//! §5.1 distinguishes four cases, each in a short and an extended form:
//!
//! | case | short form            | extended form                       |
//! |------|-----------------------|-------------------------------------|
//! | 1    | header                | header                              |
//! | 2    | header Le             | header 00 Le1 Le2                   |
//! | 3    | header Lc data        | header 00 Lc1 Lc2 data              |
//! | 4    | header Lc data Le     | header 00 Lc1 Lc2 data Le1 Le2      |
//!
//! Le = 00 means 256 in the short form and 0000 means 65536 in the extended form. Lc = 0000 is
//! not a valid extended length.

#[cfg(test)]
mod tests;

/// Largest response length a short APDU can ask for (Le = 00).
pub const SHORT_LE_MAX: usize = 256;
/// Largest response length an extended APDU can ask for (Le = 0000).
pub const EXTENDED_LE_MAX: usize = 65536;

/// A parsed command APDU that borrows its body from the raw bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Command<'a> {
    /// Class byte, including the chaining bit [`CLA_CHAINING`] and the logical channel bits.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// First parameter.
    pub p1: u8,
    /// Second parameter.
    pub p2: u8,
    /// The command data field (empty for cases 1 and 2).
    pub data: &'a [u8],
    /// The expected response length, already decoded (Le = 00 is 256, Le = 0000 is 65536); `None`
    /// when the APDU has no Le field (cases 1 and 3).
    pub le: Option<usize>,
    /// Whether the APDU used the extended length form.
    pub extended: bool,
}

/// CLA bit 0x10: "command chaining, not the last command of the chain" (ISO 7816-4 §5.4.1).
pub const CLA_CHAINING: u8 = 0x10;

impl Command<'_> {
    /// Whether more pieces of a chained command follow this one.
    pub fn is_chained(&self) -> bool {
        self.cla & CLA_CHAINING != 0
    }

    /// The class byte with the chaining bit cleared.
    pub fn base_cla(&self) -> u8 {
        self.cla & !CLA_CHAINING
    }
}

/// Why a byte string is not a well-formed command APDU. Every variant maps to [`StatusWord::WrongLength`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// Fewer than the four header bytes.
    TooShort,
    /// An extended APDU announced Lc = 0000.
    ZeroExtendedLc,
    /// The body length does not match any of the seven well-formed layouts.
    LengthMismatch,
}

/// Parses one command APDU.
///
/// ```
/// use keyfleet_ctap_transport::apdu::parse;
/// let cmd = parse(&[0x80, 0x10, 0x80, 0x00, 0x01, 0x04, 0x00]).unwrap();
/// assert_eq!((cmd.ins, cmd.data, cmd.le), (0x10, &[0x04][..], Some(256)));
/// ```
pub fn parse(raw: &[u8]) -> Result<Command<'_>, ParseError> {
    let [cla, ins, p1, p2, body @ ..] = raw else {
        return Err(ParseError::TooShort);
    };
    let header = |data, le, extended| Command {
        cla: *cla,
        ins: *ins,
        p1: *p1,
        p2: *p2,
        data,
        le,
        extended,
    };
    match body {
        // Case 1.
        [] => Ok(header(&[], None, false)),
        // Case 2S.
        [le] => Ok(header(&[], Some(short_le(*le)), false)),
        // Case 2E.
        [0, le1, le2] => Ok(header(&[], Some(extended_le(*le1, *le2)), true)),
        // Cases 3E and 4E.
        [0, lc1, lc2, rest @ ..] => parse_extended_body(usize::from(u16::from_be_bytes([*lc1, *lc2])), rest)
            .map(|(data, le)| header(data, le, true)),
        // Cases 3S and 4S.
        [lc, rest @ ..] if *lc != 0 => {
            parse_short_body(usize::from(*lc), rest).map(|(data, le)| header(data, le, false))
        }
        _ => Err(ParseError::LengthMismatch),
    }
}

fn parse_short_body(lc: usize, rest: &[u8]) -> Result<(&[u8], Option<usize>), ParseError> {
    match rest.len().checked_sub(lc) {
        Some(0) => Ok((rest, None)),
        Some(1) => Ok((&rest[..lc], Some(short_le(rest[lc])))),
        _ => Err(ParseError::LengthMismatch),
    }
}

fn parse_extended_body(lc: usize, rest: &[u8]) -> Result<(&[u8], Option<usize>), ParseError> {
    if lc == 0 {
        return Err(ParseError::ZeroExtendedLc);
    }
    match rest.len().checked_sub(lc) {
        Some(0) => Ok((rest, None)),
        Some(2) => Ok((&rest[..lc], Some(extended_le(rest[lc], rest[lc + 1])))),
        _ => Err(ParseError::LengthMismatch),
    }
}

fn short_le(le: u8) -> usize {
    if le == 0 { SHORT_LE_MAX } else { usize::from(le) }
}

fn extended_le(le1: u8, le2: u8) -> usize {
    match u16::from_be_bytes([le1, le2]) {
        0 => EXTENDED_LE_MAX,
        n => usize::from(n),
    }
}

/// The ISO 7816-4 and CTAP status words this card sends (SW1 SW2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatusWord {
    /// 9000: normal processing, no further qualification.
    Success,
    /// 9100: CTAP NFC status update; the data is STATUS_PROCESSING (01) or STATUS_UPNEEDED (02).
    /// Only sent when the client set P1 bit 0x80 on NFCCTAP_MSG (CTAP 2.1 §11.3.2).
    StatusUpdate,
    /// 61xx: xx more response bytes are available through GET RESPONSE (00 means 256 or more).
    MoreData(u8),
    /// 6700: wrong length (malformed APDU, wrong Lc, or a message too large).
    WrongLength,
    /// 6881: logical channel not supported.
    LogicalChannelNotSupported,
    /// 6883: last command of the chain expected.
    LastCommandOfChainExpected,
    /// 6982: security status not satisfied.
    SecurityStatusNotSatisfied,
    /// 6985: conditions of use not satisfied (e.g. no application selected, or U2F user presence needed).
    ConditionsNotSatisfied,
    /// 6A80: incorrect parameters in the command data field (U2F: bad key handle).
    WrongData,
    /// 6A82: file or application not found (SELECT of an unknown AID).
    FileNotFound,
    /// 6A86: incorrect parameters P1-P2.
    IncorrectP1P2,
    /// 6D00: instruction code not supported or invalid.
    InsNotSupported,
    /// 6E00: class not supported.
    ClaNotSupported,
    /// 6F00: no precise diagnosis.
    Unknown,
    /// Any other status word, as received from an applet.
    Other(u16),
}

impl From<StatusWord> for u16 {
    fn from(sw: StatusWord) -> u16 {
        match sw {
            StatusWord::Success => 0x9000,
            StatusWord::StatusUpdate => 0x9100,
            StatusWord::MoreData(n) => 0x6100 | u16::from(n),
            StatusWord::WrongLength => 0x6700,
            StatusWord::LogicalChannelNotSupported => 0x6881,
            StatusWord::LastCommandOfChainExpected => 0x6883,
            StatusWord::SecurityStatusNotSatisfied => 0x6982,
            StatusWord::ConditionsNotSatisfied => 0x6985,
            StatusWord::WrongData => 0x6A80,
            StatusWord::FileNotFound => 0x6A82,
            StatusWord::IncorrectP1P2 => 0x6A86,
            StatusWord::InsNotSupported => 0x6D00,
            StatusWord::ClaNotSupported => 0x6E00,
            StatusWord::Unknown => 0x6F00,
            StatusWord::Other(sw) => sw,
        }
    }
}

impl From<u16> for StatusWord {
    fn from(sw: u16) -> StatusWord {
        match sw {
            0x9000 => StatusWord::Success,
            0x9100 => StatusWord::StatusUpdate,
            0x6100..=0x61FF => StatusWord::MoreData(sw.to_be_bytes()[1]),
            0x6700 => StatusWord::WrongLength,
            0x6881 => StatusWord::LogicalChannelNotSupported,
            0x6883 => StatusWord::LastCommandOfChainExpected,
            0x6982 => StatusWord::SecurityStatusNotSatisfied,
            0x6985 => StatusWord::ConditionsNotSatisfied,
            0x6A80 => StatusWord::WrongData,
            0x6A82 => StatusWord::FileNotFound,
            0x6A86 => StatusWord::IncorrectP1P2,
            0x6D00 => StatusWord::InsNotSupported,
            0x6E00 => StatusWord::ClaNotSupported,
            0x6F00 => StatusWord::Unknown,
            other => StatusWord::Other(other),
        }
    }
}

impl StatusWord {
    /// The two status bytes SW1 SW2.
    pub fn to_bytes(self) -> [u8; 2] {
        u16::from(self).to_be_bytes()
    }
}

/// Builds a response APDU: `data ‖ SW1 SW2`.
pub fn response(data: &[u8], sw: StatusWord) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 2);
    out.extend_from_slice(data);
    out.extend_from_slice(&sw.to_bytes());
    out
}

/// Splits a response APDU into its data and status word; `None` if it is shorter than two bytes.
pub fn split_response(raw: &[u8]) -> Option<(&[u8], StatusWord)> {
    let split = raw.len().checked_sub(2)?;
    let (data, sw) = raw.split_at(split);
    Some((data, StatusWord::from(u16::from_be_bytes([sw[0], sw[1]]))))
}
