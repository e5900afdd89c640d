//! Reader for the HCL v1 subset that `helper.conf` uses (upstream decodes it with
//! `github.com/hashicorp/hcl` v1, Vault fork, in `cmd/spiffe-helper/config/config.go@v0.11.0`).
//!
//! Supported: `key = value` and `"key" = value`; blocks `name { ... }` and `name = { ... }`;
//! items separated by line breaks or commas; lists `[a, b,]` (trailing comma allowed) of any
//! values, including objects; strings with the escapes `\a \b \f \n \r \t \v \\ \" \uXXXX
//! \UXXXXXXXX`, and `\xHH`/`\ooo` for ASCII; `${ ... }` interpolations kept verbatim (quotes
//! and line breaks allowed inside, no escapes processed, as HCL v1 does); heredocs `<<EOF` and
//! `<<-EOF`; numbers (integers in HCL v1's lexical forms, floats); `true`/`false`; comments
//! `#`, `//` and `/* */`. A key may be repeated: as `hcl.Decode` (which, unlike the Vault
//! fork's `hcl.Parse`, does not check duplicates) every occurrence is kept for the decoder.
//! Not supported (rejected with a position): labelled blocks `name "label" { }`, and byte
//! escapes above `\x7f`, which would make the text invalid UTF-8.
//!
//! This reader keeps its own scanner rather than the shared JSON tokenizer
//! (`crate::json::lexer`), because HCL v1's strings and numbers are not lexically JSON's
//! (`hcl/scanner/scanner.go` and `hcl/strconv/quote.go`@v1.0.1-vault-7): its strings take Go's
//! escapes (`\a \v \x \ooo \U` besides JSON's, no `\/`), a `\u` escape is one code point
//! (Go's `UnquoteChar` refuses a surrogate, so there are no pairs), and they hold `${ }`
//! interpolations; its numbers have octal, hex, leading zeros and `1.`, and end only where an
//! identifier could not go on. What the two forms share is `syntax.rs`: the tree, the
//! positions and the error kinds.

use alloc::string::String;
use alloc::vec::Vec;

use super::syntax::{Cursor, Item, MAX_DEPTH, Pos, SyntaxError, SyntaxErrorKind, Value, ValueKind};

/// Parses HCL v1 text into the items of its top-level object.
pub(super) fn parse(text: &str) -> Result<Vec<Item>, SyntaxError> {
    let mut p = Parser {
        cur: Cursor::new(text),
        depth: 0,
    };
    p.items(false)
}

struct Parser<'a> {
    cur: Cursor<'a>,
    depth: usize,
}

/// `v` as a char when it is ASCII.
fn ascii(v: u32) -> Option<char> {
    char::from_u32(v).filter(char::is_ascii)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

impl Parser<'_> {
    /// Skips white space and comments.
    fn skip_trivia(&mut self) -> Result<(), SyntaxError> {
        loop {
            match (self.cur.peek(), self.cur.peek2()) {
                (Some(' ' | '\t' | '\r' | '\n'), _) => {
                    self.cur.bump();
                }
                (Some('#'), _) | (Some('/'), Some('/')) => {
                    while !matches!(self.cur.peek(), None | Some('\n')) {
                        self.cur.bump();
                    }
                }
                (Some('/'), Some('*')) => {
                    let start = self.cur.pos();
                    self.cur.bump();
                    self.cur.bump();
                    loop {
                        match self.cur.bump() {
                            None => {
                                return Err(SyntaxError {
                                    pos: start,
                                    kind: SyntaxErrorKind::UnterminatedComment,
                                });
                            }
                            Some('*') if self.cur.eat('/') => break,
                            Some(_) => {}
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// Runs `f` one nesting level deeper, enforcing [`MAX_DEPTH`].
    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, SyntaxError>,
    ) -> Result<T, SyntaxError> {
        if self.depth >= MAX_DEPTH {
            return Err(self
                .cur
                .error(SyntaxErrorKind::TooDeep { limit: MAX_DEPTH }));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// The items of an object, up to its `}` (`braced`) or the end of the text.
    fn items(&mut self, braced: bool) -> Result<Vec<Item>, SyntaxError> {
        let mut items = Vec::new();
        loop {
            self.skip_trivia()?;
            match self.cur.peek() {
                None if !braced => return Ok(items),
                None => return Err(self.cur.unexpected("'}'")),
                Some('}') if braced => {
                    self.cur.bump();
                    return Ok(items);
                }
                Some(_) => {}
            }
            match self.item(braced)? {
                Some(item) => items.push(item),
                None => return Ok(items),
            }
            self.skip_trivia()?;
            self.cur.eat(',');
        }
    }

    /// One `key = value` or `key { ... }`. `None`: a top-level `key =` that ends the text,
    /// which HCL v1 drops with everything after the `=` (`hcl/parser/parser.go`@v1.0.1-vault-7:
    /// `object()` returns `errEofToken`, which `objectList` takes as the end of the list);
    /// inside braces it is an error there too.
    fn item(&mut self, braced: bool) -> Result<Option<Item>, SyntaxError> {
        let pos = self.cur.pos();
        let quoted = self.cur.peek() == Some('"');
        let key = self.key()?;
        self.skip_trivia()?;
        let value = match self.cur.peek() {
            Some('=') => {
                self.cur.bump();
                self.skip_trivia()?;
                if self.cur.peek().is_none() && !braced {
                    return Ok(None);
                }
                self.value()?
            }
            Some('{') => self.object()?,
            Some(c) if c == '"' || is_ident_start(c) => {
                return Err(self.cur.error(SyntaxErrorKind::BlockLabel { key }));
            }
            _ => return Err(self.cur.unexpected("'=' or '{' after the key")),
        };
        Ok(Some(Item {
            key,
            pos,
            quoted,
            value,
        }))
    }

    fn key(&mut self) -> Result<String, SyntaxError> {
        match self.cur.peek() {
            Some('"') => self.string(),
            Some(c) if is_ident_start(c) => Ok(self.ident()),
            _ => Err(self.cur.unexpected("a key")),
        }
    }

    fn ident(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.cur.peek().filter(|&c| is_ident_continue(c)) {
            s.push(c);
            self.cur.bump();
        }
        s
    }

    fn value(&mut self) -> Result<Value, SyntaxError> {
        let pos = self.cur.pos();
        let kind = match self.cur.peek() {
            Some('"') => ValueKind::String(self.string()?),
            Some('<') => ValueKind::String(self.heredoc()?),
            Some('[') => self.list()?,
            Some('{') => return self.object(),
            Some('-' | '0'..='9') => self.number()?,
            Some(c) if is_ident_start(c) => match self.ident().as_str() {
                "true" => ValueKind::Bool(true),
                "false" => ValueKind::Bool(false),
                _ => {
                    return Err(SyntaxError {
                        pos,
                        kind: SyntaxErrorKind::UnexpectedChar {
                            found: c,
                            expected: "a value (string, number, bool, list or object)",
                        },
                    });
                }
            },
            _ => return Err(self.cur.unexpected("a value")),
        };
        Ok(Value { pos, kind })
    }

    fn object(&mut self) -> Result<Value, SyntaxError> {
        let pos = self.cur.pos();
        self.cur.bump();
        let items = self.nested(|p| p.items(true))?;
        Ok(Value {
            pos,
            kind: ValueKind::Object(items),
        })
    }

    fn list(&mut self) -> Result<ValueKind, SyntaxError> {
        self.cur.bump();
        self.nested(|p| {
            let mut values = Vec::new();
            loop {
                p.skip_trivia()?;
                if p.cur.eat(']') {
                    return Ok(ValueKind::List(values));
                }
                values.push(p.value()?);
                p.skip_trivia()?;
                if !p.cur.eat(',') && p.cur.peek() != Some(']') {
                    return Err(p.cur.unexpected("',' or ']'"));
                }
            }
        })
    }

    /// A double-quoted string, unescaped.
    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.cur.pos();
        self.cur.bump();
        let mut out = String::new();
        loop {
            match self.cur.peek() {
                None => {
                    return Err(SyntaxError {
                        pos: start,
                        kind: SyntaxErrorKind::UnterminatedString,
                    });
                }
                Some('\n') => return Err(self.cur.error(SyntaxErrorKind::NewlineInString)),
                Some('"') => {
                    self.cur.bump();
                    return Ok(out);
                }
                Some('\\') => out.push(self.escape()?),
                Some('$') if self.cur.peek2() == Some('{') => {
                    self.interpolation(start, &mut out)?
                }
                Some(c) => {
                    out.push(c);
                    self.cur.bump();
                }
            }
        }
    }

    /// `${ ... }` inside a string, copied verbatim up to its matching `}`.
    fn interpolation(&mut self, start: Pos, out: &mut String) -> Result<(), SyntaxError> {
        let mut braces = 0usize;
        loop {
            let c = self.cur.bump().ok_or(SyntaxError {
                pos: start,
                kind: SyntaxErrorKind::UnterminatedString,
            })?;
            out.push(c);
            match c {
                '{' => braces += 1,
                '}' => {
                    braces -= 1;
                    if braces == 0 {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
    }

    /// One backslash escape, the cursor on the backslash.
    fn escape(&mut self) -> Result<char, SyntaxError> {
        let at = self.cur.pos();
        self.cur.bump();
        let err = |kind| SyntaxError { pos: at, kind };
        let c = match self.cur.bump() {
            None => return Err(err(SyntaxErrorKind::UnterminatedString)),
            Some('a') => '\x07',
            Some('b') => '\x08',
            Some('f') => '\x0c',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('v') => '\x0b',
            Some('\\') => '\\',
            Some('"') => '"',
            Some(u @ ('u' | 'U')) => {
                let v = self.radix_digits(if u == 'u' { 4 } else { 8 }, 16);
                let v = v.ok_or_else(|| err(SyntaxErrorKind::InvalidUnicodeEscape))?;
                char::from_u32(v).ok_or_else(|| err(SyntaxErrorKind::InvalidUnicodeEscape))?
            }
            Some('x') => self
                .radix_digits(2, 16)
                .and_then(ascii)
                .ok_or_else(|| err(SyntaxErrorKind::InvalidEscape { found: 'x' }))?,
            Some(first @ '0'..='7') => {
                let rest = self.radix_digits(2, 8);
                rest.and_then(|r| ascii((first as u32 - '0' as u32) << 6 | r))
                    .ok_or_else(|| err(SyntaxErrorKind::InvalidEscape { found: first }))?
            }
            Some(found) => return Err(err(SyntaxErrorKind::InvalidEscape { found })),
        };
        Ok(c)
    }

    /// `n` digits in `radix`, as a number.
    fn radix_digits(&mut self, n: usize, radix: u32) -> Option<u32> {
        let mut v: u32 = 0;
        for _ in 0..n {
            let d = self.cur.peek()?.to_digit(radix)?;
            self.cur.bump();
            v = (v << radix.trailing_zeros()) | d;
        }
        Some(v)
    }

    /// `<<ANCHOR` or `<<-ANCHOR`, a line break, lines, then a line holding only the anchor.
    /// The value is every line followed by `\n`. With `<<-`, the closing line's indentation
    /// is removed from every line when they all start with it (HCL v1's `unindentHeredoc`);
    /// with `<<`, HCL v1 keeps the closing line's indentation at the end of the value, and so
    /// do we. Unlike HCL v1, the closing line may end the text without a line break.
    fn heredoc(&mut self) -> Result<String, SyntaxError> {
        let start = self.cur.pos();
        self.cur.bump();
        if !self.cur.eat('<') {
            return Err(self.cur.unexpected("'<<' to start a heredoc"));
        }
        let unindent = self.cur.eat('-');
        let mut anchor = String::new();
        while let Some(c) = self.cur.peek().filter(|&c| c.is_alphanumeric() || c == '_') {
            anchor.push(c);
            self.cur.bump();
        }
        self.cur.eat('\r');
        if anchor.is_empty() || !self.cur.eat('\n') {
            return Err(self.cur.error(SyntaxErrorKind::InvalidHeredocAnchor));
        }
        let mut lines: Vec<&str> = Vec::new();
        let indent = loop {
            let rest = self.cur.rest();
            if rest.is_empty() {
                return Err(SyntaxError {
                    pos: start,
                    kind: SyntaxErrorKind::UnterminatedHeredoc { anchor },
                });
            }
            let line = rest.split('\n').next().unwrap_or_default();
            let closing = line.trim() == anchor;
            for _ in line.chars() {
                self.cur.bump();
            }
            if closing {
                break &line[..line.len() - line.trim_start().len()];
            }
            lines.push(line);
            self.cur.bump();
        };
        let strip = unindent && lines.iter().all(|l| l.starts_with(indent));
        let mut out = String::new();
        for line in lines {
            out.push_str(if strip { &line[indent.len()..] } else { line });
            out.push('\n');
        }
        if !unindent {
            out.push_str(indent);
        }
        Ok(out)
    }

    /// A number in HCL v1's lexical forms: `-`? then decimal, `0` octal, `0x` hex, or a
    /// float with `.` or an exponent. Octal digits are checked as HCL's lexer does.
    fn number(&mut self) -> Result<ValueKind, SyntaxError> {
        let pos = self.cur.pos();
        let text = self.cur.rest();
        let invalid = SyntaxError {
            pos,
            kind: SyntaxErrorKind::InvalidNumber,
        };
        self.cur.eat('-');
        if !self.cur.peek().is_some_and(|c| c.is_ascii_digit()) {
            return Err(self.cur.unexpected("a digit"));
        }
        let mut float = false;
        if self.cur.peek() == Some('0') && matches!(self.cur.peek2(), Some('x' | 'X')) {
            self.cur.bump();
            self.cur.bump();
            if self.digits(|c| c.is_ascii_hexdigit()) == 0 {
                return Err(invalid);
            }
        } else {
            let leading_zero = self.cur.peek() == Some('0');
            let before = self.cur.rest();
            self.digits(|c| c.is_ascii_digit());
            let digits = &before[..before.len() - self.cur.rest().len()];
            if self.cur.eat('.') {
                float = true;
                self.digits(|c| c.is_ascii_digit());
            }
            if matches!(self.cur.peek(), Some('e' | 'E')) {
                float = true;
                self.cur.bump();
                if !self.cur.eat('-') {
                    self.cur.eat('+');
                }
                if self.digits(|c| c.is_ascii_digit()) == 0 {
                    return Err(invalid);
                }
            }
            if !float && leading_zero && digits.contains(['8', '9']) {
                return Err(invalid);
            }
        }
        if self.cur.peek().is_some_and(is_ident_continue) {
            return Err(self.cur.unexpected("the end of the number"));
        }
        let text = String::from(&text[..text.len() - self.cur.rest().len()]);
        Ok(if float {
            ValueKind::Float(text)
        } else {
            ValueKind::Number(text)
        })
    }

    fn digits(&mut self, accept: impl Fn(char) -> bool) -> usize {
        let mut n = 0;
        while self.cur.peek().is_some_and(&accept) {
            self.cur.bump();
            n += 1;
        }
        n
    }
}
