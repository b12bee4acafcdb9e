//! How values look on pages: times, credential ids, transports.

use keyfleet_domain::Timestamp;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_minutes() {
        assert_eq!(when(Timestamp::from_millis(0)), "1970-01-01 00:00 UTC");
        assert_eq!(when(Timestamp::from_millis(1_795_421_400_000)), "2026-11-23 08:10 UTC");
    }

    #[test]
    fn names_transports_and_hides_unknown_text() {
        assert_eq!(transports(&["usb".into(), "nfc".into()]), "USB, NFC");
        assert_eq!(transports(&["<script>".into()]), "other");
        assert_eq!(transports(&[]), "not reported");
    }
}
