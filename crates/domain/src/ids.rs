//! Identifier newtypes, so a user id can never be passed where a group id is expected.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random (version 4) identifier.
            pub fn new_random(rng: &mut dyn rand_core::CryptoRngCore) -> Self {
                let mut bytes = [0u8; 16];
                rng.fill_bytes(&mut bytes);
                Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::try_parse(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// The immutable identifier of a user. Never reused, never derived from the username.
    UserId
);
uuid_id!(
    /// The identifier of a group.
    GroupId
);
uuid_id!(
    /// The identifier of a temporary access pass.
    TapId
);
uuid_id!(
    /// The identifier of a server-side session (not the cookie value).
    SessionId
);
uuid_id!(
    /// The identifier of one of an API client's secrets.
    SecretId
);
uuid_id!(
    /// The identifier of a group policy.
    PolicyId
);
uuid_id!(
    /// The identifier of a group rule ("members of G get a key of model M").
    GroupRuleId
);
uuid_id!(
    /// The identifier of a shipment (a key order).
    ShipmentId
);
uuid_id!(
    /// The identifier of a WebAuthn ceremony (registration or authentication) in progress.
    CeremonyId
);
