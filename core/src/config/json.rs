//! Reader for the JSON form of `helper.conf` (RFC 8259).
//!
//! HCL v1 reads a file whose first non-blank character is `{` as JSON, with the same keys
//! and the same decoding rules as the HCL form. Strict JSON: no comments, no trailing
//! commas; `null` is rejected since no key accepts it. A key repeated in one object is kept
//! each time, as in the HCL form, and the decoder applies them in order.

use alloc::vec::Vec;

use super::syntax::{Cursor, Item, MAX_DEPTH, SyntaxError, SyntaxErrorKind, Value, ValueKind};
use crate::json::lexer::{LexError, LexErrorKind, Lexer, Token, TokenKind, is, start};

/// Parses a JSON document that must be a single object into its items.
pub(super) fn parse(text: &str) -> Result<Vec<Item>, SyntaxError> {
    let mut b = Builder::new(text);
    let first = b.lexer.next_token();
    let value = match first {
        Ok(Token {
            kind: TokenKind::BeginObject,
            ..
        }) => b.value(first)?,
        other => return Err(b.at(start(&other), SyntaxErrorKind::NotAnObject)),
    };
    match b.lexer.next_token() {
        Ok(Token {
            kind: TokenKind::End,
            ..
        }) => {}
        other => return Err(b.at(start(&other), SyntaxErrorKind::NotAnObject)),
    }
    match value.kind {
        ValueKind::Object(items) => Ok(items),
        _ => Err(SyntaxError {
            pos: value.pos,
            kind: SyntaxErrorKind::NotAnObject,
        }),
    }
}

/// Parses a complete JSON value of any type (the JSON forms of the `SPIFFE_HLP_*`
/// variables), with the same rules as the file's JSON form.
pub(super) fn value(text: &str) -> Result<Value, SyntaxError> {
    let mut b = Builder::new(text);
    let first = b.lexer.next_token();
    let value = b.value(first)?;
    match b.lexer.next_token() {
        Ok(Token {
            kind: TokenKind::End,
            ..
        }) => Ok(value),
        other => Err(b.unexpected(start(&other), "the end of the value")),
    }
}

/// The `helper.conf` tree builder over the shared tokenizer.
struct Builder<'a> {
    lexer: Lexer<'a>,
    text: &'a str,
    /// Turns byte offsets into positions: moved forward to each offset asked for.
    cur: Cursor<'a>,
    depth: usize,
}

impl<'a> Builder<'a> {
    fn new(text: &'a str) -> Self {
        Builder {
            lexer: Lexer::new(text),
            text,
            cur: Cursor::new(text),
            depth: 0,
        }
    }

    /// The cursor at byte `offset`, with its line and column.
    fn seek(&mut self, offset: usize) -> &Cursor<'a> {
        if offset < self.text.len() - self.cur.rest().len() {
            self.cur = Cursor::new(self.text);
        }
        while self.text.len() - self.cur.rest().len() < offset {
            self.cur.bump();
        }
        &self.cur
    }

    fn at(&mut self, offset: usize, kind: SyntaxErrorKind) -> SyntaxError {
        self.seek(offset).error(kind)
    }

    /// The error for the character at `offset`, when `expected` was needed there.
    fn unexpected(&mut self, offset: usize, expected: &'static str) -> SyntaxError {
        self.seek(offset).unexpected(expected)
    }

    /// The error for a token that could not be read where `expected` was needed.
    fn lex_error(&mut self, e: LexError, expected: &'static str) -> SyntaxError {
        let kind = match e.kind {
            LexErrorKind::Unexpected => return self.unexpected(e.start, expected),
            LexErrorKind::InvalidNumber => SyntaxErrorKind::InvalidNumber,
            LexErrorKind::UnterminatedString => {
                return self.at(e.start, SyntaxErrorKind::UnterminatedString);
            }
            LexErrorKind::UnterminatedEscape => SyntaxErrorKind::UnterminatedString,
            LexErrorKind::LineBreakInString => SyntaxErrorKind::NewlineInString,
            LexErrorKind::ControlCharInString => SyntaxErrorKind::ControlCharInString,
            LexErrorKind::InvalidEscape { found } => SyntaxErrorKind::InvalidEscape { found },
            LexErrorKind::InvalidUnicodeEscape => SyntaxErrorKind::InvalidUnicodeEscape,
        };
        self.at(e.offset, kind)
    }

    /// Reads the next token, which must be `want`; else the error names `expected`.
    fn expect(&mut self, want: &TokenKind<'_>, expected: &'static str) -> Result<(), SyntaxError> {
        let next = self.lexer.next_token();
        if is(&next, want) {
            Ok(())
        } else {
            Err(self.unexpected(start(&next), expected))
        }
    }

    /// The value that starts with `next`.
    fn value(&mut self, next: Result<Token<'a>, LexError>) -> Result<Value, SyntaxError> {
        const EXPECTED: &str = "a JSON value (not null)";
        let token = next.map_err(|e| self.lex_error(e, EXPECTED))?;
        let pos = self.seek(token.offset).pos();
        let kind = match token.kind {
            TokenKind::BeginObject | TokenKind::BeginArray if self.depth >= MAX_DEPTH => {
                return Err(self.at(token.offset, SyntaxErrorKind::TooDeep { limit: MAX_DEPTH }));
            }
            TokenKind::BeginObject => self.nested(Self::object)?,
            TokenKind::BeginArray => self.nested(Self::array)?,
            TokenKind::String(s) => ValueKind::String(s),
            TokenKind::Number(text) if text.contains(['.', 'e', 'E']) => {
                ValueKind::Float(text.into())
            }
            TokenKind::Number(text) => ValueKind::Number(text.into()),
            TokenKind::True => ValueKind::Bool(true),
            TokenKind::False => ValueKind::Bool(false),
            _ => return Err(self.unexpected(token.offset, EXPECTED)),
        };
        Ok(Value { pos, kind })
    }

    fn nested(
        &mut self,
        f: fn(&mut Self) -> Result<ValueKind, SyntaxError>,
    ) -> Result<ValueKind, SyntaxError> {
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn object(&mut self) -> Result<ValueKind, SyntaxError> {
        let mut items = Vec::new();
        let mut next = self.lexer.next_token();
        if is(&next, &TokenKind::EndObject) {
            return Ok(ValueKind::Object(items));
        }
        loop {
            let (key, pos) = match next {
                Ok(Token {
                    offset,
                    kind: TokenKind::String(key),
                }) => (key, self.seek(offset).pos()),
                Err(e) if e.kind.in_string() => return Err(self.lex_error(e, "a quoted key")),
                other => return Err(self.unexpected(start(&other), "a quoted key")),
            };
            self.expect(&TokenKind::Colon, "':'")?;
            let first = self.lexer.next_token();
            let value = self.value(first)?;
            items.push(Item {
                key,
                pos,
                quoted: false,
                value,
            });
            if self
                .lexer
                .closes(&TokenKind::EndObject)
                .map_err(|at| self.unexpected(at, "',' or '}'"))?
            {
                return Ok(ValueKind::Object(items));
            }
            next = self.lexer.next_token();
        }
    }

    fn array(&mut self) -> Result<ValueKind, SyntaxError> {
        let mut values = Vec::new();
        let mut next = self.lexer.next_token();
        if is(&next, &TokenKind::EndArray) {
            return Ok(ValueKind::List(values));
        }
        loop {
            values.push(self.value(next)?);
            if self
                .lexer
                .closes(&TokenKind::EndArray)
                .map_err(|at| self.unexpected(at, "',' or ']'"))?
            {
                return Ok(ValueKind::List(values));
            }
            next = self.lexer.next_token();
        }
    }
}
