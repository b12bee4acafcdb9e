//! SCIM filters (RFC 7644 §3.4.2.2): parsed into a [`Filter`] tree, evaluated against a JSON
//! resource (PATCH value filters) or translated by the caller into a store query.
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! logExp    = FILTER SP ("and" / "or") SP FILTER
//! compValue = false / null / true / number / string
//! attrPath  = [URI ":"] ATTRNAME *1subAttr
//! ```
//!
//! Precedence is `not` over `and` over `or`; operators and attribute names are
//! case-insensitive. Beyond the grammar, a value path may be followed by a sub-attribute
//! comparison, `emails[type eq "work"].value eq "a@b.example"`, read as "an element of
//! `emails` with type work and that value".

use serde_json::Value;

use crate::error::{ScimError, ScimResult};

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;

/// Deepest nesting of parentheses, `not` and value paths accepted.
pub const MAX_DEPTH: usize = 32;

/// An attribute path: `[URI:]name[.sub]` as written (SCIM names ignore case: compare them
/// with [`AttrPath::is`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN, when given (`urn:…:enterprise:2.0:user`).
    pub uri: Option<String>,
    /// The attribute name.
    pub name: String,
    /// The sub-attribute, when given.
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses `[URI:]name[.sub]`, keeping the letter case as written (compare with
    /// [`AttrPath::is`]).
    pub fn parse(raw: &str) -> ScimResult<Self> {
        let (uri, rest) = match raw.rfind(':') {
            Some(i) => (Some(raw[..i].to_owned()), &raw[i + 1..]),
            None => (None, raw),
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let valid = |s: &str| {
            let mut chars = s.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        let urn = |u: &str| u.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
        if !valid(name) || sub.is_some_and(|s| !valid(s)) || uri.as_deref().is_some_and(|u| !urn(u)) {
            return Err(ScimError::filter(format!("{raw:?} is not an attribute path")));
        }
        Ok(Self {
            uri,
            name: name.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }

    /// Whether the path is `name` (with no sub-attribute) or `name.sub`, ignoring case.
    pub fn is(&self, name: &str, sub: Option<&str>) -> bool {
        self.name.eq_ignore_ascii_case(name)
            && match (&self.sub, sub) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    }

    /// The path as `name` or `name.sub` (without the URN).
    pub fn dotted(&self) -> String {
        match &self.sub {
            Some(s) => format!("{}.{s}", self.name),
            None => self.name.clone(),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `attr op value`.
    Compare(AttrPath, CompareOp, Value),
    /// `attr pr`.
    Present(AttrPath),
    /// Both.
    And(Box<Filter>, Box<Filter>),
    /// Either.
    Or(Box<Filter>, Box<Filter>),
    /// Not.
    Not(Box<Filter>),
    /// `attr[filter]`: some element of the multi-valued `attr` matches `filter` (whose paths
    /// are relative to the element).
    ValuePath(AttrPath, Box<Filter>),
}

/// Parses a filter.
pub fn parse(input: &str) -> ScimResult<Filter> {
    if input.len() > MAX_FILTER_LEN {
        return Err(ScimError::filter("the filter is too long"));
    }
    let tokens = tokenize(input)?;
    let mut p = Parser { tokens, pos: 0 };
    let f = p.or(0)?;
    if p.pos != p.tokens.len() {
        return Err(ScimError::filter(format!(
            "unexpected {} in the filter",
            p.tokens[p.pos].describe()
        )));
    }
    Ok(f)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Value(Value),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    /// `].sub`: a value path's closing bracket followed by a sub-attribute.
    CloseBracketSub(String),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Word(w) => format!("{w:?}"),
            Token::Value(v) => v.to_string(),
            Token::Open => "\"(\"".into(),
            Token::Close => "\")\"".into(),
            Token::OpenBracket => "\"[\"".into(),
            Token::CloseBracket | Token::CloseBracketSub(_) => "\"]\"".into(),
        }
    }
}

fn tokenize(input: &str) -> ScimResult<Vec<Token>> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'(' => {
                out.push(Token::Open);
                i += 1;
            }
            b')' => {
                out.push(Token::Close);
                i += 1;
            }
            b'[' => {
                out.push(Token::OpenBracket);
                i += 1;
            }
            b']' => {
                i += 1;
                if bytes.get(i) == Some(&b'.') {
                    let start = i + 1;
                    let end = word_end(bytes, start);
                    out.push(Token::CloseBracketSub(input[start..end].to_owned()));
                    i = end;
                } else {
                    out.push(Token::CloseBracket);
                }
            }
            b'"' => {
                let end = string_end(bytes, i)?;
                let s: String = serde_json::from_str(&input[i..end])
                    .map_err(|_| ScimError::filter("a string in the filter is malformed"))?;
                out.push(Token::Value(Value::String(s)));
                i = end;
            }
            _ => {
                let end = word_end(bytes, i);
                if end == i {
                    return Err(ScimError::filter(format!("unexpected character {:?}", c as char)));
                }
                out.push(Token::Word(input[i..end].to_owned()));
                i = end;
            }
        }
    }
    Ok(out)
}

fn word_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len()
        && !matches!(
            bytes[i],
            b' ' | b'\t' | b'\n' | b'\r' | b'(' | b')' | b'[' | b']' | b'"'
        )
    {
        i += 1;
    }
    i
}

/// The index just past the closing quote of the string starting at `start`.
fn string_end(bytes: &[u8], start: usize) -> ScimResult<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Ok(i + 1),
            _ => i += 1,
        }
    }
    Err(ScimError::filter("a string in the filter is not closed"))
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> ScimResult<Token> {
        let t = self
            .tokens
            .get(self.pos)
            .cloned()
            .ok_or_else(|| ScimError::filter("the filter ends too early"))?;
        self.pos += 1;
        Ok(t)
    }

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn or(&mut self, depth: usize) -> ScimResult<Filter> {
        let mut left = self.and(depth)?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.and(depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self, depth: usize) -> ScimResult<Filter> {
        let mut left = self.unary(depth)?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.unary(depth)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> ScimResult<Filter> {
        if depth >= MAX_DEPTH {
            return Err(ScimError::filter("the filter is nested too deeply"));
        }
        if self.keyword("not") {
            self.pos += 1;
            if self.peek() != Some(&Token::Open) {
                return Err(ScimError::filter("\"not\" must be followed by a parenthesised filter"));
            }
            return Ok(Filter::Not(Box::new(self.unary(depth + 1)?)));
        }
        if self.peek() == Some(&Token::Open) {
            self.pos += 1;
            let inner = self.or(depth + 1)?;
            if self.next()? != Token::Close {
                return Err(ScimError::filter("a parenthesis is not closed"));
            }
            return Ok(inner);
        }
        self.attr_exp(depth)
    }

    fn attr_exp(&mut self, depth: usize) -> ScimResult<Filter> {
        let path = match self.next()? {
            Token::Word(w) => AttrPath::parse(&w)?,
            other => {
                return Err(ScimError::filter(format!(
                    "expected an attribute, found {}",
                    other.describe()
                )));
            }
        };
        if self.peek() == Some(&Token::OpenBracket) {
            self.pos += 1;
            if path.sub.is_some() {
                return Err(ScimError::filter(
                    "a value filter applies to an attribute, not a sub-attribute",
                ));
            }
            let inner = self.or(depth + 1)?;
            return match self.next()? {
                Token::CloseBracket => Ok(Filter::ValuePath(path, Box::new(inner))),
                Token::CloseBracketSub(sub) => {
                    let sub_path = AttrPath::parse(&sub)?;
                    let cond = self.condition(sub_path)?;
                    Ok(Filter::ValuePath(
                        path,
                        Box::new(Filter::And(Box::new(inner), Box::new(cond))),
                    ))
                }
                _ => Err(ScimError::filter("a value filter's \"[\" is not closed")),
            };
        }
        self.condition(path)
    }

    /// The operator and value after `path`.
    fn condition(&mut self, path: AttrPath) -> ScimResult<Filter> {
        let op = match self.next()? {
            Token::Word(w) if w.eq_ignore_ascii_case("pr") => return Ok(Filter::Present(path)),
            Token::Word(w) => {
                CompareOp::parse(&w).ok_or_else(|| ScimError::filter(format!("{w:?} is not a filter operator")))?
            }
            other => {
                return Err(ScimError::filter(format!(
                    "expected an operator, found {}",
                    other.describe()
                )));
            }
        };
        let value = match self.next()? {
            Token::Value(v) => v,
            Token::Word(w) => literal(&w)?,
            other => {
                return Err(ScimError::filter(format!(
                    "expected a value, found {}",
                    other.describe()
                )));
            }
        };
        if matches!(value, Value::Null) && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
            return Err(ScimError::filter("null can only be compared with eq or ne"));
        }
        if matches!(value, Value::Bool(_)) && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
            return Err(ScimError::filter("a boolean can only be compared with eq or ne"));
        }
        if !matches!(value, Value::String(_)) && matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
            return Err(ScimError::filter("co, sw and ew compare strings"));
        }
        Ok(Filter::Compare(path, op, value))
    }
}

fn literal(word: &str) -> ScimResult<Value> {
    match word.to_ascii_lowercase().as_str() {
        "true" => Ok(Value::Bool(true)),
        "false" => Ok(Value::Bool(false)),
        "null" => Ok(Value::Null),
        _ => serde_json::from_str::<serde_json::Number>(word)
            .map(Value::Number)
            .map_err(|_| ScimError::filter(format!("{word:?} is not a value (strings are quoted)"))),
    }
}

/// Finds `name` in `obj` ignoring case (SCIM attribute names are case-insensitive).
pub fn get_ci<'a>(obj: &'a Value, name: &str) -> Option<&'a Value> {
    obj.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// Whether `resource` (a resource, or one element of a multi-valued attribute) matches.
/// Strings compare ignoring case.
pub fn matches(filter: &Filter, resource: &Value) -> bool {
    match filter {
        Filter::And(a, b) => matches(a, resource) && matches(b, resource),
        Filter::Or(a, b) => matches(a, resource) || matches(b, resource),
        Filter::Not(a) => !matches(a, resource),
        Filter::Present(path) => values_at(resource, path).iter().any(|v| present(v)),
        Filter::Compare(path, op, expected) => {
            let found = values_at(resource, path);
            if found.is_empty() {
                return matches!((op, expected), (CompareOp::Eq, Value::Null) | (CompareOp::Ne, _))
                    && !matches!((op, expected), (CompareOp::Ne, Value::Null));
            }
            found.iter().any(|v| compare(v, *op, expected))
        }
        Filter::ValuePath(path, inner) => {
            let container = lookup(resource, path);
            match container {
                Some(Value::Array(items)) => items.iter().any(|item| matches(inner, item)),
                Some(item @ Value::Object(_)) => matches(inner, item),
                _ => false,
            }
        }
    }
}

fn present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => true,
    }
}

fn lookup<'a>(resource: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    match &path.uri {
        Some(uri) => get_ci(resource, uri).and_then(|ext| get_ci(ext, &path.name)),
        None => get_ci(resource, &path.name),
    }
}

/// The values at `path`: for a multi-valued attribute each element's sub-attribute (or, with
/// no sub-attribute, its `value`).
fn values_at<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(v) = lookup(resource, path) else {
        return Vec::new();
    };
    let pick = |item: &'a Value| -> Option<&'a Value> {
        match (&path.sub, item) {
            (Some(sub), obj @ Value::Object(_)) => get_ci(obj, sub),
            (None, obj @ Value::Object(_)) => get_ci(obj, "value").or(Some(obj)),
            (Some(_), _) => None,
            (None, other) => Some(other),
        }
    };
    match v {
        Value::Array(items) => items.iter().filter_map(pick).collect(),
        other => pick(other).into_iter().collect(),
    }
}

fn compare(found: &Value, op: CompareOp, expected: &Value) -> bool {
    use std::cmp::Ordering;
    let ordering = match (found, expected) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            match op {
                CompareOp::Co => return a.contains(&b),
                CompareOp::Sw => return a.starts_with(&b),
                CompareOp::Ew => return a.ends_with(&b),
                _ => a.cmp(&b),
            }
        }
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        // Entra sends booleans as strings: "True" compares equal to true.
        (Value::String(a), Value::Bool(b)) | (Value::Bool(b), Value::String(a)) => {
            match a.to_ascii_lowercase().as_str() {
                "true" => true.cmp(b),
                "false" => false.cmp(b),
                _ => return op == CompareOp::Ne,
            }
        }
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
            _ => return false,
        },
        // Values of different types (or null) are never equal.
        _ => return op == CompareOp::Ne,
    };
    match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

#[cfg(test)]
mod tests;
