//! How values look on pages: times, credential ids, transports.

use keyfleet_domain::Timestamp;
use keyfleet_domain::user::Role;

/// A time as `2026-11-23 08:10 UTC` (pages show UTC; the exact RFC 3339 value is in the
/// element's `datetime` attribute).
pub fn when(ts: Timestamp) -> String {
    let nanos = i128::from(ts.as_millis()) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// A time that may be missing, with a word for "never".
pub fn when_or(ts: Option<Timestamp>, never: &str) -> String {
    ts.map_or_else(|| never.to_owned(), when)
}

/// Transports as people name them (`usb` → USB, `nfc` → NFC, …), comma-separated.
pub fn transports(list: &[String]) -> String {
    if list.is_empty() {
        return "not reported".to_owned();
    }
    list.iter()
        .map(|t| match t.as_str() {
            "usb" => "USB",
            "nfc" => "NFC",
            "ble" => "Bluetooth",
            "internal" => "built-in",
            "hybrid" => "phone (hybrid)",
            "smart-card" => "smart card",
            _ => "other",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A role as people name it.
pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "Administrator",
        Role::Helpdesk => "Helpdesk",
        Role::Worker => "Worker",
    }
}

/// A count with thousands separated by commas (`12,345`).
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// A time as `2026-11-23` (UTC), for file names.
pub fn day(ts: Timestamp) -> String {
    when(ts).get(..10).unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_minutes() {
        assert_eq!(when(Timestamp::from_millis(0)), "1970-01-01 00:00 UTC");
        assert_eq!(when(Timestamp::from_millis(1_795_421_400_000)), "2026-11-23 08:10 UTC");
    }

    #[test]
    fn counts_group_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(30_000), "30,000");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn days_for_file_names() {
        assert_eq!(day(Timestamp::from_millis(1_795_421_400_000)), "2026-11-23");
    }

    #[test]
    fn names_transports_and_hides_unknown_text() {
        assert_eq!(transports(&["usb".into(), "nfc".into()]), "USB, NFC");
        assert_eq!(transports(&["<script>".into()]), "other");
        assert_eq!(transports(&[]), "not reported");
    }
}
