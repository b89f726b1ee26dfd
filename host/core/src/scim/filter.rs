//! SCIM filters (RFC 7644 §3.4.2.2): parser, AST and evaluation.
//!
//! [`parse_filter`] turns filter text into a [`Filter`]; bad input is a
//! [`FilterError`] with a human message and position (SCIM 400 `invalidFilter`).
//! The parser is bounded: [`MAX_FILTER_LEN`], [`MAX_FILTER_DEPTH`] and
//! [`MAX_FILTER_TERMS`] keep hostile input from exhausting the stack.
//!
//! [`Filter::matches`] evaluates a filter against a SCIM resource in JSON form.
//! Semantics where RFC 7644 leaves room:
//! - attribute names, schema URIs and JSON keys compare case-insensitively; a
//!   core schema URN (`urn:ietf:params:scim:schemas:core:2.0:User:…`) addresses
//!   top-level attributes, any other URN the extension object under that key;
//! - a multi-valued attribute matches if any element matches; a complex
//!   attribute compared without a sub-attribute compares its `value`;
//! - `ne` is the negation of `eq`: true when no value equals (so also when the
//!   attribute is absent); `eq null` means "not present", `ne null` "present";
//! - `pr` is false for absent, `null`, `""`, `[]`, `{}` and for arrays or
//!   objects holding only such values;
//! - strings honour [`AttrInfo::case_exact`]; two strings that both parse as
//!   RFC 3339 compare as instants unless the attribute is known not to be a
//!   dateTime; numbers compare numerically, only with numbers;
//! - booleans compare with `eq`/`ne` only, and also match the strings
//!   `"true"`/`"false"` (any case) written by sloppy clients; ordering
//!   operators on booleans never match, and [`Filter::validate`] reports them.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use chrono::DateTime;
use serde_json::{Number, Value};

use super::path::{self, AttrPath, PathError};

/// Longest filter accepted, in characters.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting accepted; each `( … )`, `not ( … )` and `attr[ … ]` is one level.
pub const MAX_FILTER_DEPTH: usize = 32;
/// Most attribute expressions (comparisons and `pr`) accepted in one filter.
pub const MAX_FILTER_TERMS: usize = 200;

/// A comparison operator (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `co`: contains (strings).
    Co,
    /// `sw`: starts with (strings).
    Sw,
    /// `ew`: ends with (strings).
    Ew,
    /// `gt`: greater than.
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// Every operator, in RFC order.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The lowercase keyword, e.g. `"eq"`.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// The operator for a keyword, ignoring ASCII case (`EQ`, `Eq`, `eq`).
    pub fn from_keyword(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }

    /// Whether this is an ordering operator (`gt`, `ge`, `lt`, `le`).
    pub fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed SCIM filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `path op value`; `value` is a string, number, boolean or null.
    Compare {
        /// The compared attribute.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The literal compared against.
        value: Value,
    },
    /// `path pr`.
    Present(AttrPath),
    /// `left and right`.
    And(Box<Filter>, Box<Filter>),
    /// `left or right`.
    Or(Box<Filter>, Box<Filter>),
    /// `not ( inner )`.
    Not(Box<Filter>),
    /// `attr[filter]`: some element of `attr` matches `filter`, whose paths
    /// are plain sub-attribute names relative to the element.
    ValuePath {
        /// The (multi-valued) complex attribute.
        attr: AttrPath,
        /// The filter applied to each element.
        filter: Box<Filter>,
    },
}

/// Attribute characteristics the evaluator needs, usually from the schema.
pub trait AttrInfo {
    /// Whether string comparison on this attribute is case-sensitive (RFC 7643 caseExact).
    fn case_exact(&self, path: &AttrPath) -> bool;
    /// The attribute's type, if known (drives dateTime/number/boolean comparison).
    fn attr_type(&self, path: &AttrPath) -> Option<AttrKind>;
}

/// RFC 7643 §2.3 attribute data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrKind {
    /// `string`.
    String,
    /// `boolean`.
    Boolean,
    /// `decimal`.
    Decimal,
    /// `integer`.
    Integer,
    /// `dateTime` (RFC 3339).
    DateTime,
    /// `binary` (base64).
    Binary,
    /// `reference` (URI).
    Reference,
    /// `complex`.
    Complex,
}

/// Schema-less [`AttrInfo`]: every string is case-insensitive and types are
/// inferred from the JSON values (dateTime when both sides parse as RFC 3339).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultAttrInfo;

impl AttrInfo for DefaultAttrInfo {
    fn case_exact(&self, _path: &AttrPath) -> bool {
        false
    }

    fn attr_type(&self, _path: &AttrPath) -> Option<AttrKind> {
        None
    }
}

/// What kind of problem a [`FilterError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterErrorKind {
    /// The text does not follow the grammar.
    Syntax,
    /// Longer than [`MAX_FILTER_LEN`] (or an attribute path over its limit).
    TooLong,
    /// Nested deeper than [`MAX_FILTER_DEPTH`].
    TooDeep,
    /// More than [`MAX_FILTER_TERMS`] attribute expressions.
    TooManyTerms,
    /// Well-formed but not allowed, e.g. `gt` on a boolean (from [`Filter::validate`]).
    Unsupported,
}

/// A rejected filter: callers answer SCIM 400 `invalidFilter` with `message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    /// The kind of problem.
    pub kind: FilterErrorKind,
    /// 0-based character offset of the problem in the text, when known.
    pub position: Option<usize>,
    /// Human-readable description, including the position when known.
    pub message: String,
}

impl FilterError {
    fn new(kind: FilterErrorKind, position: Option<usize>, message: String) -> Self {
        let message = match position {
            Some(p) => format!("{message} at position {p}"),
            None => message,
        };
        FilterError {
            kind,
            position,
            message,
        }
    }
}

/// Parses a filter (RFC 7644 §3.4.2.2).
pub fn parse_filter(text: &str) -> Result<Filter, FilterError> {
    let len = text.chars().count();
    if len > MAX_FILTER_LEN {
        let msg = format!("filter is {len} characters long; the limit is {MAX_FILTER_LEN}");
        return Err(FilterError::new(FilterErrorKind::TooLong, None, msg));
    }
    if text.trim().is_empty() {
        let msg = "filter is empty".to_owned();
        return Err(FilterError::new(FilterErrorKind::Syntax, None, msg));
    }
    let mut parser = Parser::new(text, 0);
    let filter = parser.parse_or()?;
    let next = parser.next()?;
    match next.tok {
        Tok::End => Ok(filter),
        other => Err(parser.syntax(
            next.at,
            format!(
                "unexpected {}; expected 'and', 'or' or the end of the filter",
                describe(&other)
            ),
        )),
    }
}

/// Parses the value filter of a PATCH path from byte `start` (just after `[`)
/// through the closing `]`; returns it and the byte offset after the `]`.
pub(crate) fn parse_value_filter(text: &str, start: usize) -> Result<(Filter, usize), FilterError> {
    let mut parser = Parser::new(text, start);
    let filter = parser.value_body(start.saturating_sub(1))?;
    Ok((filter, parser.lex.pos))
}

impl FromStr for Filter {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_filter(s)
    }
}

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Str(String),
    Word(&'a str),
    End,
}

struct Token<'a> {
    tok: Tok<'a>,
    /// Byte offset in the source.
    at: usize,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn next_token(&mut self) -> Result<Token<'a>, FilterError> {
        let rest = self.src.get(self.pos..).unwrap_or_default();
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
        let at = self.pos;
        let tok = match trimmed.chars().next() {
            None => Tok::End,
            Some('(') => Tok::Open,
            Some(')') => Tok::Close,
            Some('[') => Tok::OpenBracket,
            Some(']') => Tok::CloseBracket,
            Some('"') => return self.string(at),
            Some(_) => return Ok(self.word(at)),
        };
        if tok != Tok::End {
            self.pos += 1;
        }
        Ok(Token { tok, at })
    }

    /// A JSON string literal starting at the `"` at byte `at`.
    fn string(&mut self, at: usize) -> Result<Token<'a>, FilterError> {
        let bytes = self.src.as_bytes();
        let mut i = at + 1;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    let literal = self.src.get(at..=i).unwrap_or_default();
                    self.pos = i + 1;
                    return match serde_json::from_str::<String>(literal) {
                        Ok(s) => Ok(Token {
                            tok: Tok::Str(s),
                            at,
                        }),
                        Err(e) => Err(self.error(at, format!("invalid string literal ({e})"))),
                    };
                }
                _ => i += 1,
            }
        }
        Err(self.error(at, "unterminated string".to_owned()))
    }

    /// A run of characters up to whitespace, a bracket, a parenthesis or a quote.
    fn word(&mut self, at: usize) -> Token<'a> {
        let rest = self.src.get(at..).unwrap_or_default();
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"'))
            .unwrap_or(rest.len());
        self.pos = at + end;
        Token {
            tok: Tok::Word(rest.get(..end).unwrap_or_default()),
            at,
        }
    }

    fn error(&self, at: usize, message: String) -> FilterError {
        FilterError::new(
            FilterErrorKind::Syntax,
            Some(char_pos(self.src, at)),
            message,
        )
    }
}

fn describe(tok: &Tok<'_>) -> String {
    match tok {
        Tok::Open => "'('".to_owned(),
        Tok::Close => "')'".to_owned(),
        Tok::OpenBracket => "'['".to_owned(),
        Tok::CloseBracket => "']'".to_owned(),
        Tok::Str(s) => format!("string \"{}\"", truncate(s)),
        Tok::Word(w) => format!("'{}'", truncate(w)),
        Tok::End => "the end of the filter".to_owned(),
    }
}

// ---------------------------------------------------------------- parser

/// Recursive descent; `or` and `and` chains loop, only nesting recurses
/// (bounded by [`MAX_FILTER_DEPTH`]).
struct Parser<'a> {
    lex: Lexer<'a>,
    peeked: Option<Token<'a>>,
    depth: usize,
    terms: usize,
    in_value: bool,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, pos: usize) -> Self {
        Parser {
            lex: Lexer { src, pos },
            peeked: None,
            depth: 0,
            terms: 0,
            in_value: false,
        }
    }

    fn peek(&mut self) -> Result<&Token<'a>, FilterError> {
        let tok = match self.peeked.take() {
            Some(t) => t,
            None => self.lex.next_token()?,
        };
        Ok(self.peeked.insert(tok))
    }

    fn next(&mut self) -> Result<Token<'a>, FilterError> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lex.next_token(),
        }
    }

    fn syntax(&self, at: usize, message: String) -> FilterError {
        self.lex.error(at, message)
    }

    fn limit(&self, kind: FilterErrorKind, at: usize, message: String) -> FilterError {
        FilterError::new(kind, Some(char_pos(self.lex.src, at)), message)
    }

    /// Consumes the next token if it is the keyword `kw` (any case).
    fn eat_keyword(&mut self, kw: &str) -> Result<bool, FilterError> {
        let hit = matches!(self.peek()?.tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw));
        if hit {
            self.peeked = None;
        }
        Ok(hit)
    }

    fn enter(&mut self, at: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_FILTER_DEPTH {
            let msg = format!("filter is nested more than {MAX_FILTER_DEPTH} levels deep");
            return Err(self.limit(FilterErrorKind::TooDeep, at, msg));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn parse_or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.parse_and()?;
        while self.eat_keyword("or")? {
            let right = self.parse_and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary()?;
        while self.eat_keyword("and")? {
            let right = self.parse_unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    /// `not ( … )`, `( … )` or an attribute expression / value path.
    fn parse_unary(&mut self) -> Result<Filter, FilterError> {
        let t = self.next()?;
        match t.tok {
            Tok::Open => self.group(t.at),
            Tok::Word(w) if w.eq_ignore_ascii_case("not") => {
                let open = self.next()?;
                if open.tok != Tok::Open {
                    let msg = format!("expected '(' after 'not', found {}", describe(&open.tok));
                    return Err(self.syntax(open.at, msg));
                }
                Ok(Filter::Not(Box::new(self.group(open.at)?)))
            }
            Tok::Word(w) => self.attr_expr(w, t.at),
            other => Err(self.syntax(
                t.at,
                format!(
                    "expected an attribute name, 'not' or '(', found {}",
                    describe(&other)
                ),
            )),
        }
    }

    /// The rest of `( … )` after the `(` at byte `open`.
    fn group(&mut self, open: usize) -> Result<Filter, FilterError> {
        self.enter(open)?;
        let inner = self.parse_or()?;
        let close = self.next()?;
        if close.tok != Tok::Close {
            let msg = format!(
                "expected ')' to close the '(' at position {}, found {}",
                char_pos(self.lex.src, open),
                describe(&close.tok)
            );
            return Err(self.syntax(close.at, msg));
        }
        self.leave();
        Ok(inner)
    }

    /// `path pr`, `path op value` or `path[valFilter]`, the path being `word` at byte `at`.
    fn attr_expr(&mut self, word: &'a str, at: usize) -> Result<Filter, FilterError> {
        let path = self.attr_path(word, at)?;
        if self.peek()?.tok == Tok::OpenBracket {
            let open = self.next()?;
            return self.value_path(path, open.at);
        }
        let op = self.next()?;
        let Tok::Word(op_word) = op.tok else {
            let msg = format!(
                "expected an operator after '{}', found {}",
                truncate(word),
                describe(&op.tok)
            );
            return Err(self.syntax(op.at, msg));
        };
        self.terms += 1;
        if self.terms > MAX_FILTER_TERMS {
            let msg = format!("filter has more than {MAX_FILTER_TERMS} comparisons");
            return Err(self.limit(FilterErrorKind::TooManyTerms, at, msg));
        }
        if op_word.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::from_keyword(op_word) else {
            let msg = format!(
                "unknown operator '{}'; expected eq, ne, co, sw, ew, gt, ge, lt, le or pr",
                truncate(op_word)
            );
            return Err(self.syntax(op.at, msg));
        };
        let value = self.comp_value(op)?;
        Ok(Filter::Compare { path, op, value })
    }

    fn attr_path(&self, word: &str, at: usize) -> Result<AttrPath, FilterError> {
        let path = AttrPath::parse(word).map_err(|e| self.path_error(e, at))?;
        if self.in_value && (path.uri.is_some() || path.sub.is_some()) {
            let msg = "attributes inside a value filter must be plain sub-attribute names";
            return Err(self.syntax(at, msg.to_owned()));
        }
        Ok(path)
    }

    fn path_error(&self, e: PathError, at: usize) -> FilterError {
        let base = char_pos(self.lex.src, at);
        match e {
            PathError::Syntax { position, message } => FilterError::new(
                FilterErrorKind::Syntax,
                Some(base + position),
                format!("invalid attribute path: {message}"),
            ),
            PathError::TooLong { .. } => {
                FilterError::new(FilterErrorKind::TooLong, Some(base), e.to_string())
            }
            other => FilterError::new(FilterErrorKind::Syntax, Some(base), other.to_string()),
        }
    }

    /// `compValue = false / null / true / number / string`.
    fn comp_value(&mut self, op: CompareOp) -> Result<Value, FilterError> {
        let t = self.next()?;
        let w = match t.tok {
            Tok::Str(s) => return Ok(Value::String(s)),
            Tok::Word(w) => w,
            other => {
                let msg = format!("expected a value after '{op}', found {}", describe(&other));
                return Err(self.syntax(t.at, msg));
            }
        };
        for (kw, v) in [
            ("true", Value::Bool(true)),
            ("false", Value::Bool(false)),
            ("null", Value::Null),
        ] {
            if w.eq_ignore_ascii_case(kw) {
                return Ok(v);
            }
        }
        if w.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            return w
                .parse::<Number>()
                .map(Value::Number)
                .map_err(|_| self.syntax(t.at, format!("invalid number '{}'", truncate(w))));
        }
        let msg = format!(
            "invalid value '{}'; expected a quoted string, a number, true, false or null",
            truncate(w)
        );
        Err(self.syntax(t.at, msg))
    }

    /// The rest of `attr[ … ]` after the `[` at byte `open`.
    fn value_path(&mut self, attr: AttrPath, open: usize) -> Result<Filter, FilterError> {
        if self.in_value {
            let msg = "value paths cannot be nested inside a value filter";
            return Err(self.syntax(open, msg.to_owned()));
        }
        if attr.sub.is_some() {
            let msg = "a value filter must follow a multi-valued attribute, not a sub-attribute";
            return Err(self.syntax(open, msg.to_owned()));
        }
        let filter = Box::new(self.value_body(open)?);
        Ok(Filter::ValuePath { attr, filter })
    }

    /// `valFilter "]"`, the `[` being at byte `open`.
    fn value_body(&mut self, open: usize) -> Result<Filter, FilterError> {
        self.enter(open)?;
        self.in_value = true;
        let inner = self.parse_or()?;
        let close = self.next()?;
        if close.tok != Tok::CloseBracket {
            let msg = format!(
                "expected ']' to close the value filter opened at position {}, found {}",
                char_pos(self.lex.src, open),
                describe(&close.tok)
            );
            return Err(self.syntax(close.at, msg));
        }
        self.in_value = false;
        self.leave();
        Ok(inner)
    }
}

// ---------------------------------------------------------------- display

impl fmt::Display for Filter {
    /// A normalized filter (lowercase operators, minimal parentheses) that
    /// parses back to the same AST.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(l, r) => {
                operand(f, l, matches!(**l, Filter::Or(..)))?;
                f.write_str(" and ")?;
                operand(f, r, matches!(**r, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Or(l, r) => {
                operand(f, l, false)?;
                f.write_str(" or ")?;
                operand(f, r, matches!(**r, Filter::Or(..)))
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { attr, filter } => write!(f, "{attr}[{filter}]"),
        }
    }
}

fn operand(f: &mut fmt::Formatter<'_>, x: &Filter, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({x})")
    } else {
        write!(f, "{x}")
    }
}

// ---------------------------------------------------------------- evaluation

/// Evaluation context: inside a value path, `parent` is the multi-valued attribute.
struct Ctx<'a> {
    info: &'a dyn AttrInfo,
    parent: Option<&'a AttrPath>,
}

impl Ctx<'_> {
    /// The path as the schema knows it (`emails.type` for `type` inside `emails[…]`).
    fn absolute<'p>(&self, path: &'p AttrPath) -> Cow<'p, AttrPath> {
        match self.parent {
            None => Cow::Borrowed(path),
            Some(parent) => Cow::Owned(parent.without_sub().with_sub(path.name.clone())),
        }
    }
}

impl Filter {
    /// Whether the SCIM resource (JSON) matches this filter.
    pub fn matches(&self, resource: &Value, info: &dyn AttrInfo) -> bool {
        eval(self, resource, &Ctx { info, parent: None })
    }

    /// Whether one element of the multi-valued attribute `parent` matches this
    /// value filter (paths relative to the element; `info` sees `parent.sub`).
    pub fn matches_within(&self, parent: &AttrPath, element: &Value, info: &dyn AttrInfo) -> bool {
        let ctx = Ctx {
            info,
            parent: Some(parent),
        };
        eval(self, element, &ctx)
    }

    /// Reports comparisons RFC 7644 forbids: ordering operators (`gt`, `ge`,
    /// `lt`, `le`) on boolean or binary attributes or literals, or against `null`.
    pub fn validate(&self, info: &dyn AttrInfo) -> Result<(), FilterError> {
        validate_in(self, &Ctx { info, parent: None })
    }

    /// Equalities that must all hold for the filter to match: string `eq`
    /// comparisons reachable through top-level `and` chains, including those
    /// inside value paths (`emails[value eq "x"]` gives `emails.value`).
    /// `or`/`not` subtrees contribute nothing. Literals that look like dateTimes
    /// or booleans are left out, since they may match other spellings. Values
    /// are as written: apply the attribute's caseExact when pushing them down,
    /// and still evaluate the whole filter on the candidates.
    pub fn required_equalities(&self) -> Vec<(AttrPath, String)> {
        let mut out = Vec::new();
        collect_equalities(self, None, &mut out);
        out
    }
}

fn eval(f: &Filter, root: &Value, ctx: &Ctx<'_>) -> bool {
    match f {
        Filter::Compare { path, op, value } => eval_compare(root, path, *op, value, ctx),
        Filter::Present(path) => present(root, path),
        Filter::And(l, r) => eval(l, root, ctx) && eval(r, root, ctx),
        Filter::Or(l, r) => eval(l, root, ctx) || eval(r, root, ctx),
        Filter::Not(inner) => !eval(inner, root, ctx),
        Filter::ValuePath { attr, filter } => {
            let Some(value) = attribute(root, attr) else {
                return false;
            };
            let inner = Ctx {
                info: ctx.info,
                parent: Some(attr),
            };
            elements(value)
                .iter()
                .any(|e| e.is_object() && eval(filter, e, &inner))
        }
    }
}

fn eval_compare(root: &Value, path: &AttrPath, op: CompareOp, lit: &Value, ctx: &Ctx<'_>) -> bool {
    if lit.is_null() {
        return match op {
            CompareOp::Eq => !present(root, path),
            CompareOp::Ne => present(root, path),
            _ => false,
        };
    }
    if op == CompareOp::Ne {
        return !eval_compare(root, path, CompareOp::Eq, lit, ctx);
    }
    let Some(value) = attribute(root, path) else {
        return false;
    };
    let abs = ctx.absolute(path);
    let case_exact = ctx.info.case_exact(&abs);
    let kind = ctx.info.attr_type(&abs);
    candidates(value, path.sub.as_deref())
        .into_iter()
        .any(|c| compare(c, op, lit, kind, case_exact))
}

/// The attribute's raw value: top-level, or inside the extension object named by the URI.
fn attribute<'v>(root: &'v Value, path: &AttrPath) -> Option<&'v Value> {
    let base = match &path.uri {
        Some(uri) if !path::is_core_schema_uri(uri) => get_ci(root, uri)?,
        _ => root,
    };
    get_ci(base, &path.name)
}

/// Object member lookup, exact key first, then ignoring ASCII case.
fn get_ci<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    let obj = value.as_object()?;
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The elements of an array, or the value itself.
fn elements(value: &Value) -> &[Value] {
    match value {
        Value::Array(items) => items,
        other => std::slice::from_ref(other),
    }
}

/// The scalar values a comparison looks at: the sub-attribute of each element,
/// or without one each element itself (its `value` when it is complex).
fn candidates<'v>(value: &'v Value, sub: Option<&str>) -> Vec<&'v Value> {
    let mut out = Vec::new();
    for e in elements(value) {
        let picked = match sub {
            Some(sub) => get_ci(e, sub),
            None if e.is_object() => get_ci(e, "value"),
            None => Some(e),
        };
        if let Some(v) = picked {
            out.extend(elements(v));
        }
    }
    out
}

fn present(root: &Value, path: &AttrPath) -> bool {
    let Some(value) = attribute(root, path) else {
        return false;
    };
    match &path.sub {
        None => has_value(value, 2),
        Some(sub) => elements(value)
            .iter()
            .any(|e| get_ci(e, sub).is_some_and(|v| has_value(v, 1))),
    }
}

/// Not null, `""`, `[]` or `{}`; arrays and objects need a member with a value
/// (looking `depth` levels down).
fn has_value(value: &Value, depth: u8) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) if depth == 0 => !items.is_empty(),
        Value::Object(map) if depth == 0 => !map.is_empty(),
        Value::Array(items) => items.iter().any(|v| has_value(v, depth - 1)),
        Value::Object(map) => map.values().any(|v| has_value(v, depth - 1)),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(
    c: &Value,
    op: CompareOp,
    lit: &Value,
    kind: Option<AttrKind>,
    case_exact: bool,
) -> bool {
    match (c, lit) {
        (_, Value::Bool(b)) => op == CompareOp::Eq && as_bool(c) == Some(*b),
        (Value::Bool(x), Value::String(s)) => op == CompareOp::Eq && parse_bool(s) == Some(*x),
        (Value::Number(x), Value::Number(y)) => {
            compare_numbers(x, y).is_some_and(|ord| holds(op, ord))
        }
        (Value::String(x), Value::String(y)) => compare_strings(x, y, op, kind, case_exact),
        _ => false,
    }
}

fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => parse_bool(s),
        _ => None,
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Whether `ord` (attribute value relative to the literal) satisfies `op`.
fn holds(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord.is_eq(),
        CompareOp::Gt => ord.is_gt(),
        CompareOp::Ge => ord.is_ge(),
        CompareOp::Lt => ord.is_lt(),
        CompareOp::Le => ord.is_le(),
        CompareOp::Ne | CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare_numbers(x: &Number, y: &Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (x.as_i64(), y.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (x.as_u64(), y.as_u64()) {
        return Some(a.cmp(&b));
    }
    x.as_f64()?.partial_cmp(&y.as_f64()?)
}

fn compare_strings(x: &str, y: &str, op: CompareOp, kind: Option<AttrKind>, exact: bool) -> bool {
    let (fx, fy) = (fold(x, exact), fold(y, exact));
    match op {
        CompareOp::Co => fx.contains(&*fy),
        CompareOp::Sw => fx.starts_with(&*fy),
        CompareOp::Ew => fx.ends_with(&*fy),
        _ => match compare_instants(x, y, kind) {
            Some(ord) => holds(op, ord),
            None => holds(op, fx.cmp(&fy)),
        },
    }
}

/// Compares as instants when the attribute may be a dateTime and both sides parse.
fn compare_instants(x: &str, y: &str, kind: Option<AttrKind>) -> Option<Ordering> {
    if !matches!(kind, None | Some(AttrKind::DateTime)) {
        return None;
    }
    let a = DateTime::parse_from_rfc3339(x).ok()?;
    let b = DateTime::parse_from_rfc3339(y).ok()?;
    Some(a.cmp(&b))
}

/// Lowercased unless case-exact; borrows when nothing changes.
fn fold(s: &str, case_exact: bool) -> Cow<'_, str> {
    if case_exact || (s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase())) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

fn validate_in(f: &Filter, ctx: &Ctx<'_>) -> Result<(), FilterError> {
    match f {
        Filter::Compare { path, op, value } if op.is_ordering() => {
            let abs = ctx.absolute(path);
            let kind = ctx.info.attr_type(&abs);
            let bad = value.is_boolean()
                || value.is_null()
                || matches!(kind, Some(AttrKind::Boolean | AttrKind::Binary));
            if bad {
                let msg = format!(
                    "operator '{op}' cannot compare '{abs}' with {value}: \
                     ordering is not defined for booleans, binary values or null"
                );
                return Err(FilterError::new(FilterErrorKind::Unsupported, None, msg));
            }
            Ok(())
        }
        Filter::And(l, r) | Filter::Or(l, r) => {
            validate_in(l, ctx)?;
            validate_in(r, ctx)
        }
        Filter::Not(inner) => validate_in(inner, ctx),
        Filter::ValuePath { attr, filter } => {
            let inner = Ctx {
                info: ctx.info,
                parent: Some(attr),
            };
            validate_in(filter, &inner)
        }
        Filter::Compare { .. } | Filter::Present(_) => Ok(()),
    }
}

fn collect_equalities(f: &Filter, parent: Option<&AttrPath>, out: &mut Vec<(AttrPath, String)>) {
    match f {
        Filter::And(l, r) => {
            collect_equalities(l, parent, out);
            collect_equalities(r, parent, out);
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Value::String(s),
        } if DateTime::parse_from_rfc3339(s).is_err() && parse_bool(s).is_none() => {
            let path = match parent {
                Some(p) => p.without_sub().with_sub(path.name.clone()),
                None => path.clone(),
            };
            out.push((path, s.clone()));
        }
        Filter::ValuePath { attr, filter } if parent.is_none() => {
            collect_equalities(filter, Some(attr), out);
        }
        _ => {}
    }
}

/// Character offset of byte offset `byte` in `text` (clamped to the text).
pub(crate) fn char_pos(text: &str, byte: usize) -> usize {
    let mut byte = byte.min(text.len());
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    text[..byte].chars().count()
}

/// At most 40 characters of `text`, for error messages.
pub(crate) fn truncate(text: &str) -> String {
    let mut out: String = text.chars().take(40).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    /// S-expression of the AST, to state expected trees compactly.
    fn sx(f: &Filter) -> String {
        match f {
            Filter::Compare { path, op, value } => format!("({op} {path} {value})"),
            Filter::Present(path) => format!("(pr {path})"),
            Filter::And(l, r) => format!("(and {} {})", sx(l), sx(r)),
            Filter::Or(l, r) => format!("(or {} {})", sx(l), sx(r)),
            Filter::Not(inner) => format!("(not {})", sx(inner)),
            Filter::ValuePath { attr, filter } => format!("({attr}[{}])", sx(filter)),
        }
    }

    fn parse(text: &str) -> Filter {
        parse_filter(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parses_and_round_trips() {
        let cases: &[(&str, &str)] = &[
            (r#"userName eq "bjensen""#, r#"(eq userName "bjensen")"#),
            (r#"userName EQ "a""#, r#"(eq userName "a")"#),
            (r#"userName Ne "a""#, r#"(ne userName "a")"#),
            (
                r#"name.familyName cO "O'Malley""#,
                r#"(co name.familyName "O'Malley")"#,
            ),
            (r#"userName SW "J""#, r#"(sw userName "J")"#),
            (r#"userName eW "n""#, r#"(ew userName "n")"#),
            ("title pr", "(pr title)"),
            ("title PR", "(pr title)"),
            (
                r#"meta.lastModified GT "2011-05-13T04:42:34Z""#,
                r#"(gt meta.lastModified "2011-05-13T04:42:34Z")"#,
            ),
            ("loginCount Ge 3", "(ge loginCount 3)"),
            ("score lT -1.5", "(lt score -1.5)"),
            ("score LE 1e3", "(le score 1000.0)"),
            ("active eq True", "(eq active true)"),
            ("active eq FALSE", "(eq active false)"),
            ("nickName eq NULL", "(eq nickName null)"),
            ("  userName\t eq  \"x\"  ", r#"(eq userName "x")"#),
            (r#"userName eq"x""#, r#"(eq userName "x")"#),
            (
                r#"userName eq "a\"b\\c\u00e9\n""#,
                "(eq userName \"a\\\"b\\\\cé\\n\")",
            ),
            (
                "a eq 1 or b eq 2 and c eq 3",
                "(or (eq a 1) (and (eq b 2) (eq c 3)))",
            ),
            (
                "a eq 1 AND b eq 2 Or c eq 3",
                "(or (and (eq a 1) (eq b 2)) (eq c 3))",
            ),
            (
                "a eq 1 and b eq 2 and c eq 3",
                "(and (and (eq a 1) (eq b 2)) (eq c 3))",
            ),
            (
                "(a eq 1 or b eq 2) and c eq 3",
                "(and (or (eq a 1) (eq b 2)) (eq c 3))",
            ),
            (
                "a eq 1 or (b eq 2 or c eq 3)",
                "(or (eq a 1) (or (eq b 2) (eq c 3)))",
            ),
            (
                "a pr and (b pr and c pr)",
                "(and (pr a) (and (pr b) (pr c)))",
            ),
            ("((a eq 1))", "(eq a 1)"),
            ("not (a eq 1)", "(not (eq a 1))"),
            ("NOT(a pr) and b pr", "(and (not (pr a)) (pr b))"),
            ("Not (not (a pr or b pr))", "(not (not (or (pr a) (pr b))))"),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                r#"(and (eq userType "Employee") (or (co emails "example.com") (co emails.value "example.org")))"#,
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                r#"(or (emails[(and (eq type "work") (co value "@example.com"))]) (ims[(and (eq type "xmpp") (co value "@foo.com"))]))"#,
            ),
            (
                r#"emails[not (type eq "work") or primary eq true]"#,
                r#"(emails[(or (not (eq type "work")) (eq primary true))])"#,
            ),
            (
                r#"emails[(type eq "a" or type eq "b") and value pr]"#,
                r#"(emails[(and (or (eq type "a") (eq type "b")) (pr value))])"#,
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "2611""#,
                r#"(eq urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value "2611")"#,
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "Jensen""#,
                r#"(eq urn:ietf:params:scim:schemas:core:2.0:User:name.familyName "Jensen")"#,
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber Eq "42""#,
                r#"(eq urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber "42")"#,
            ),
            (
                r#"members[value eq "x"] and displayName sw "G""#,
                r#"(and (members[(eq value "x")]) (sw displayName "G"))"#,
            ),
        ];
        for (input, expected) in cases {
            let f = parse(input);
            assert_eq!(sx(&f), *expected, "{input}");
            let shown = f.to_string();
            assert_eq!(parse(&shown), f, "round trip of {input} via {shown}");
            assert_eq!(input.parse::<Filter>().as_ref(), Ok(&f));
        }
        let f = parse(r#"UserName Eq "x""#);
        assert_eq!(
            f.to_string(),
            r#"UserName eq "x""#,
            "keeps the attribute spelling"
        );
    }

    #[test]
    fn display_adds_needed_parentheses() {
        let c = |n: &str| Filter::Present(AttrPath::new(n));
        let and = |l, r| Filter::And(Box::new(l), Box::new(r));
        let or = |l, r| Filter::Or(Box::new(l), Box::new(r));
        let f = and(or(c("a"), c("b")), or(c("c"), and(c("d"), c("e"))));
        assert_eq!(f.to_string(), "(a pr or b pr) and (c pr or d pr and e pr)");
        assert_eq!(parse(&f.to_string()), f);
        let f = or(c("a"), or(c("b"), c("c")));
        assert_eq!(parse(&f.to_string()), f);
    }

    #[test]
    fn rejects_bad_filters() {
        use FilterErrorKind::*;
        let cases: &[(&str, FilterErrorKind, &str)] = &[
            ("", Syntax, "filter is empty"),
            ("   ", Syntax, "filter is empty"),
            (
                r#"userName eq "abc"#,
                Syntax,
                "unterminated string at position 12",
            ),
            (
                r#"userName eqq "x""#,
                Syntax,
                "unknown operator 'eqq'; expected eq, ne, co, sw, ew, gt, ge, lt, le or pr at position 9",
            ),
            (
                "userName eq",
                Syntax,
                "expected a value after 'eq', found the end of the filter at position 11",
            ),
            (
                "userName eq )",
                Syntax,
                "expected a value after 'eq', found ')' at position 12",
            ),
            (
                "userName",
                Syntax,
                "expected an operator after 'userName', found the end of the filter at position 8",
            ),
            (
                r#"userName eq "x" foo"#,
                Syntax,
                "unexpected 'foo'; expected 'and', 'or' or the end of the filter at position 16",
            ),
            (r#"userName eq "x")"#, Syntax, "unexpected ')'"),
            (
                r#"displayName eq "ééé" foo"#,
                Syntax,
                "unexpected 'foo'; expected 'and', 'or' or the end of the filter at position 21",
            ),
            (
                r#"userName eq "x" and"#,
                Syntax,
                "expected an attribute name, 'not' or '(', found the end of the filter",
            ),
            (
                r#"(userName eq "x""#,
                Syntax,
                "expected ')' to close the '(' at position 0, found the end of the filter at position 16",
            ),
            (
                "()",
                Syntax,
                "expected an attribute name, 'not' or '(', found ')' at position 1",
            ),
            (
                r#"emails[type eq "work""#,
                Syntax,
                "expected ']' to close the value filter opened at position 6, found the end of the filter",
            ),
            (
                r#"emails[type eq "work") and"#,
                Syntax,
                "expected ']' to close the value filter opened at position 6, found ')'",
            ),
            (
                r#"emails[type eq "work" and x[a eq 1]]"#,
                Syntax,
                "value paths cannot be nested inside a value filter at position 27",
            ),
            (
                r#"emails[type.x eq "a"]"#,
                Syntax,
                "must be plain sub-attribute names",
            ),
            (
                r#"emails[urn:x:y:type eq "a"]"#,
                Syntax,
                "must be plain sub-attribute names",
            ),
            (
                r#"emails.type[value eq "a"]"#,
                Syntax,
                "not a sub-attribute",
            ),
            (
                r#"userName eq bjensen"#,
                Syntax,
                "invalid value 'bjensen'; expected a quoted string, a number, true, false or null at position 12",
            ),
            ("a eq 01", Syntax, "invalid number '01'"),
            ("a eq -", Syntax, "invalid number '-'"),
            ("a eq 1.", Syntax, "invalid number '1.'"),
            (
                r#"not userName eq "x""#,
                Syntax,
                "expected '(' after 'not', found 'userName' at position 4",
            ),
            (
                r#"1abc eq "x""#,
                Syntax,
                "invalid attribute path: '1abc' is not a valid attribute name: it must start with a letter at position 0",
            ),
            (
                r#"a pr or name.given.x eq "a""#,
                Syntax,
                "only one level of sub-attribute is allowed at position 18",
            ),
            (r#"userName eq "\x""#, Syntax, "invalid string literal"),
            ("userName eq \"a\u{1}\"", Syntax, "invalid string literal"),
            (r#"userName eq 'x'"#, Syntax, "invalid value ''x''"),
            (
                r#"a pr or näme eq "x""#,
                Syntax,
                "invalid character 'ä' in attribute name at position 9",
            ),
            (
                r#"userName eq "abc"#,
                Syntax,
                "unterminated string at position 12",
            ),
            (
                r#"userName ] "x""#,
                Syntax,
                "expected an operator after 'userName', found ']'",
            ),
        ];
        for (input, kind, expected) in cases {
            let err = parse_filter(input).unwrap_err();
            assert_eq!(err.kind, *kind, "{input}: {err}");
            assert!(err.message.contains(expected), "{input}: got {err}");
        }
    }

    #[test]
    fn enforces_limits_without_overflowing() {
        let deep = "(".repeat(10_000);
        let err = parse_filter(&deep).unwrap_err();
        assert_eq!(err.kind, FilterErrorKind::TooLong);
        let deep = format!("{}a pr{}", "(".repeat(4000), ")".repeat(4000));
        assert!(parse_filter(&deep).is_err());
        let deep = "(".repeat(4000);
        let err = parse_filter(&deep).unwrap_err();
        assert_eq!(err.kind, FilterErrorKind::TooDeep);
        assert_eq!(err.position, Some(MAX_FILTER_DEPTH));
        let nots = "not (".repeat(800);
        assert_eq!(
            parse_filter(&nots).unwrap_err().kind,
            FilterErrorKind::TooDeep
        );

        let nest = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
        assert!(parse_filter(&nest(MAX_FILTER_DEPTH)).is_ok());
        assert_eq!(
            parse_filter(&nest(MAX_FILTER_DEPTH + 1)).unwrap_err().kind,
            FilterErrorKind::TooDeep
        );
        let vp = format!(
            "{}e[a pr]{}",
            "(".repeat(MAX_FILTER_DEPTH - 1),
            ")".repeat(MAX_FILTER_DEPTH - 1)
        );
        assert!(parse_filter(&vp).is_ok());
        let vp = format!("({vp})");
        assert_eq!(
            parse_filter(&vp).unwrap_err().kind,
            FilterErrorKind::TooDeep
        );

        let terms = |n: usize| vec!["a eq 1"; n].join(" and ");
        assert!(parse_filter(&terms(MAX_FILTER_TERMS)).is_ok());
        let err = parse_filter(&terms(MAX_FILTER_TERMS + 1)).unwrap_err();
        assert_eq!(err.kind, FilterErrorKind::TooManyTerms);
        assert!(err.message.contains("more than 200 comparisons"), "{err}");

        let long = format!(r#"userName eq "{}""#, "x".repeat(MAX_FILTER_LEN));
        assert_eq!(
            parse_filter(&long).unwrap_err().kind,
            FilterErrorKind::TooLong
        );
        let ok = format!(r#"userName eq "{}""#, "é".repeat(MAX_FILTER_LEN - 15));
        assert!(parse_filter(&ok).is_ok(), "limit counts characters");
        let long_path = format!("{} pr", "a".repeat(1025));
        assert_eq!(
            parse_filter(&long_path).unwrap_err().kind,
            FilterErrorKind::TooLong
        );
    }

    /// userName is not caseExact, id and externalId are; a few known types.
    struct TestInfo;

    impl AttrInfo for TestInfo {
        fn case_exact(&self, path: &AttrPath) -> bool {
            let top =
                path.sub.is_none() && (path.matches_name("id") || path.matches_name("externalId"));
            top || (path.matches_name("emails") && path.matches_sub(Some("type")))
        }

        fn attr_type(&self, path: &AttrPath) -> Option<AttrKind> {
            let sub = path.sub.as_deref().unwrap_or_default();
            match (path.name.to_ascii_lowercase().as_str(), sub) {
                ("meta", "created" | "lastModified") => Some(AttrKind::DateTime),
                ("active", _) => Some(AttrKind::Boolean),
                ("logincount", _) => Some(AttrKind::Integer),
                ("x509certificates", "value") => Some(AttrKind::Binary),
                ("userName", _) | ("username", _) => Some(AttrKind::String),
                _ => None,
            }
        }
    }

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "701984",
            "userName": "Bjensen@example.com",
            "name": {"familyName": "Jensen", "givenName": "Barbara", "middleName": ""},
            "displayName": "Babs Jensen",
            "nickName": null,
            "title": "",
            "active": true,
            "legacyFlag": "True",
            "userType": "Employee",
            "loginCount": 42,
            "score": 3.5,
            "tags": ["alpha", "Beta"],
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "phoneNumbers": [],
            "ims": [{"value": "", "type": null}],
            "groups": [{"value": "e9e30dba", "display": "Tour Guides"}],
            "x509Certificates": [{"value": "TUlJRE"}],
            ENT: {
                "employeeNumber": "42",
                "manager": {"value": "26118915", "displayName": "John Smith"}
            },
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2026-01-01T00:00:00+01:00"
            }
        })
    }

    #[test]
    fn evaluates_against_a_user() {
        let user = user();
        let cases: &[(&str, bool)] = &[
            (r#"userName eq "bjensen@EXAMPLE.com""#, true),
            (r#"USERNAME Eq "Bjensen@example.com""#, true),
            (r#"userName sw "BJ""#, true),
            (r#"userName ew "@Example.COM""#, true),
            (r#"userName co "jensen@""#, true),
            (r#"userName co "nobody""#, false),
            (r#"userName gt "a""#, true),
            (r#"userName lt "B""#, false),
            (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
            (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
            (r#"id sw "2819C""#, false),
            (r#"externalId eq "701984""#, true),
            (r#"displayName eq "babs jensen""#, true),
            (r#"emails eq "BABS@jensen.org""#, true),
            (r#"emails co "@jensen.org""#, true),
            (r#"emails.value ew ".org""#, true),
            (r#"emails.type eq "work""#, true),
            (r#"emails.type eq "WORK""#, false),
            (
                r#"emails[type eq "work" and value co "@example.com"]"#,
                true,
            ),
            (
                r#"emails[type eq "home" and value co "@example.com"]"#,
                false,
            ),
            (
                r#"emails[type eq "work"] and emails[value co "jensen.org"]"#,
                true,
            ),
            (r#"emails[primary eq true]"#, true),
            (r#"emails[not (primary eq true)]"#, true),
            (r#"emails[type eq "other" or primary eq true]"#, true),
            (r#"groups[value eq "e9e30dba"]"#, true),
            (r#"name[givenName eq "barbara"]"#, true),
            (r#"tags eq "beta""#, true),
            (r#"tags[value eq "beta"]"#, false),
            (r#"missing[type eq "x"]"#, false),
            (r#"not (missing[type eq "x"])"#, true),
            (&format!(r#"{ENT}:employeeNumber eq "42""#), true),
            (
                &format!(r#"{}:EMPLOYEENUMBER eq "42""#, ENT.to_uppercase()),
                true,
            ),
            (&format!(r#"{ENT}:manager.value eq "26118915""#), true),
            (&format!(r#"{ENT}:manager eq "26118915""#), true),
            (&format!("{ENT}:manager pr"), true),
            (&format!("{ENT}:costCenter pr"), false),
            (r#"employeeNumber eq "42""#, false),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "jensen""#,
                true,
            ),
            (r#"urn:other:schema:name.familyName eq "jensen""#, false),
            (r#"meta.lastModified eq "2025-12-31T23:00:00Z""#, true),
            (r#"meta.lastModified gt "2025-12-31T22:59:59Z""#, true),
            (r#"meta.lastModified lt "2025-12-31T23:00:00.001Z""#, true),
            (r#"meta.lastModified ge "2026-01-01T00:00:00+01:00""#, true),
            (r#"meta.lastModified gt "2026-01-01T00:00:00+01:00""#, false),
            (r#"meta.lastModified ne "2025-12-31T23:00:00Z""#, false),
            (r#"meta.created lt "2011-05-13T04:42:34Z""#, true),
            (r#"meta.created sw "2010-01""#, true),
            (r#"meta.created gt "2010""#, true),
            ("title pr", false),
            ("nickName pr", false),
            ("phoneNumbers pr", false),
            ("ims pr", false),
            ("ims.type pr", false),
            ("emails pr", true),
            ("emails.primary pr", true),
            ("name pr", true),
            ("name.middleName pr", false),
            ("name.givenName pr", true),
            ("missing pr", false),
            ("missing.sub pr", false),
            ("active pr", true),
            (r#"title eq """#, true),
            ("nickName eq null", true),
            ("missing eq null", true),
            ("userName eq null", false),
            ("userName ne null", true),
            ("userName gt null", false),
            (r#"missing ne "x""#, true),
            (r#"missing eq "x""#, false),
            (r#"missing co "x""#, false),
            (r#"missing gt "a""#, false),
            (r#"userName ne "nobody""#, true),
            (r#"userName ne "BJENSEN@example.com""#, false),
            (r#"emails.type ne "work""#, false),
            (r#"emails.type ne "other""#, true),
            ("active eq true", true),
            ("active eq TRUE", true),
            ("active eq false", false),
            ("active ne false", true),
            (r#"active eq "true""#, true),
            ("active gt false", false),
            ("legacyFlag eq true", true),
            ("legacyFlag eq false", false),
            ("loginCount gt 41", true),
            ("loginCount eq 42.0", true),
            ("loginCount le 41.5", false),
            ("loginCount ge -1", true),
            ("score ge 3.5", true),
            ("score lt 3.49", false),
            (r#"loginCount eq "42""#, false),
            ("displayName eq 42", false),
            ("not (userName eq \"x\")", true),
            ("a eq 1 or userName pr", true),
            (
                r#"userName eq "Bjensen@example.com" and active eq true"#,
                true,
            ),
            (
                r#"userName eq "Bjensen@example.com" and active eq false"#,
                false,
            ),
        ];
        for (input, expected) in cases {
            let f = parse(input);
            assert_eq!(f.matches(&user, &TestInfo), *expected, "{input}");
        }
        let f = parse(r#"emails[type eq "WORK"]"#);
        assert!(
            !f.matches(&user, &TestInfo),
            "value path asks info about emails.type"
        );
        assert!(f.matches(&user, &DefaultAttrInfo));
        let f = parse(r#"id eq "2819C223-7F76-453A-919D-413861904646""#);
        assert!(f.matches(&user, &DefaultAttrInfo));
    }

    #[test]
    fn evaluates_identity_provider_queries() {
        let user = json!({"userName": "A@B.com", "externalId": "123", "active": true});
        let group = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Group",
            "members": [{"value": "u1", "display": "A"}]
        });
        let info = DefaultAttrInfo;
        let cases: &[(&Value, &str, bool)] = &[
            (&user, r#"userName eq "a@b.com""#, true),
            (&user, r#"externalId eq "123""#, true),
            (&user, r#"externalId eq "124""#, false),
            (&user, r#"userName eq "a@b.com" and active eq true"#, true),
            (&user, r#"userName eq "x" and active eq true"#, false),
            (&group, r#"displayName eq "Group""#, true),
            (&group, r#"displayName eq "group""#, true),
            (&group, r#"members[value eq "u1"]"#, true),
            (&group, r#"members eq "u1""#, true),
            (
                &group,
                r#"urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "Group""#,
                true,
            ),
            (&json!("not an object"), r#"displayName eq "Group""#, false),
        ];
        for (resource, input, expected) in cases {
            assert_eq!(parse(input).matches(resource, &info), *expected, "{input}");
        }
    }

    #[test]
    fn matches_within_uses_the_parent_path() {
        let f = parse(r#"type eq "WORK""#);
        let emails = AttrPath::new("emails");
        let element = json!({"type": "work", "value": "a@b"});
        assert!(!f.matches_within(&emails, &element, &TestInfo));
        assert!(f.matches_within(&AttrPath::new("addresses"), &element, &TestInfo));
    }

    #[test]
    fn validates_ordering_on_booleans_and_binaries() {
        let cases: &[(&str, bool)] = &[
            ("active gt true", false),
            ("active lt 1", false),
            ("legacyFlag ge false", false),
            (r#"x509Certificates.value lt "a""#, false),
            (r#"x509Certificates[value gt "a"]"#, false),
            (r#"userName eq "x" or not (emails[primary le true])"#, false),
            ("a gt null", false),
            ("active eq true", true),
            (
                r#"userName gt "a" and meta.created ge "2026-01-01T00:00:00Z""#,
                true,
            ),
            ("loginCount gt 3", true),
            (r#"x509Certificates.value eq "a""#, true),
        ];
        for (input, ok) in cases {
            let res = parse(input).validate(&TestInfo);
            assert_eq!(res.is_ok(), *ok, "{input}: {res:?}");
            if let Err(e) = res {
                assert_eq!(e.kind, FilterErrorKind::Unsupported);
                assert!(e.message.contains("ordering is not defined"), "{e}");
            }
        }
    }

    #[test]
    fn extracts_required_equalities() {
        let cases: &[(&str, &[(&str, &str)])] = &[
            (r#"userName eq "x""#, &[("userName", "x")]),
            (
                r#"userName eq "x" and active eq true"#,
                &[("userName", "x")],
            ),
            (r#"externalId eq "123""#, &[("externalId", "123")]),
            (
                r#"emails[type eq "work" and value eq "a@b"]"#,
                &[("emails.type", "work"), ("emails.value", "a@b")],
            ),
            (r#"emails[value eq "a" or value eq "b"]"#, &[]),
            (
                r#"emails.value eq "a" and (externalId eq "1" or userName eq "b")"#,
                &[("emails.value", "a")],
            ),
            (
                r#"(userName eq "x" and displayName eq "y") and externalId eq "z""#,
                &[("userName", "x"), ("displayName", "y"), ("externalId", "z")],
            ),
            (r#"not (userName eq "x")"#, &[]),
            (r#"userName ne "x""#, &[]),
            (r#"userName co "x""#, &[]),
            (r#"userName eq "x" or userName eq "y""#, &[]),
            (r#"meta.created eq "2026-01-01T00:00:00Z""#, &[]),
            (r#"active eq "True""#, &[]),
            ("loginCount eq 1", &[]),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "42""#,
                &[(
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                    "42",
                )],
            ),
        ];
        for (input, expected) in cases {
            let got: Vec<(String, String)> = parse(input)
                .required_equalities()
                .into_iter()
                .map(|(p, v)| (p.to_string(), v))
                .collect();
            let want: Vec<(String, String)> = expected
                .iter()
                .map(|(p, v)| (p.to_string(), v.to_string()))
                .collect();
            assert_eq!(got, want, "{input}");
        }
    }

    #[test]
    fn operators_have_keywords() {
        for op in CompareOp::ALL {
            assert_eq!(
                CompareOp::from_keyword(&op.as_str().to_uppercase()),
                Some(op)
            );
        }
        assert_eq!(CompareOp::from_keyword("pr"), None);
        assert!(CompareOp::Ge.is_ordering() && !CompareOp::Co.is_ordering());
    }

    #[test]
    fn garbage_never_panics_and_successes_round_trip() {
        let pieces: Vec<&str> = concat!(
            "a eq 1|b.c pr| and | or | AND |not (|(|)|e[a eq true]|e[|]|b.c gt -2.5|a ne null|",
            r#"urn:x:y:a sw "s\""|"|\|é| |.|:|eq|1"#
        )
        .split('|')
        .collect();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let doc = json!({"a": "x", "b": {"c": [1, "y"]}, "e": [{"a": true}]});
        let mut parsed = 0;
        for _ in 0..20_000 {
            let len = next() % 12 + 1;
            let text: String = (0..len)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect();
            let _ = path::parse_patch_path(&text);
            let Ok(f) = parse_filter(&text) else { continue };
            parsed += 1;
            assert_eq!(parse_filter(&f.to_string()), Ok(f.clone()), "{text}");
            let _ = f.matches(&doc, &DefaultAttrInfo);
            let _ = f.validate(&TestInfo);
        }
        assert!(parsed > 300, "only {parsed} generated filters parsed");
    }
}
