//! The JSON tokenizer (RFC 8259): text to tokens with their byte offsets.
//!
//! Whitespace (§2: space, tab, line feed, carriage return) is skipped between tokens. Strings
//! are unescaped (§7, surrogate pairs joined; a lone surrogate is an error); numbers are checked
//! against §6's grammar and kept as their text; `true`, `false` and `null` are literal tokens.
//! The tokenizer has no notion of nesting: the tree builders on top of it bound the depth and
//! decide which token may come where.

use alloc::string::String;

/// One token and the byte offset of its first character.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token<'a> {
    /// Byte offset of the token's first character (the input's length for [`TokenKind::End`]).
    pub offset: usize,
    /// What the token is.
    pub kind: TokenKind<'a>,
}

/// The tokens of RFC 8259 §2, plus the end of the input.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum TokenKind<'a> {
    /// `{`
    BeginObject,
    /// `}`
    EndObject,
    /// `[`
    BeginArray,
    /// `]`
    EndArray,
    /// `:`
    Colon,
    /// `,`
    Comma,
    /// A string, unescaped.
    String(String),
    /// A number as written, in §6's grammar `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    /// The grammar stops after a leading `0`: `01` is the two numbers `0` and `1`.
    Number(&'a str),
    /// `true`
    True,
    /// `false`
    False,
    /// `null`
    Null,
    /// Nothing but whitespace is left.
    End,
}

/// Why no token could be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LexError {
    /// Byte offset of the token's first character.
    pub start: usize,
    /// Byte offset of the problem: the backslash of a bad escape, the character that may not
    /// appear in a string, the input's end in an unterminated string, else `start`.
    pub offset: usize,
    /// What the problem is.
    pub kind: LexErrorKind,
}

/// The kinds of [`LexError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LexErrorKind {
    /// A character that starts no token, or a misspelt `true`, `false` or `null`.
    Unexpected,
    /// Text that starts a number but does not follow §6's grammar (`-`, `1.`, `1e`).
    InvalidNumber,
    /// The input ends inside a string.
    UnterminatedString,
    /// The input ends right after a backslash in a string.
    UnterminatedEscape,
    /// A line feed inside a string.
    LineBreakInString,
    /// Another control character (below U+0020) inside a string.
    ControlCharInString,
    /// A backslash followed by a character that is not one of §7's escapes.
    InvalidEscape {
        /// The character after the backslash.
        found: char,
    },
    /// A `\u` escape without four hex digits, or a surrogate that is not half of a pair.
    InvalidUnicodeEscape,
}

impl LexErrorKind {
    /// Whether the error happened inside a string (the token was a string).
    pub(crate) fn in_string(self) -> bool {
        !matches!(self, Self::Unexpected | Self::InvalidNumber)
    }
}

/// Where the token, or the token that could not be read, starts: where a builder that
/// wanted something else reports it.
pub(crate) fn start(next: &Result<Token<'_>, LexError>) -> usize {
    match next {
        Ok(token) => token.offset,
        Err(e) => e.start,
    }
}

/// Whether `next` is a token of `kind`'s variant: for punctuation and literals, that token.
pub(crate) fn is(next: &Result<Token<'_>, LexError>, kind: &TokenKind<'_>) -> bool {
    matches!(next, Ok(t) if core::mem::discriminant(&t.kind) == core::mem::discriminant(kind))
}

/// Reads the tokens of one JSON text, one at a time.
pub(crate) struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    /// A tokenizer at the start of `text`.
    pub(crate) fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    /// The byte right after the last token read (no whitespace skipped).
    pub(crate) fn peek_byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// The next token; [`TokenKind::End`] once only whitespace is left.
    pub(crate) fn next_token(&mut self) -> Result<Token<'a>, LexError> {
        while matches!(self.peek_byte(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
        let offset = self.pos;
        let punct = |kind| (1, kind);
        let (len, kind) = match self.peek_byte() {
            None => (0, TokenKind::End),
            Some(b'{') => punct(TokenKind::BeginObject),
            Some(b'}') => punct(TokenKind::EndObject),
            Some(b'[') => punct(TokenKind::BeginArray),
            Some(b']') => punct(TokenKind::EndArray),
            Some(b':') => punct(TokenKind::Colon),
            Some(b',') => punct(TokenKind::Comma),
            Some(b'"') => return self.string().map(|s| Token { offset, kind: s }),
            Some(b'-' | b'0'..=b'9') => return self.number(),
            Some(b't') => self.literal("true", TokenKind::True)?,
            Some(b'f') => self.literal("false", TokenKind::False)?,
            Some(b'n') => self.literal("null", TokenKind::Null)?,
            Some(_) => return Err(self.error(offset, LexErrorKind::Unexpected)),
        };
        self.pos += len;
        Ok(Token { offset, kind })
    }

    /// Reads the token after an array element or object member: `Ok(true)` if it is `close`
    /// (the container ends), `Ok(false)` if it is a comma, else `Err` with where it starts.
    pub(crate) fn closes(&mut self, close: &TokenKind<'_>) -> Result<bool, usize> {
        let next = self.next_token();
        if is(&next, close) {
            Ok(true)
        } else if is(&next, &TokenKind::Comma) {
            Ok(false)
        } else {
            Err(start(&next))
        }
    }

    fn error(&self, offset: usize, kind: LexErrorKind) -> LexError {
        LexError {
            start: self.pos,
            offset,
            kind,
        }
    }

    fn literal(&self, word: &str, kind: TokenKind<'a>) -> Result<(usize, TokenKind<'a>), LexError> {
        if self.text[self.pos..].starts_with(word) {
            Ok((word.len(), kind))
        } else {
            Err(self.error(self.pos, LexErrorKind::Unexpected))
        }
    }

    /// Skips ASCII digits from `at`; returns the offset after them.
    fn digits(&self, mut at: usize) -> usize {
        while self.text.as_bytes().get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        at
    }

    /// A number (§6); the lexer is on its first character.
    fn number(&mut self) -> Result<Token<'a>, LexError> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let invalid = self.error(start, LexErrorKind::InvalidNumber);
        let digit_at = |at: usize| bytes.get(at).is_some_and(u8::is_ascii_digit);
        let mut at = start + usize::from(bytes[start] == b'-');
        at = match bytes.get(at) {
            Some(b'0') => at + 1,
            Some(b'1'..=b'9') => self.digits(at),
            _ => return Err(invalid),
        };
        if bytes.get(at) == Some(&b'.') {
            if !digit_at(at + 1) {
                return Err(invalid);
            }
            at = self.digits(at + 1);
        }
        if matches!(bytes.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(bytes.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            if !digit_at(at) {
                return Err(invalid);
            }
            at = self.digits(at);
        }
        self.pos = at;
        Ok(Token {
            offset: start,
            kind: TokenKind::Number(&self.text[start..at]),
        })
    }

    /// A string (§7); the lexer is on the opening quote.
    fn string(&mut self) -> Result<TokenKind<'a>, LexError> {
        let bytes = self.text.as_bytes();
        let mut out = String::new();
        // Bytes from `run` to `at` are copied as they are: UTF-8 sequences are never below
        // U+0020, a quote or a backslash, so byte-wise scanning keeps characters whole.
        let mut run = self.pos + 1;
        let mut at = run;
        loop {
            let Some(&b) = bytes.get(at) else {
                return Err(self.error(at, LexErrorKind::UnterminatedString));
            };
            let kind = match b {
                b'"' | b'\\' => {
                    out.push_str(&self.text[run..at]);
                    if b == b'"' {
                        self.pos = at + 1;
                        return Ok(TokenKind::String(out));
                    }
                    let (c, len) = self.escape(at)?;
                    out.push(c);
                    at += len;
                    run = at;
                    continue;
                }
                b'\n' => LexErrorKind::LineBreakInString,
                0..0x20 => LexErrorKind::ControlCharInString,
                _ => {
                    at += 1;
                    continue;
                }
            };
            return Err(self.error(at, kind));
        }
    }

    /// The escape at byte `at` (the backslash): its character and its length in bytes.
    fn escape(&self, at: usize) -> Result<(char, usize), LexError> {
        let bytes = self.text.as_bytes();
        let err = |kind| self.error(at, kind);
        let c = match bytes.get(at + 1) {
            None => return Err(err(LexErrorKind::UnterminatedEscape)),
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\x08',
            Some(b'f') => '\x0c',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let bad = err(LexErrorKind::InvalidUnicodeEscape);
                let hi = self.hex4(at + 2).ok_or(bad)?;
                if !(0xD800..0xDC00).contains(&hi) {
                    return Ok((char::from_u32(hi).ok_or(bad)?, 6));
                }
                let lo = (bytes.get(at + 6..at + 8) == Some(b"\\u"))
                    .then(|| self.hex4(at + 8))
                    .flatten()
                    .filter(|lo| (0xDC00..0xE000).contains(lo))
                    .ok_or(bad)?;
                let code = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return Ok((char::from_u32(code).ok_or(bad)?, 12));
            }
            Some(_) => {
                let found = self.text[at + 1..].chars().next().unwrap_or_default();
                return Err(err(LexErrorKind::InvalidEscape { found }));
            }
        };
        Ok((c, 2))
    }

    /// Four hex digits at byte `at`, as a number.
    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.text.as_bytes().get(at..at + 4)?;
        digits
            .iter()
            .try_fold(0, |n, &d| Some(n << 4 | char::from(d).to_digit(16)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    /// Every token of `text` up to the end, or the first error.
    fn tokens(text: &str) -> Result<Vec<Token<'_>>, LexError> {
        let mut lexer = Lexer::new(text);
        let mut out = Vec::new();
        loop {
            let token = lexer.next_token()?;
            if token.kind == TokenKind::End {
                return Ok(out);
            }
            out.push(token);
        }
    }

    fn kinds(text: &str) -> Vec<TokenKind<'_>> {
        tokens(text).unwrap().into_iter().map(|t| t.kind).collect()
    }

    fn string(text: &str) -> Result<String, LexError> {
        match Lexer::new(text).next_token()?.kind {
            TokenKind::String(s) => Ok(s),
            other => panic!("{other:?}"),
        }
    }

    fn error(text: &str) -> (usize, usize, LexErrorKind) {
        let e = tokens(text).unwrap_err();
        (e.start, e.offset, e.kind)
    }

    #[test]
    fn punctuation_literals_and_offsets() {
        let got = tokens(" {\"ab\" :\t[true,\r\nfalse, null]}\n").unwrap();
        let offsets: Vec<usize> = got.iter().map(|t| t.offset).collect();
        assert_eq!(offsets, [1, 2, 7, 9, 10, 14, 17, 22, 24, 28, 29]);
        assert_eq!(
            got.into_iter().map(|t| t.kind).collect::<Vec<_>>(),
            [
                TokenKind::BeginObject,
                TokenKind::String("ab".into()),
                TokenKind::Colon,
                TokenKind::BeginArray,
                TokenKind::True,
                TokenKind::Comma,
                TokenKind::False,
                TokenKind::Comma,
                TokenKind::Null,
                TokenKind::EndArray,
                TokenKind::EndObject,
            ]
        );
        let mut lexer = Lexer::new("  ");
        let end = lexer.next_token().unwrap();
        assert_eq!((end.offset, end.kind), (2, TokenKind::End));
        assert_eq!(lexer.next_token().unwrap().kind, TokenKind::End);
    }

    #[test]
    fn offsets_count_bytes_after_multibyte_characters() {
        let got = tokens("\"é😀\" 1").unwrap();
        assert_eq!(got[1].offset, 9);
    }

    #[test]
    fn every_escape() {
        assert_eq!(
            string(r#""\" \\ \/ \b \f \n \r \t \u0041 \u00e9 \uFFFF""#).unwrap(),
            "\" \\ / \x08 \x0c \n \r \t A é \u{ffff}"
        );
        assert_eq!(string("\"\x7fé\"").unwrap(), "\x7fé");
    }

    #[test]
    fn surrogates() {
        assert_eq!(string(r#""\ud83d\ude00x""#).unwrap(), "😀x");
        assert_eq!(string(r#""\uD800\uDC00""#).unwrap(), "\u{10000}");
        assert_eq!(string(r#""\udbff\udfff""#).unwrap(), "\u{10ffff}");
        let bad = LexErrorKind::InvalidUnicodeEscape;
        // A lone high surrogate, at the end, before a character or before a non-low escape.
        for text in [
            r#""\ud800""#,
            r#""\ud800x""#,
            r#""\ud800\n""#,
            r#""\ud800\u0041""#,
            r#""\ud800\ud800""#,
            r#""\ud800\udc0""#,
        ] {
            assert_eq!(error(text), (0, 1, bad), "{text}");
        }
        // A lone low surrogate.
        assert_eq!(error(r#""ab\udc00""#), (0, 3, bad));
        assert_eq!(error(r#""\u12""#), (0, 1, bad));
        assert_eq!(error(r#""\u12g4""#), (0, 1, bad));
        assert_eq!(error("\"\\u"), (0, 1, bad));
    }

    #[test]
    fn string_errors_and_their_offsets() {
        assert_eq!(error("  \"abc"), (2, 6, LexErrorKind::UnterminatedString));
        assert_eq!(error("\"abc\\"), (0, 4, LexErrorKind::UnterminatedEscape));
        assert_eq!(error("\"a\nb\""), (0, 2, LexErrorKind::LineBreakInString));
        assert_eq!(
            error("\"a\x01\""),
            (0, 2, LexErrorKind::ControlCharInString)
        );
        assert_eq!(error("\"a\tb\""), (0, 2, LexErrorKind::ControlCharInString));
        assert_eq!(
            error("\"a\\x\""),
            (0, 2, LexErrorKind::InvalidEscape { found: 'x' })
        );
        assert_eq!(
            error("\"\\é\""),
            (0, 1, LexErrorKind::InvalidEscape { found: 'é' })
        );
        assert!(LexErrorKind::UnterminatedString.in_string());
        assert!(!LexErrorKind::InvalidNumber.in_string());
    }

    #[test]
    fn numbers_grammar_edges() {
        for text in [
            "0",
            "-0",
            "1",
            "-1",
            "10",
            "0.5",
            "-0.0",
            "1e5",
            "1E+5",
            "1e-05",
            "1.25e3",
            "123456789012345678901234567890",
        ] {
            assert_eq!(kinds(text), [TokenKind::Number(text)], "{text}");
        }
        // The grammar stops where it must; what follows is the next token.
        assert_eq!(
            kinds("01"),
            [TokenKind::Number("0"), TokenKind::Number("1")]
        );
        assert_eq!(
            kinds("-00.5"),
            [TokenKind::Number("-0"), TokenKind::Number("0.5")]
        );
        assert_eq!(kinds("1]"), [TokenKind::Number("1"), TokenKind::EndArray]);
        let mut lexer = Lexer::new("0x");
        assert_eq!(lexer.next_token().unwrap().kind, TokenKind::Number("0"));
        assert_eq!(lexer.peek_byte(), Some(b'x'));
        for text in [
            "-", "-a", "1.", "1.e5", "1e", "1e+", "-.5", "1.5e-x", "+1", ".5",
        ] {
            let e = Lexer::new(text).next_token().unwrap_err();
            let want = if text.starts_with(['+', '.']) {
                LexErrorKind::Unexpected
            } else {
                LexErrorKind::InvalidNumber
            };
            assert_eq!((e.start, e.offset, e.kind), (0, 0, want), "{text}");
        }
    }

    #[test]
    fn misspelt_literals_and_stray_characters() {
        for text in ["tru", "fals", "nul", "True", "x", "'a'", "\u{feff}{}"] {
            assert_eq!(error(text), (0, 0, LexErrorKind::Unexpected), "{text}");
        }
        assert_eq!(error("[1, nulll"), (8, 8, LexErrorKind::Unexpected));
        // `truex` is `true` and then a stray `x`.
        let mut lexer = Lexer::new("truex");
        assert_eq!(lexer.next_token().unwrap().kind, TokenKind::True);
        assert_eq!(error("truex"), (4, 4, LexErrorKind::Unexpected));
    }
}
