//! The JOSE tree builder (RFC 8259) for JOSE headers, JWT claims and JWKS documents, over the
//! shared tokenizer `crate::json::lexer`.
//!
//! The builder makes a plain tree. Nesting is limited to [`MAX_JSON_DEPTH`] so that hostile
//! input cannot exhaust the stack; everything else is bounded by the input's own size. Unlike
//! the `helper.conf` builder in `crate::config::json` (positions for diagnostics, no `null`,
//! duplicate keys kept for the decoder), JOSE documents need `null` and Go's "last duplicate
//! wins" member lookup ([`member`]).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::json::lexer::{LexError, Lexer, Token, TokenKind, is, start};

/// Deepest nesting of arrays and objects accepted.
pub const MAX_JSON_DEPTH: usize = 32;

/// A parsed JSON value. Public only to the fuzz targets (`--cfg fuzzing`), as the module is.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::exhaustive_enums, reason = "the value kinds of RFC 8259 §3")]
pub enum Value {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// Numbers are read as Go reads them into `float64` (and JOSE's NumericDate).
    Number(f64),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// Members in document order, duplicates kept; see [`member`].
    Object(Vec<(String, Value)>),
}

/// Why a document is not the JSON expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JsonError {
    /// Byte offset of the problem in the document.
    pub offset: usize,
    /// What the problem is.
    pub kind: JsonErrorKind,
}

/// The kinds of [`JsonError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
pub fn parse_object(doc: &[u8]) -> Result<Vec<(String, Value)>, JsonError> {
    let text = core::str::from_utf8(doc).map_err(|e| JsonError {
        offset: e.valid_up_to(),
        kind: JsonErrorKind::InvalidUtf8,
    })?;
    let mut b = Builder {
        lexer: Lexer::new(text),
    };
    let first = b.lexer.next_token();
    let value = b.value(first, 0)?;
    match b.lexer.next_token() {
        Ok(Token {
            kind: TokenKind::End,
            ..
        }) => {}
        other => return Err(syntax(start(&other))),
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
pub fn member<'v>(members: &'v [(String, Value)], name: &str) -> Option<&'v Value> {
    members
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
        .filter(|v| **v != Value::Null)
}

fn syntax(offset: usize) -> JsonError {
    JsonError {
        offset,
        kind: JsonErrorKind::Syntax,
    }
}

/// The tree builder over the shared tokenizer.
struct Builder<'a> {
    lexer: Lexer<'a>,
}

impl<'a> Builder<'a> {
    /// The value that starts with `next`, nested in `depth` arrays and objects.
    fn value(
        &mut self,
        next: Result<Token<'a>, LexError>,
        depth: usize,
    ) -> Result<Value, JsonError> {
        let token = next.map_err(|e| syntax(e.offset))?;
        Ok(match token.kind {
            TokenKind::BeginObject | TokenKind::BeginArray if depth >= MAX_JSON_DEPTH => {
                return Err(JsonError {
                    offset: token.offset,
                    kind: JsonErrorKind::TooDeep,
                });
            }
            TokenKind::BeginObject => self.object(depth + 1)?,
            TokenKind::BeginArray => self.array(depth + 1)?,
            TokenKind::String(s) => Value::String(s),
            // A digit right after a number is a leading zero (`01`; the tokenizer stops after
            // the `0`): the whole number is refused, at its start.
            TokenKind::Number(_) if self.lexer.peek_byte().is_some_and(|b| b.is_ascii_digit()) => {
                return Err(syntax(token.offset));
            }
            // §6's grammar is a subset of what `f64::from_str` reads.
            TokenKind::Number(text) => {
                Value::Number(text.parse().map_err(|_| syntax(token.offset))?)
            }
            TokenKind::True => Value::Bool(true),
            TokenKind::False => Value::Bool(false),
            TokenKind::Null => Value::Null,
            _ => return Err(syntax(token.offset)),
        })
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        let mut members = Vec::new();
        let mut next = self.lexer.next_token();
        if !is(&next, &TokenKind::EndObject) {
            loop {
                let name = match next {
                    Ok(Token {
                        kind: TokenKind::String(name),
                        ..
                    }) => name,
                    Err(e) if e.kind.in_string() => return Err(syntax(e.offset)),
                    other => return Err(syntax(start(&other))),
                };
                let colon = self.lexer.next_token();
                if !is(&colon, &TokenKind::Colon) {
                    return Err(syntax(start(&colon)));
                }
                let first = self.lexer.next_token();
                members.push((name, self.value(first, depth)?));
                if self.lexer.closes(&TokenKind::EndObject).map_err(syntax)? {
                    break;
                }
                next = self.lexer.next_token();
            }
        }
        Ok(Value::Object(members))
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        let mut items = Vec::new();
        let mut next = self.lexer.next_token();
        if !is(&next, &TokenKind::EndArray) {
            loop {
                items.push(self.value(next, depth)?);
                if self.lexer.closes(&TokenKind::EndArray).map_err(syntax)? {
                    break;
                }
                next = self.lexer.next_token();
            }
        }
        Ok(Value::Array(items))
    }
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
    fn numbers_are_correctly_rounded() {
        // As Go's `strconv.ParseFloat`. serde_json's default parser is one unit in the last
        // place off on the first (found by the `json_tokens` fuzz target, which therefore turns
        // on serde_json's `float_roundtrip`).
        let m = obj(r#"{"n":5625812e33,"m":-0.1e-400,"i":1e400}"#).unwrap();
        assert_eq!(member(&m, "n"), Some(&Value::Number(5.625812e39)));
        assert_eq!(member(&m, "m"), Some(&Value::Number(-0.0)));
        assert_eq!(member(&m, "i"), Some(&Value::Number(f64::INFINITY)));
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
    fn error_offsets() {
        for (doc, offset) in [
            ("{\"a\":01}", 5),
            ("{\"a\":-01.5}", 5),
            ("{\"a\":\"abc", 9),
            ("{\"a\":\"ab\\", 8),
            ("{\"a\":\"x\\ud800\"}", 7),
            ("{\"a\": [1 2]}", 9),
            ("{\"a\":1,}", 7),
            ("{\"a\":1} x", 8),
            ("  ", 2),
        ] {
            let e = obj(doc).unwrap_err();
            assert_eq!(
                (e.kind, e.offset),
                (JsonErrorKind::Syntax, offset),
                "{doc:?}"
            );
        }
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
}
