//! Reader for the JSON form of `helper.conf` (RFC 8259).
//!
//! HCL v1 reads a file whose first non-blank character is `{` as JSON, with the same keys
//! and the same decoding rules as the HCL form. Strict JSON: no comments, no trailing
//! commas; `null` is rejected since no key accepts it. A key repeated in one object is kept
//! each time, as in the HCL form, and the decoder applies them in order.

use alloc::vec::Vec;

use super::syntax::{Item, MAX_DEPTH, ParseError, ParseErrorKind, Pos, Value, ValueKind};
use crate::json::lexer::{LexError, LexErrorKind, Lexer, Token, TokenKind, start};

/// Parses a JSON document that must be a single object into its items.
pub fn parse(text: &str) -> Result<Vec<Item>, ParseError> {
    let mut b = Builder {
        lexer: Lexer::new(text),
        lines: Lines::new(text),
        depth: 0,
    };
    let first = b.lexer.next_token();
    let value = match first {
        Ok(Token {
            kind: TokenKind::BeginObject,
            ..
        }) => b.value(first)?,
        other => return Err(b.at(start(&other), ParseErrorKind::NotAnObject)),
    };
    match b.lexer.next_token() {
        Ok(Token {
            kind: TokenKind::End,
            ..
        }) => {}
        other => return Err(b.at(start(&other), ParseErrorKind::NotAnObject)),
    }
    match value.kind {
        ValueKind::Object(items) => Ok(items),
        _ => Err(ParseError {
            pos: value.pos,
            kind: ParseErrorKind::NotAnObject,
        }),
    }
}

/// Byte offsets to [`Pos`]itions, counting forward from the last one asked for.
struct Lines<'a> {
    text: &'a str,
    offset: usize,
    pos: Pos,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            offset: 0,
            pos: Pos { line: 1, column: 1 },
        }
    }

    /// The line and column (in characters, lines split at `\n`) of byte `offset`.
    fn pos(&mut self, offset: usize) -> Pos {
        if offset < self.offset {
            *self = Self::new(self.text);
        }
        for c in self.text[self.offset..offset].chars() {
            if c == '\n' {
                self.pos.line = self.pos.line.saturating_add(1);
                self.pos.column = 1;
            } else {
                self.pos.column = self.pos.column.saturating_add(1);
            }
        }
        self.offset = offset;
        self.pos
    }
}

/// The `helper.conf` tree builder over the shared tokenizer.
struct Builder<'a> {
    lexer: Lexer<'a>,
    lines: Lines<'a>,
    depth: usize,
}

impl<'a> Builder<'a> {
    fn at(&mut self, offset: usize, kind: ParseErrorKind) -> ParseError {
        ParseError {
            pos: self.lines.pos(offset),
            kind,
        }
    }

    /// The error for the character at `offset`, when `expected` was needed there.
    fn unexpected(&mut self, offset: usize, expected: &'static str) -> ParseError {
        let kind = match self.lines.text[offset..].chars().next() {
            Some(found) => ParseErrorKind::UnexpectedChar { found, expected },
            None => ParseErrorKind::UnexpectedEnd { expected },
        };
        self.at(offset, kind)
    }

    /// The error for a token that could not be read where `expected` was needed.
    fn lex_error(&mut self, e: LexError, expected: &'static str) -> ParseError {
        let kind = match e.kind {
            LexErrorKind::Unexpected => return self.unexpected(e.start, expected),
            LexErrorKind::InvalidNumber => ParseErrorKind::InvalidNumber,
            LexErrorKind::UnterminatedString => {
                return self.at(e.start, ParseErrorKind::UnterminatedString);
            }
            LexErrorKind::UnterminatedEscape => ParseErrorKind::UnterminatedString,
            LexErrorKind::LineBreakInString => ParseErrorKind::NewlineInString,
            LexErrorKind::ControlCharInString => ParseErrorKind::ControlCharInString,
            LexErrorKind::InvalidEscape { found } => ParseErrorKind::InvalidEscape { found },
            LexErrorKind::InvalidUnicodeEscape => ParseErrorKind::InvalidUnicodeEscape,
        };
        self.at(e.offset, kind)
    }

    /// Reads the next token, which must be `want`; else the error names `expected`.
    fn expect(&mut self, want: &TokenKind<'_>, expected: &'static str) -> Result<(), ParseError> {
        match self.lexer.next_token() {
            Ok(token) if token.kind == *want => Ok(()),
            other => Err(self.unexpected(start(&other), expected)),
        }
    }

    /// The value that starts with `next`.
    fn value(&mut self, next: Result<Token<'a>, LexError>) -> Result<Value, ParseError> {
        const EXPECTED: &str = "a JSON value (not null)";
        let token = next.map_err(|e| self.lex_error(e, EXPECTED))?;
        let pos = self.lines.pos(token.offset);
        let kind = match token.kind {
            TokenKind::BeginObject | TokenKind::BeginArray if self.depth >= MAX_DEPTH => {
                return Err(self.at(token.offset, ParseErrorKind::TooDeep { limit: MAX_DEPTH }));
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
        f: fn(&mut Self) -> Result<ValueKind, ParseError>,
    ) -> Result<ValueKind, ParseError> {
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// After a member or element: `Ok(true)` if `close` ends the container, `Ok(false)` on `,`.
    fn closes(
        &mut self,
        close: &TokenKind<'_>,
        expected: &'static str,
    ) -> Result<bool, ParseError> {
        match self.lexer.next_token() {
            Ok(token) if token.kind == *close => Ok(true),
            Ok(Token {
                kind: TokenKind::Comma,
                ..
            }) => Ok(false),
            other => Err(self.unexpected(start(&other), expected)),
        }
    }

    fn object(&mut self) -> Result<ValueKind, ParseError> {
        let mut items = Vec::new();
        let mut next = self.lexer.next_token();
        if matches!(&next, Ok(t) if t.kind == TokenKind::EndObject) {
            return Ok(ValueKind::Object(items));
        }
        loop {
            let (key, pos) = match next {
                Ok(Token {
                    offset,
                    kind: TokenKind::String(key),
                }) => (key, self.lines.pos(offset)),
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
            if self.closes(&TokenKind::EndObject, "',' or '}'")? {
                return Ok(ValueKind::Object(items));
            }
            next = self.lexer.next_token();
        }
    }

    fn array(&mut self) -> Result<ValueKind, ParseError> {
        let mut values = Vec::new();
        let mut next = self.lexer.next_token();
        if matches!(&next, Ok(t) if t.kind == TokenKind::EndArray) {
            return Ok(ValueKind::List(values));
        }
        loop {
            values.push(self.value(next)?);
            if self.closes(&TokenKind::EndArray, "',' or ']'")? {
                return Ok(ValueKind::List(values));
            }
            next = self.lexer.next_token();
        }
    }
}
