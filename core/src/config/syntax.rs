//! The syntax tree shared by the HCL v1 and JSON readers of `helper.conf`, their positions,
//! errors and limits.
//!
//! Both readers produce the same tree of [`Value`]s so that one decoder maps either form onto
//! [`Config`](super::Config), as HCL v1's `hcl.Decode` does.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::int::IntError;

/// Deepest nesting of lists and objects accepted; a real `helper.conf` needs four levels.
pub const MAX_DEPTH: usize = 32;

/// A position in the configuration text: 1-based line and 1-based column counted in
/// characters, as HCL v1 reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    /// Line number, starting at 1.
    pub line: u32,
    /// Column number in characters, starting at 1.
    pub column: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Why `helper.conf` could not be read: where, and what went wrong.
///
/// Displays as HCL v1 does: `At L:C: <problem>`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyntaxError {
    /// Where the problem was found.
    pub pos: Pos,
    /// What the problem is.
    pub kind: SyntaxErrorKind,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "At {}: {}", self.pos, self.kind)
    }
}

impl core::error::Error for SyntaxError {}

/// The problems [`parse`](super::parse) reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyntaxErrorKind {
    /// The text ended where more was needed.
    UnexpectedEnd {
        /// What was expected instead.
        expected: &'static str,
    },
    /// A character that cannot appear here.
    UnexpectedChar {
        /// The character found.
        found: char,
        /// What was expected instead.
        expected: &'static str,
    },
    /// A quoted string without its closing quote.
    UnterminatedString,
    /// A line break inside a quoted string (HCL v1 and JSON both forbid it).
    NewlineInString,
    /// A control character inside a JSON string.
    ControlCharInString,
    /// A backslash escape that is not supported.
    InvalidEscape {
        /// The character after the backslash.
        found: char,
    },
    /// A `\u` or `\U` escape that is not a Unicode scalar value.
    InvalidUnicodeEscape,
    /// Bytes that are not UTF-8 (HCL v1's scanner reports them the same way).
    InvalidUtf8,
    /// A `/* */` comment without its end.
    UnterminatedComment,
    /// A heredoc whose closing anchor line never comes.
    UnterminatedHeredoc {
        /// The anchor, e.g. `EOF`.
        anchor: String,
    },
    /// `<<` not followed by an anchor name and a line break.
    InvalidHeredocAnchor,
    /// A malformed number (e.g. `08`, `0x`, `1.`).
    InvalidNumber,
    /// Lists and objects nested deeper than [`MAX_DEPTH`].
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// `name "label" { ... }`: labelled blocks mean nothing in `helper.conf`.
    BlockLabel {
        /// The block name.
        key: String,
    },
    /// A JSON document with more than one value at top level, or not an object.
    NotAnObject,
    /// A value of the wrong type for its key.
    TypeMismatch {
        /// The key path, e.g. `jwt_svids[0].jwt_audience`.
        key: String,
        /// The type the key needs.
        expected: &'static str,
        /// The type found.
        found: &'static str,
    },
    /// An integer key whose value Go's `strconv.ParseInt(s, 0, 0)` rejects.
    InvalidInt {
        /// The key path.
        key: String,
        /// Go's error.
        error: IntError,
    },
    /// A boolean key whose value is none of `true`, `false`, `1`, `0`.
    InvalidBool {
        /// The key path.
        key: String,
        /// The text found.
        text: String,
    },
}

impl fmt::Display for SyntaxErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEnd { expected } => {
                write!(f, "unexpected end of input, expected {expected}")
            }
            Self::UnexpectedChar { found, expected } => {
                write!(f, "unexpected {found:?}, expected {expected}")
            }
            Self::UnterminatedString => f.write_str("string literal not terminated"),
            Self::NewlineInString => f.write_str("line break in string literal"),
            Self::ControlCharInString => f.write_str("control character in string literal"),
            Self::InvalidEscape { found } => write!(f, "unknown escape sequence \\{found}"),
            Self::InvalidUnicodeEscape => f.write_str("invalid unicode escape sequence"),
            Self::InvalidUtf8 => f.write_str("illegal UTF-8 encoding"),
            Self::UnterminatedComment => f.write_str("comment not terminated"),
            Self::UnterminatedHeredoc { anchor } => write!(f, "heredoc <<{anchor} not terminated"),
            Self::InvalidHeredocAnchor => {
                f.write_str("heredoc anchor must be a name followed by a line break")
            }
            Self::InvalidNumber => f.write_str("invalid number"),
            Self::TooDeep { limit } => write!(f, "nesting deeper than {limit} levels"),
            Self::BlockLabel { key } => {
                write!(
                    f,
                    "block {key:?} has a label; labelled blocks are not supported"
                )
            }
            Self::NotAnObject => f.write_str("a JSON configuration must be a single object"),
            Self::TypeMismatch {
                key,
                expected,
                found,
            } => write!(f, "{key}: expected {expected}, found {found}"),
            Self::InvalidInt { key, error } => write!(f, "{key}: {error}"),
            Self::InvalidBool { key, text } => {
                write!(f, "{key}: unknown value for boolean: {text}")
            }
        }
    }
}

/// One value of the tree, with the position of its first character.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Value {
    pub pos: Pos,
    pub kind: ValueKind,
}

/// The kinds of values HCL v1 and JSON share.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ValueKind {
    /// A quoted string or heredoc, unescaped.
    String(String),
    /// An integer literal as written (`0644`, `-1`, `0x1A4`).
    Number(String),
    /// A floating-point literal as written.
    Float(String),
    Bool(bool),
    List(Vec<Value>),
    Object(Vec<Item>),
}

impl ValueKind {
    /// The type name used in error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Self::String(_) => "string",
            Self::Number(_) => "integer",
            Self::Float(_) => "float",
            Self::Bool(_) => "bool",
            Self::List(_) => "list",
            Self::Object(_) => "object",
        }
    }
}

/// `key = value` (or a block) inside an object. The same key may appear more than once:
/// the decoder applies every occurrence in order, as `hcl.Decode` does.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Item {
    /// The key as written.
    pub key: String,
    /// Position of the key.
    pub pos: Pos,
    /// Whether the key was a quoted string in the HCL form (`"cmd" = ...`). HCL v1 records
    /// only bare (identifier) keys and JSON keys as unused, so a quoted HCL key that names no
    /// field is ignored rather than reported as unknown.
    pub quoted: bool,
    pub value: Value,
}

/// A key in case-folded form: two keys are the same key (Go's `strings.EqualFold`, which
/// HCL v1 uses to match keys) when their folded forms are equal.
pub(super) fn fold_key(key: &str) -> String {
    key.chars()
        .flat_map(char::to_uppercase)
        .flat_map(char::to_lowercase)
        .collect()
}

/// A character cursor over the configuration text that tracks line and column.
pub(super) struct Cursor<'a> {
    rest: &'a str,
    line: u32,
    column: u32,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self {
            rest: text,
            line: 1,
            column: 1,
        }
    }

    pub(super) fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            column: self.column,
        }
    }

    pub(super) fn rest(&self) -> &'a str {
        self.rest
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.rest.chars().next()
    }

    pub(super) fn peek2(&self) -> Option<char> {
        self.rest.chars().nth(1)
    }

    pub(super) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.rest = &self.rest[c.len_utf8()..];
        if c == '\n' {
            self.line = self.line.saturating_add(1);
            self.column = 1;
        } else {
            self.column = self.column.saturating_add(1);
        }
        Some(c)
    }

    /// Consumes `c` if it is next.
    pub(super) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// An error at the current position.
    pub(super) fn error(&self, kind: SyntaxErrorKind) -> SyntaxError {
        SyntaxError {
            pos: self.pos(),
            kind,
        }
    }

    /// The error for whatever is next, when `expected` was needed.
    pub(super) fn unexpected(&self, expected: &'static str) -> SyntaxError {
        self.error(match self.peek() {
            Some(found) => SyntaxErrorKind::UnexpectedChar { found, expected },
            None => SyntaxErrorKind::UnexpectedEnd { expected },
        })
    }
}
