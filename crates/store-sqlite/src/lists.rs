//! Lists in one BLOB column: SQLite has no array type. Each item is its length as 4
//! big-endian bytes followed by the item, which keeps empty lists and items holding any byte
//! (a space, a comma) intact.

/// Encodes `items`.
pub(crate) fn encode_list<T: AsRef<[u8]>>(items: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.iter().map(|i| 4 + i.as_ref().len()).sum());
    for item in items {
        let item = item.as_ref();
        let len = u32::try_from(item.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&item[..len as usize]);
    }
    out
}

/// Decodes [`encode_list`]'s format; `None` when the bytes are not in it.
pub(crate) fn decode_list(mut bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut items = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if rest.len() < len {
            return None;
        }
        let (item, rest) = rest.split_at(len);
        items.push(item.to_vec());
        bytes = rest;
    }
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::{decode_list, encode_list};

    #[test]
    fn lists_round_trip() {
        let empty: [&[u8]; 0] = [];
        assert_eq!(encode_list(&empty), Vec::<u8>::new());
        assert_eq!(decode_list(&[]), Some(Vec::new()));
        let items = [b"usb".to_vec(), Vec::new(), b"smart card".to_vec(), vec![0xff; 1023]];
        assert_eq!(decode_list(&encode_list(&items)), Some(items.to_vec()));
    }

    #[test]
    fn malformed_lists_are_refused() {
        assert_eq!(decode_list(&[0, 0, 0]), None, "short length");
        assert_eq!(decode_list(&[0, 0, 0, 2, 1]), None, "short item");
    }
}
