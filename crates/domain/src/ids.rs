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

            /// A fresh identifier that sorts by creation time (version 7: the Unix time in
            /// milliseconds, then 74 random bits). Rows keyed by it are appended at the end
            /// of their index instead of at a random place in it: a database writes one
            /// page for many new rows instead of one page each (docs/performance.md, "Pages
            /// per sign-in"). Not for anything that must not reveal when it was made.
            pub fn new_time_ordered(now: crate::Timestamp, rng: &mut dyn rand_core::CryptoRngCore) -> Self {
                let mut bytes = [0u8; 10];
                rng.fill_bytes(&mut bytes);
                let millis = u64::try_from(now.as_millis()).unwrap_or(0);
                Self(uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid())
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

#[cfg(test)]
mod tests {
    use super::SessionId;
    use crate::Timestamp;

    /// Ids made later sort later, as text too (how the stores index them), whatever their
    /// random bits; two made in the same millisecond differ; the time is the one given.
    #[test]
    fn time_ordered_ids_sort_by_their_time() {
        let mut rng = rand_core::OsRng;
        // Two ids a millisecond, over 100 milliseconds.
        let ids: Vec<SessionId> = (0..200)
            .map(|i| SessionId::new_time_ordered(Timestamp::from_millis(1_764_900_000_000 + i / 2), &mut rng))
            .collect();
        let texts: Vec<String> = ids.iter().map(ToString::to_string).collect();
        for (i, (id, text)) in ids.iter().zip(&texts).enumerate() {
            assert_eq!(id.as_uuid().get_version_num(), 7);
            let (secs, nanos) = id.as_uuid().get_timestamp().unwrap().to_unix();
            assert_eq!(
                secs * 1000 + u64::from(nanos) / 1_000_000,
                1_764_900_000_000 + i as u64 / 2
            );
            if i % 2 == 1 {
                assert_ne!(*text, texts[i - 1], "two ids of one millisecond are equal");
            } else if i > 0 {
                assert!(
                    *text > texts[i - 1],
                    "{text} sorts before an id of an earlier millisecond"
                );
            }
        }
    }
}
