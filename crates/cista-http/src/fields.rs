//! Request header fields read as RFC 9110 §5.2–5.3 defines them: a list-based field may
//! arrive over several field lines, which mean the same as one line of their values joined by
//! commas; a singleton field (`Authorization`, `Origin`) sent more than once is malformed, and
//! its first line must not be trusted as if it were the only one.

use axum::http::HeaderMap;
use axum::http::header::AsHeaderName;

/// A list-based field's whole value: every field line, in order, joined with `", "` (RFC 9110
/// §5.3), or `None` when the request has no such field. Bytes are kept as sent; parse the
/// result with the field's own grammar (e.g. a Structured Field, RFC 9651).
pub(crate) fn list_field<K: AsHeaderName>(headers: &HeaderMap, name: K) -> Option<Vec<u8>> {
    let mut lines = headers.get_all(name).into_iter();
    let mut field = lines.next()?.as_bytes().to_vec();
    for line in lines {
        field.extend_from_slice(b", ");
        field.extend_from_slice(line.as_bytes());
    }
    Some(field)
}

/// A singleton field, sent more than once or not visible ASCII text (RFC 9110 §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MalformedField;

/// A singleton field's value: `Ok(None)` when absent, `Err(MalformedField)` when it came in
/// more than one field line or is not text. Callers refuse a malformed field as they would a
/// wrong one.
pub(crate) fn single_field<K: AsHeaderName>(
    headers: &HeaderMap,
    name: K,
) -> Result<Option<&str>, MalformedField> {
    let mut lines = headers.get_all(name).into_iter();
    let Some(first) = lines.next() else {
        return Ok(None);
    };
    if lines.next().is_some() {
        return Err(MalformedField);
    }
    first.to_str().map(Some).map_err(|_| MalformedField)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(name: &'static str, lines: &[&'static [u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append(name, HeaderValue::from_bytes(line).unwrap());
        }
        map
    }

    #[test]
    fn a_list_field_over_several_lines_reads_as_one() {
        let map = headers("content-digest", &[b"sha-512=:AAAA:", b"sha-256=:BBBB:"]);
        assert_eq!(
            list_field(&map, "content-digest").unwrap(),
            b"sha-512=:AAAA:, sha-256=:BBBB:"
        );
        let one = headers("accept", &[b"text/html"]);
        assert_eq!(list_field(&one, "accept").unwrap(), b"text/html");
        assert_eq!(list_field(&one, "content-digest"), None);
    }

    #[test]
    fn a_singleton_sent_twice_or_not_text_is_malformed() {
        let twice = headers("authorization", &[b"Bearer a", b"Bearer b"]);
        assert_eq!(single_field(&twice, "authorization"), Err(MalformedField));
        let binary = headers("origin", &[b"https://\xffexample"]);
        assert_eq!(single_field(&binary, "origin"), Err(MalformedField));
        let once = headers("origin", &[b"https://vote.example"]);
        assert_eq!(
            single_field(&once, "origin"),
            Ok(Some("https://vote.example"))
        );
        assert_eq!(single_field(&once, "authorization"), Ok(None));
    }
}
