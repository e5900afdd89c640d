//! A small bounded JSON reader (RFC 8259) for JOSE headers, JWT claims and JWKS documents,
//! and the string escaping of Go's `encoding/json` for what the bundle file writes.
//!
//! The reader builds a plain tree. Nesting is limited to [`MAX_JSON_DEPTH`] so that hostile input
//! cannot exhaust the stack; everything else is bounded by the input's own size. The config
//! reader in `crate::config::json` is not reused: it is built around `helper.conf` items
//! (positions for diagnostics, no `null`, duplicate keys rejected), while JOSE documents need
//! `null` and Go's "last duplicate wins" member lookup.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Deepest nesting of arrays and objects accepted.
pub const MAX_JSON_DEPTH: usize = 32;

/// A parsed JSON value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// Numbers are read as Go reads them into `float64` (and JOSE's NumericDate).
    Number(f64),
    String(String),
    Array(Vec<Value>),
    /// Members in document order, duplicates kept; see [`member`].
    Object(Vec<(String, Value)>),
}

/// Why a document is not the JSON expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset of the problem in the document.
    pub offset: usize,
    /// What the problem is.
    pub kind: JsonErrorKind,
}

/// The kinds of [`JsonError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonErrorKind {
    /// The document is not UTF-8.
    InvalidUtf8,
    /// A byte that cannot start or continue the value at this point, or the end of input.
    Syntax,
    /// Arrays and objects nested deeper than [`MAX_JSON_DEPTH`].
    TooDeep,
    /// The document is valid JSON but its top level is not an object.
    NotAnObject,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            JsonErrorKind::InvalidUtf8 => "invalid UTF-8",
            JsonErrorKind::Syntax => "invalid JSON",
            JsonErrorKind::TooDeep => "JSON nested too deeply",
            JsonErrorKind::NotAnObject => "not a JSON object",
        };
        write!(f, "{what} at byte {}", self.offset)
    }
}

impl core::error::Error for JsonError {}

/// Parses a document whose top level must be an object, and returns its members.
pub(crate) fn parse_object(doc: &[u8]) -> Result<Vec<(String, Value)>, JsonError> {
    if let Err(e) = core::str::from_utf8(doc) {
        return Err(JsonError {
            offset: e.valid_up_to(),
            kind: JsonErrorKind::InvalidUtf8,
        });
    }
    let mut r = Reader { doc, pos: 0 };
    r.skip_ws();
    let value = r.value(0)?;
    r.skip_ws();
    if r.pos != doc.len() {
        return Err(r.error(JsonErrorKind::Syntax));
    }
    match value {
        Value::Object(members) => Ok(members),
        _ => Err(JsonError {
            offset: 0,
            kind: JsonErrorKind::NotAnObject,
        }),
    }
}

/// The value of member `name`, as Go's `encoding/json` decodes it: the last of duplicates
/// wins, and `null` counts as absent.
pub(crate) fn member<'v>(members: &'v [(String, Value)], name: &str) -> Option<&'v Value> {
    members
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .filter(|v| **v != Value::Null)
}

struct Reader<'a> {
    doc: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn error(&self, kind: JsonErrorKind) -> JsonError {
        JsonError {
            offset: self.pos,
            kind,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.doc.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    /// Consumes `byte` (after optional whitespace) or fails.
    fn expect(&mut self, byte: u8) -> Result<(), JsonError> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(JsonErrorKind::Syntax))
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> Result<Value, JsonError> {
        if self.doc[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error(JsonErrorKind::Syntax))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.skip_ws();
        match self.peek() {
            Some(b'{' | b'[') if depth >= MAX_JSON_DEPTH => Err(self.error(JsonErrorKind::TooDeep)),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            _ => Err(self.error(JsonErrorKind::Syntax)),
        }
    }

    /// True (and the closing byte consumed) if the container ends here.
    fn closes(&mut self, close: u8) -> bool {
        self.skip_ws();
        let closed = self.peek() == Some(close);
        if closed {
            self.pos += 1;
        }
        closed
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.pos += 1;
        let mut members = Vec::new();
        if !self.closes(b'}') {
            loop {
                self.skip_ws();
                if self.peek() != Some(b'"') {
                    return Err(self.error(JsonErrorKind::Syntax));
                }
                let name = self.string()?;
                self.expect(b':')?;
                members.push((name, self.value(depth)?));
                if self.closes(b'}') {
                    break;
                }
                self.expect(b',')?;
            }
        }
        Ok(Value::Object(members))
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        self.pos += 1;
        let mut items = Vec::new();
        if !self.closes(b']') {
            loop {
                items.push(self.value(depth)?);
                if self.closes(b']') {
                    break;
                }
                self.expect(b',')?;
            }
        }
        Ok(Value::Array(items))
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, read as an `f64`.
    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        let digits = |r: &mut Self| {
            let from = r.pos;
            while matches!(r.peek(), Some(b'0'..=b'9')) {
                r.pos += 1;
            }
            r.pos - from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let int_start = self.pos;
        let int_len = digits(self);
        let leading_zero = int_len > 1 && self.doc[int_start] == b'0';
        let mut ok = int_len > 0 && !leading_zero;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            ok &= digits(self) > 0;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            ok &= digits(self) > 0;
        }
        // The bytes are ASCII digits and signs, so both conversions succeed when `ok`.
        let text = core::str::from_utf8(&self.doc[start..self.pos]).ok();
        match text.and_then(|t| t.parse::<f64>().ok()) {
            Some(n) if ok => Ok(Value::Number(n)),
            _ => Err(JsonError {
                offset: start,
                kind: JsonErrorKind::Syntax,
            }),
        }
    }

    /// A string; the reader is on the opening quote.
    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error(JsonErrorKind::Syntax));
            };
            match b {
                b'"' => break,
                0..0x20 => return Err(self.error(JsonErrorKind::Syntax)),
                b'\\' => {
                    let c = self.escape()?;
                    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    continue;
                }
                _ => out.push(b),
            }
            self.pos += 1;
        }
        self.pos += 1;
        // The document is UTF-8 and escapes add whole characters.
        String::from_utf8(out).map_err(|_| self.error(JsonErrorKind::InvalidUtf8))
    }

    /// One escape sequence, with UTF-16 surrogate pairs joined; the reader is on the backslash.
    fn escape(&mut self) -> Result<char, JsonError> {
        let at = self.pos;
        let bad = JsonError {
            offset: at,
            kind: JsonErrorKind::Syntax,
        };
        let kind = self.doc.get(at + 1).copied();
        self.pos += 2;
        let c = match kind {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\x08',
            Some(b'f') => '\x0c',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let hi = self.hex4().ok_or(bad)?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    if self.doc.get(self.pos..self.pos + 2) != Some(b"\\u") {
                        return Err(bad);
                    }
                    self.pos += 2;
                    let lo = self.hex4().filter(|lo| (0xDC00..0xE000).contains(lo));
                    0x10000 + ((hi - 0xD800) << 10) + (lo.ok_or(bad)? - 0xDC00)
                } else {
                    hi
                };
                char::from_u32(code).ok_or(bad)?
            }
            _ => return Err(bad),
        };
        Ok(c)
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.doc.get(self.pos..self.pos + 4)?;
        let mut n = 0;
        for &d in digits {
            n = n << 4 | char::from(d).to_digit(16)?;
        }
        self.pos += 4;
        Some(n)
    }
}

/// Appends `s` as a JSON string exactly as Go's `encoding/json` marshals it (HTML escaping
/// on, Go 1.22+ short escapes): `"` and `\` backslashed; `\b \f \n \r \t` short; other
/// control characters and `<`, `>`, `&` as `\u00xx`; U+2028 and U+2029 as `\u2028`/`\u2029`.
pub(crate) fn write_go_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\x08' => out.extend_from_slice(b"\\b"),
            '\x0c' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            '\0'..='\x1f' | '<' | '>' | '&' => {
                let b = c as u8;
                let hex = [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]];
                out.extend_from_slice(b"\\u00");
                out.extend_from_slice(&hex);
            }
            _ => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn obj(doc: &str) -> Result<Vec<(String, Value)>, JsonError> {
        parse_object(doc.as_bytes())
    }

    #[test]
    fn reads_values_of_every_kind() {
        let m =
            obj(r#" {"a":[1,-2.5e1,true,false,null],"b":{"c":"x\"\u00e9\ud83d\ude00\n"},"e":{}} "#)
                .unwrap();
        assert_eq!(
            m[0].1,
            Value::Array(vec![
                Value::Number(1.0),
                Value::Number(-25.0),
                Value::Bool(true),
                Value::Bool(false),
                Value::Null
            ])
        );
        let Value::Object(b) = &m[1].1 else { panic!() };
        assert_eq!(b[0].1, Value::String("x\"é😀\n".into()));
        assert_eq!(m[2].1, Value::Object(vec![]));
    }

    #[test]
    fn last_duplicate_wins_and_null_is_absent() {
        let m = obj(r#"{"a":1,"a":2,"n":null}"#).unwrap();
        assert_eq!(member(&m, "a"), Some(&Value::Number(2.0)));
        assert_eq!(member(&m, "n"), None);
        assert_eq!(member(&m, "zz"), None);
    }

    #[test]
    fn rejects_malformed_documents() {
        for doc in [
            "",
            "{",
            "}",
            "[]",
            "1",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{,}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":-}",
            "{\"a\":1e}",
            "{\"a\":tru}",
            "{\"a\":\"\\x\"}",
            "{\"a\":\"\\ud800\"}",
            "{\"a\":\"\\udc00\"}",
            "{\"a\":\"\x01\"}",
            "{\"a\":1} x",
            "{\"a\":[1 2]}",
            "{'a':1}",
            "{\"a\":\"\\u12\"}",
        ] {
            assert!(obj(doc).is_err(), "{doc:?}");
        }
        assert_eq!(
            parse_object(b"{\"a\":\"\xff\"}").unwrap_err().kind,
            JsonErrorKind::InvalidUtf8
        );
        assert_eq!(obj("[1]").unwrap_err().kind, JsonErrorKind::NotAnObject);
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = alloc::format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(MAX_JSON_DEPTH - 1),
            "]".repeat(MAX_JSON_DEPTH - 1)
        );
        assert!(obj(&ok).is_ok());
        let deep = alloc::format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        assert_eq!(obj(&deep).unwrap_err().kind, JsonErrorKind::TooDeep);
        let hostile = "[".repeat(100_000);
        assert!(obj(&alloc::format!("{{\"a\":{hostile}")).is_err());
    }

    #[test]
    fn go_string_escaping() {
        let mut out = Vec::new();
        write_go_string(
            "a\"\\\x08\x0c\n\r\t\x01\x1f<>&é\u{2028}\u{2029}😀",
            &mut out,
        );
        assert_eq!(
            out,
            "\"a\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\\u003c\\u003e\\u0026é\\u2028\\u2029😀\""
                .as_bytes()
        );
    }
}
