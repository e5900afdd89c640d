//! Reader for the JSON form of `helper.conf` (RFC 8259).
//!
//! HCL v1 reads a file whose first non-blank character is `{` as JSON, with the same keys
//! and the same decoding rules as the HCL form. Strict JSON: no comments, no trailing
//! commas; `null` is rejected since no key accepts it. A key repeated in one object is kept
//! each time, as in the HCL form, and the decoder applies them in order.

use alloc::string::String;
use alloc::vec::Vec;

use super::syntax::{Cursor, Item, MAX_DEPTH, ParseError, ParseErrorKind, Value, ValueKind};

/// Parses a JSON document that must be a single object into its items.
pub fn parse(text: &str) -> Result<Vec<Item>, ParseError> {
    let mut p = Parser {
        cur: Cursor::new(text),
        depth: 0,
    };
    p.skip_ws();
    let pos = p.cur.pos();
    if p.cur.peek() != Some('{') {
        return Err(ParseError {
            pos,
            kind: ParseErrorKind::NotAnObject,
        });
    }
    let value = p.value()?;
    p.skip_ws();
    if p.cur.peek().is_some() {
        return Err(p.cur.error(ParseErrorKind::NotAnObject));
    }
    match value.kind {
        ValueKind::Object(items) => Ok(items),
        _ => Err(ParseError {
            pos,
            kind: ParseErrorKind::NotAnObject,
        }),
    }
}

/// Parses a complete JSON value of any type (the JSON forms of the `SPIFFE_HLP_*`
/// variables), with the same rules as the file's JSON form.
pub fn value(text: &str) -> Result<Value, ParseError> {
    let mut p = Parser {
        cur: Cursor::new(text),
        depth: 0,
    };
    p.skip_ws();
    let value = p.value()?;
    p.skip_ws();
    if p.cur.peek().is_some() {
        return Err(p.cur.unexpected("the end of the value"));
    }
    Ok(value)
}

struct Parser<'a> {
    cur: Cursor<'a>,
    depth: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while matches!(self.cur.peek(), Some(' ' | '\t' | '\r' | '\n')) {
            self.cur.bump();
        }
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        let pos = self.cur.pos();
        let kind = match self.cur.peek() {
            Some('{') => self.nested(Self::object)?,
            Some('[') => self.nested(Self::array)?,
            Some('"') => ValueKind::String(self.string()?),
            Some('-' | '0'..='9') => self.number()?,
            Some('t') if self.cur.rest().starts_with("true") => {
                self.skip_chars(4);
                ValueKind::Bool(true)
            }
            Some('f') if self.cur.rest().starts_with("false") => {
                self.skip_chars(5);
                ValueKind::Bool(false)
            }
            _ => return Err(self.cur.unexpected("a JSON value (not null)")),
        };
        Ok(Value { pos, kind })
    }

    fn skip_chars(&mut self, n: usize) {
        for _ in 0..n {
            self.cur.bump();
        }
    }

    fn nested(
        &mut self,
        f: fn(&mut Self) -> Result<ValueKind, ParseError>,
    ) -> Result<ValueKind, ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.cur.error(ParseErrorKind::TooDeep { limit: MAX_DEPTH }));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn object(&mut self) -> Result<ValueKind, ParseError> {
        self.cur.bump();
        let mut items = Vec::new();
        self.skip_ws();
        if self.cur.eat('}') {
            return Ok(ValueKind::Object(items));
        }
        loop {
            self.skip_ws();
            let pos = self.cur.pos();
            if self.cur.peek() != Some('"') {
                return Err(self.cur.unexpected("a quoted key"));
            }
            let key = self.string()?;
            self.skip_ws();
            if !self.cur.eat(':') {
                return Err(self.cur.unexpected("':'"));
            }
            self.skip_ws();
            let value = self.value()?;
            items.push(Item {
                key,
                pos,
                quoted: false,
                value,
            });
            self.skip_ws();
            if self.cur.eat('}') {
                return Ok(ValueKind::Object(items));
            }
            if !self.cur.eat(',') {
                return Err(self.cur.unexpected("',' or '}'"));
            }
        }
    }

    fn array(&mut self) -> Result<ValueKind, ParseError> {
        self.cur.bump();
        let mut values = Vec::new();
        self.skip_ws();
        if self.cur.eat(']') {
            return Ok(ValueKind::List(values));
        }
        loop {
            self.skip_ws();
            values.push(self.value()?);
            self.skip_ws();
            if self.cur.eat(']') {
                return Ok(ValueKind::List(values));
            }
            if !self.cur.eat(',') {
                return Err(self.cur.unexpected("',' or ']'"));
            }
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let start = self.cur.pos();
        self.cur.bump();
        let mut out = String::new();
        loop {
            match self.cur.peek() {
                None => {
                    return Err(ParseError {
                        pos: start,
                        kind: ParseErrorKind::UnterminatedString,
                    });
                }
                Some('"') => {
                    self.cur.bump();
                    return Ok(out);
                }
                Some('\n') => return Err(self.cur.error(ParseErrorKind::NewlineInString)),
                Some(c) if c < ' ' => {
                    return Err(self.cur.error(ParseErrorKind::ControlCharInString));
                }
                Some('\\') => out.push(self.escape()?),
                Some(c) => {
                    out.push(c);
                    self.cur.bump();
                }
            }
        }
    }

    /// One escape (RFC 8259 §7), surrogate pairs joined; the cursor on the backslash.
    fn escape(&mut self) -> Result<char, ParseError> {
        let at = self.cur.pos();
        let err = |kind| ParseError { pos: at, kind };
        self.cur.bump();
        let c = match self.cur.bump() {
            None => return Err(err(ParseErrorKind::UnterminatedString)),
            Some('"') => '"',
            Some('\\') => '\\',
            Some('/') => '/',
            Some('b') => '\x08',
            Some('f') => '\x0c',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('u') => {
                let hi = self
                    .hex4()
                    .ok_or_else(|| err(ParseErrorKind::InvalidUnicodeEscape))?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    let lo = (self.cur.eat('\\') && self.cur.eat('u'))
                        .then(|| self.hex4())
                        .flatten()
                        .filter(|lo| (0xDC00..0xE000).contains(lo))
                        .ok_or_else(|| err(ParseErrorKind::InvalidUnicodeEscape))?;
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                char::from_u32(code).ok_or_else(|| err(ParseErrorKind::InvalidUnicodeEscape))?
            }
            Some(found) => return Err(err(ParseErrorKind::InvalidEscape { found })),
        };
        Ok(c)
    }

    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0;
        for _ in 0..4 {
            let d = self.cur.peek()?.to_digit(16)?;
            self.cur.bump();
            v = (v << 4) | d;
        }
        Some(v)
    }

    /// A number in JSON's grammar; integers become [`ValueKind::Number`].
    fn number(&mut self) -> Result<ValueKind, ParseError> {
        let pos = self.cur.pos();
        let text = self.cur.rest();
        let invalid = ParseError {
            pos,
            kind: ParseErrorKind::InvalidNumber,
        };
        self.cur.eat('-');
        match self.cur.peek() {
            Some('0') => {
                self.cur.bump();
            }
            Some('1'..='9') => self.digits(),
            _ => return Err(invalid),
        }
        let mut float = false;
        if self.cur.eat('.') {
            float = true;
            if !self.cur.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(invalid);
            }
            self.digits();
        }
        if matches!(self.cur.peek(), Some('e' | 'E')) {
            float = true;
            self.cur.bump();
            if !self.cur.eat('-') {
                self.cur.eat('+');
            }
            if !self.cur.peek().is_some_and(|c| c.is_ascii_digit()) {
                return Err(invalid);
            }
            self.digits();
        }
        let text = String::from(&text[..text.len() - self.cur.rest().len()]);
        Ok(if float {
            ValueKind::Float(text)
        } else {
            ValueKind::Number(text)
        })
    }

    fn digits(&mut self) {
        while self.cur.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.cur.bump();
        }
    }
}
