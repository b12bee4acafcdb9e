//! The string enumerations of the options (WebAuthn L3 §5.4.4–§5.4.7, §5.8.2, §5.8.4, §5.8.7).
//!
//! The IDL declares the option members that carry them as `DOMString`, so that clients ignore
//! values they do not know (§2.1.1). The closed enums here reject unknown values when read
//! back; [`AuthenticatorTransport`] and [`PublicKeyCredentialHint`] keep them as text instead,
//! so that a stored credential's future transports round-trip.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The longest unknown transport or hint kept as text, in bytes.
pub(super) const MAX_OTHER_LEN: usize = 64;

/// Declares a closed string enumeration: `as_str`, `parse`, and serde as the IDL string.
macro_rules! closed_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value the specification defines.
            pub const VALUES: &'static [&'static str] = &[$($text),+];

            /// The IDL string value.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// Parses the IDL string value (case-sensitive); `None` for a value the
            /// specification does not define.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(stringify!($name))
                    }
                    fn visit_str<E: de::Error>(self, text: &str) -> Result<$name, E> {
                        $name::parse(text).ok_or_else(|| E::unknown_variant(text, $name::VALUES))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

/// Declares an open string enumeration: unknown values are kept as `Other(text)`.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        ///
        /// Equality and hashing compare [`Self::as_str`], so `Other("usb")` equals `Usb`.
        #[derive(Debug, Clone)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this crate does not know, kept as sent so it round-trips.
            Other(String),
        }

        impl $name {
            /// Every value the specification defines.
            pub const VALUES: &'static [&'static str] = &[$($text),+];

            /// The IDL string value (the text itself for [`Self::Other`]).
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(text) => text,
                }
            }

            /// Parses the IDL string value (case-sensitive); a value the specification does
            /// not define becomes [`Self::Other`]. Never fails.
            pub fn parse(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.as_str() == other.as_str()
            }
        }

        impl Eq for $name {}

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.as_str().hash(state);
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(stringify!($name))
                    }
                    fn visit_str<E: de::Error>(self, text: &str) -> Result<$name, E> {
                        if text.is_empty() || text.len() > MAX_OTHER_LEN {
                            return Err(E::invalid_length(text.len(), &"a value of 1 to 64 bytes"));
                        }
                        Ok($name::parse(text))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}

closed_enum! {
    /// `UserVerificationRequirement` (§5.8.6): whether the RP requires user verification.
    #[derive(Default)]
    UserVerificationRequirement {
        /// The UV flag must be set; the ceremony fails otherwise.
        Required = "required",
        /// UV if possible (the IDL default).
        #[default]
        Preferred = "preferred",
        /// UV is not wanted.
        Discouraged = "discouraged",
    }
}

closed_enum! {
    /// `ResidentKeyRequirement` (§5.4.6): whether a client-side discoverable credential is wanted.
    ResidentKeyRequirement {
        /// A server-side credential is preferred.
        Discouraged = "discouraged",
        /// A discoverable credential is preferred.
        Preferred = "preferred",
        /// A discoverable credential is required.
        Required = "required",
    }
}

closed_enum! {
    /// `AttestationConveyancePreference` (§5.4.7): what attestation the RP asks for.
    #[derive(Default)]
    AttestationConveyance {
        /// No attestation (the IDL default).
        #[default]
        None = "none",
        /// Attestation the client may anonymize.
        Indirect = "indirect",
        /// The attestation as the authenticator made it.
        Direct = "direct",
        /// Enterprise attestation, which may identify the authenticator uniquely.
        Enterprise = "enterprise",
    }
}

closed_enum! {
    /// `AuthenticatorAttachment` (§5.4.5): platform or roaming authenticators.
    AuthenticatorAttachment {
        /// An authenticator built into the client device.
        Platform = "platform",
        /// A roaming authenticator (e.g. a USB security key).
        CrossPlatform = "cross-platform",
    }
}

closed_enum! {
    /// `PublicKeyCredentialType` (§5.8.2): the only credential type Level 3 defines.
    #[derive(Default)]
    CredentialType {
        /// `public-key`.
        #[default]
        PublicKey = "public-key",
    }
}

open_enum! {
    /// `AuthenticatorTransport` (§5.8.4): how the client may reach an authenticator.
    AuthenticatorTransport {
        /// Removable USB.
        Usb = "usb",
        /// Near Field Communication.
        Nfc = "nfc",
        /// Bluetooth Low Energy.
        Ble = "ble",
        /// ISO/IEC 7816 smart card with contacts.
        SmartCard = "smart-card",
        /// Hybrid transport (e.g. a phone over caBLE).
        Hybrid = "hybrid",
        /// A platform authenticator, not removable.
        Internal = "internal",
    }
}

open_enum! {
    /// `PublicKeyCredentialHint` (§5.8.7): UI hints, most preferred first.
    PublicKeyCredentialHint {
        /// A physical security key.
        SecurityKey = "security-key",
        /// A platform authenticator on the client device.
        ClientDevice = "client-device",
        /// A general-purpose authenticator such as a phone.
        Hybrid = "hybrid",
    }
}
