//! CTAP status codes, mirrored from CTAP 2.1 §8.2 "Status codes".
//!
//! Every CTAP2 response starts with one of these bytes; [`Status::Ok`] (0x00) is success. CTAP
//! errors travel in that byte under ISO status word 9000 on NFC (CTAP 2.1 §11.3), never as status
//! words.

/// A CTAP 2.1 status code (§8.2). Variant docs give the spec's name and meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Status {
    /// CTAP1_ERR_SUCCESS / CTAP2_OK: indicates successful response.
    Ok = 0x00,
    /// CTAP1_ERR_INVALID_COMMAND: the command is not a valid CTAP command.
    InvalidCommand = 0x01,
    /// CTAP1_ERR_INVALID_PARAMETER: the command included an invalid parameter.
    InvalidParameter = 0x02,
    /// CTAP1_ERR_INVALID_LENGTH: invalid message or item length.
    InvalidLength = 0x03,
    /// CTAP1_ERR_INVALID_SEQ: invalid message sequencing.
    InvalidSeq = 0x04,
    /// CTAP1_ERR_TIMEOUT: message timed out.
    Timeout = 0x05,
    /// CTAP1_ERR_CHANNEL_BUSY: channel busy; client should retry the request later.
    ChannelBusy = 0x06,
    /// CTAP1_ERR_LOCK_REQUIRED: command requires channel lock.
    LockRequired = 0x0A,
    /// CTAP1_ERR_INVALID_CHANNEL: command not allowed on this cid.
    InvalidChannel = 0x0B,
    /// CTAP2_ERR_CBOR_UNEXPECTED_TYPE: invalid/unexpected CBOR error.
    CborUnexpectedType = 0x11,
    /// CTAP2_ERR_INVALID_CBOR: error when parsing CBOR.
    InvalidCbor = 0x12,
    /// CTAP2_ERR_MISSING_PARAMETER: missing non-optional parameter.
    MissingParameter = 0x14,
    /// CTAP2_ERR_LIMIT_EXCEEDED: limit for number of items exceeded.
    LimitExceeded = 0x15,
    /// CTAP2_ERR_FP_DATABASE_FULL: fingerprint database is full, e.g., during enrollment.
    FpDatabaseFull = 0x17,
    /// CTAP2_ERR_LARGE_BLOB_STORAGE_FULL: large blob storage is full.
    LargeBlobStorageFull = 0x18,
    /// CTAP2_ERR_CREDENTIAL_EXCLUDED: valid credential found in the exclude list.
    CredentialExcluded = 0x19,
    /// CTAP2_ERR_PROCESSING: processing (lengthy operation is in progress).
    Processing = 0x21,
    /// CTAP2_ERR_INVALID_CREDENTIAL: credential not valid for the authenticator.
    InvalidCredential = 0x22,
    /// CTAP2_ERR_USER_ACTION_PENDING: authentication is waiting for user interaction.
    UserActionPending = 0x23,
    /// CTAP2_ERR_OPERATION_PENDING: processing, lengthy operation is in progress.
    OperationPending = 0x24,
    /// CTAP2_ERR_NO_OPERATIONS: no request is pending.
    NoOperations = 0x25,
    /// CTAP2_ERR_UNSUPPORTED_ALGORITHM: authenticator does not support requested algorithm.
    UnsupportedAlgorithm = 0x26,
    /// CTAP2_ERR_OPERATION_DENIED: not authorized for requested operation.
    OperationDenied = 0x27,
    /// CTAP2_ERR_KEY_STORE_FULL: internal key storage is full.
    KeyStoreFull = 0x28,
    /// CTAP2_ERR_UNSUPPORTED_OPTION: unsupported option.
    UnsupportedOption = 0x2B,
    /// CTAP2_ERR_INVALID_OPTION: not a valid option for current operation.
    InvalidOption = 0x2C,
    /// CTAP2_ERR_KEEPALIVE_CANCEL: pending keep alive was cancelled.
    KeepaliveCancel = 0x2D,
    /// CTAP2_ERR_NO_CREDENTIALS: no valid credentials provided.
    NoCredentials = 0x2E,
    /// CTAP2_ERR_USER_ACTION_TIMEOUT: a user action timeout occurred.
    UserActionTimeout = 0x2F,
    /// CTAP2_ERR_NOT_ALLOWED: continuation command, such as authenticatorGetNextAssertion, not allowed.
    NotAllowed = 0x30,
    /// CTAP2_ERR_PIN_INVALID: PIN invalid.
    PinInvalid = 0x31,
    /// CTAP2_ERR_PIN_BLOCKED: PIN blocked.
    PinBlocked = 0x32,
    /// CTAP2_ERR_PIN_AUTH_INVALID: PIN authentication (pinUvAuthParam) verification failed.
    PinAuthInvalid = 0x33,
    /// CTAP2_ERR_PIN_AUTH_BLOCKED: PIN authentication using pinUvAuthToken blocked; requires power cycle to reset.
    PinAuthBlocked = 0x34,
    /// CTAP2_ERR_PIN_NOT_SET: no PIN has been set.
    PinNotSet = 0x35,
    /// CTAP2_ERR_PUAT_REQUIRED: a pinUvAuthToken is required for the selected operation.
    PuatRequired = 0x36,
    /// CTAP2_ERR_PIN_POLICY_VIOLATION: PIN policy violation (currently only enforces minimum length).
    PinPolicyViolation = 0x37,
    /// CTAP2_ERR_REQUEST_TOO_LARGE: authenticator cannot handle this request due to memory constraints.
    RequestTooLarge = 0x39,
    /// CTAP2_ERR_ACTION_TIMEOUT: the current operation has timed out.
    ActionTimeout = 0x3A,
    /// CTAP2_ERR_UP_REQUIRED: user presence is required for the requested operation.
    UpRequired = 0x3B,
    /// CTAP2_ERR_UV_BLOCKED: built-in user verification is disabled.
    UvBlocked = 0x3C,
    /// CTAP2_ERR_INTEGRITY_FAILURE: a checksum did not match.
    IntegrityFailure = 0x3D,
    /// CTAP2_ERR_INVALID_SUBCOMMAND: the requested subcommand is either invalid or not implemented.
    InvalidSubcommand = 0x3E,
    /// CTAP2_ERR_UV_INVALID: built-in user verification unsuccessful; the platform SHOULD retry.
    UvInvalid = 0x3F,
    /// CTAP2_ERR_UNAUTHORIZED_PERMISSION: the permissions parameter contains an unauthorized permission.
    UnauthorizedPermission = 0x40,
    /// CTAP1_ERR_OTHER: other unspecified error.
    Other = 0x7F,
    /// CTAP2_ERR_SPEC_LAST: CTAP 2 spec last error.
    SpecLast = 0xDF,
    /// CTAP2_ERR_EXTENSION_FIRST: extension specific error.
    ExtensionFirst = 0xE0,
    /// CTAP2_ERR_EXTENSION_LAST: extension specific error.
    ExtensionLast = 0xEF,
    /// CTAP2_ERR_VENDOR_FIRST: vendor specific error.
    VendorFirst = 0xF0,
    /// CTAP2_ERR_VENDOR_LAST: vendor specific error.
    VendorLast = 0xFF,
}

/// Every status code, in numeric order (used for the byte conversion and its tests).
pub const ALL: [Status; 51] = [
    Status::Ok,
    Status::InvalidCommand,
    Status::InvalidParameter,
    Status::InvalidLength,
    Status::InvalidSeq,
    Status::Timeout,
    Status::ChannelBusy,
    Status::LockRequired,
    Status::InvalidChannel,
    Status::CborUnexpectedType,
    Status::InvalidCbor,
    Status::MissingParameter,
    Status::LimitExceeded,
    Status::FpDatabaseFull,
    Status::LargeBlobStorageFull,
    Status::CredentialExcluded,
    Status::Processing,
    Status::InvalidCredential,
    Status::UserActionPending,
    Status::OperationPending,
    Status::NoOperations,
    Status::UnsupportedAlgorithm,
    Status::OperationDenied,
    Status::KeyStoreFull,
    Status::UnsupportedOption,
    Status::InvalidOption,
    Status::KeepaliveCancel,
    Status::NoCredentials,
    Status::UserActionTimeout,
    Status::NotAllowed,
    Status::PinInvalid,
    Status::PinBlocked,
    Status::PinAuthInvalid,
    Status::PinAuthBlocked,
    Status::PinNotSet,
    Status::PuatRequired,
    Status::PinPolicyViolation,
    Status::RequestTooLarge,
    Status::ActionTimeout,
    Status::UpRequired,
    Status::UvBlocked,
    Status::IntegrityFailure,
    Status::InvalidSubcommand,
    Status::UvInvalid,
    Status::UnauthorizedPermission,
    Status::Other,
    Status::SpecLast,
    Status::ExtensionFirst,
    Status::ExtensionLast,
    Status::VendorFirst,
    Status::VendorLast,
];

impl From<Status> for u8 {
    fn from(s: Status) -> u8 {
        s as u8
    }
}

impl TryFrom<u8> for Status {
    /// The unknown byte.
    type Error = u8;

    fn try_from(b: u8) -> Result<Status, u8> {
        ALL.iter().copied().find(|s| u8::from(*s) == b).ok_or(b)
    }
}

#[cfg(test)]
mod tests;
