//! SCIM attribute paths (RFC 7644 §3.10, §3.5.2): `name`, `name.sub`, `urn:…:name`, and value paths.
//!
//! An attribute path is `[URI ":"] ATTRNAME [ "." subAttr ]`. The schema URI
//! is everything up to the last `:` (URNs contain colons and dots, e.g.
//! `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`).
//! Attribute names are `ALPHA *("-" / "_" / DIGIT / ALPHA)`, plus the special
//! `$ref`. Names compare case-insensitively but keep their original spelling.
//!
//! PATCH paths add value filters: `emails[type eq "work"].value`.

use std::fmt;
use std::str::FromStr;

use super::filter::{self, Filter, FilterError, char_pos, truncate};

/// Longest attribute or PATCH path accepted, in characters.
pub const MAX_PATH_LEN: usize = 1024;

/// Most attribute paths accepted in one `attributes=` / `excludedAttributes=` list.
pub const MAX_ATTR_LIST_ITEMS: usize = 256;

/// Prefix of the core schema URNs (`…:User`, `…:Group`, …). A path qualified
/// with a core schema URN addresses the resource's top-level attributes.
pub const CORE_SCHEMA_PREFIX: &str = "urn:ietf:params:scim:schemas:core:2.0:";

/// A parsed attribute path: optional schema URI, attribute name, optional sub-attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// Schema URI qualifying the attribute, without the trailing `:`.
    pub uri: Option<String>,
    /// Attribute name as written.
    pub name: String,
    /// Sub-attribute name as written (`givenName` in `name.givenName`).
    pub sub: Option<String>,
}

/// A PATCH operation path (RFC 7644 §3.5.2): `attrPath` or `valuePath ["." subAttr]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchPath {
    /// The targeted attribute. When `filter` is set, `attr.sub` is always `None`.
    pub attr: AttrPath,
    /// The value filter selecting elements of a multi-valued attribute
    /// (`type eq "work"` in `emails[type eq "work"]`); its paths are relative to an element.
    pub filter: Option<Filter>,
    /// The sub-attribute after the value filter (`value` in `emails[…].value`).
    pub sub_attr: Option<String>,
}

/// Why an attribute or PATCH path was rejected (SCIM 400 `invalidPath` or `invalidFilter`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The path is empty or only whitespace.
    #[error("attribute path is empty")]
    Empty,
    /// The path is longer than [`MAX_PATH_LEN`].
    #[error("attribute path is {len} characters long; the limit is {max}")]
    TooLong {
        /// Length of the rejected path in characters.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The attribute list has more than [`MAX_ATTR_LIST_ITEMS`] entries.
    #[error("attribute list has more than {max} entries")]
    TooManyItems {
        /// The limit.
        max: usize,
    },
    /// The path does not follow the grammar.
    #[error("invalid attribute path: {message} at position {position}")]
    Syntax {
        /// 0-based character offset of the problem.
        position: usize,
        /// What is wrong.
        message: String,
    },
    /// The value filter inside `[…]` is invalid.
    #[error("invalid value filter in path: {0}")]
    Filter(#[from] FilterError),
}

impl AttrPath {
    /// A plain attribute path without URI or sub-attribute.
    pub fn new(name: impl Into<String>) -> Self {
        AttrPath {
            uri: None,
            name: name.into(),
            sub: None,
        }
    }

    /// This path with the schema URI set.
    pub fn with_uri(mut self, uri: impl Into<String>) -> Self {
        self.uri = Some(uri.into());
        self
    }

    /// This path with the sub-attribute set.
    pub fn with_sub(mut self, sub: impl Into<String>) -> Self {
        self.sub = Some(sub.into());
        self
    }

    /// This path without its sub-attribute (the parent attribute).
    pub fn without_sub(&self) -> AttrPath {
        AttrPath {
            uri: self.uri.clone(),
            name: self.name.clone(),
            sub: None,
        }
    }

    /// Parses `[URI ":"] ATTRNAME ["." subAttr]`.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        parse_at(text, 0)
    }

    /// Whether the attribute name equals `name`, ignoring ASCII case.
    pub fn matches_name(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// Whether the sub-attribute equals `sub` (ignoring ASCII case); `None` matches only `None`.
    pub fn matches_sub(&self, sub: Option<&str>) -> bool {
        match (&self.sub, sub) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }

    /// Field-by-field equality ignoring ASCII case (URI, name and sub-attribute).
    pub fn eq_ignore_ascii_case(&self, other: &AttrPath) -> bool {
        let uri_eq = match (&self.uri, &other.uri) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        };
        uri_eq && self.matches_name(&other.name) && self.matches_sub(other.sub.as_deref())
    }

    /// Whether the path addresses top-level attributes: no URI, or a core schema URI.
    pub fn is_core_schema(&self) -> bool {
        self.uri.as_deref().is_none_or(is_core_schema_uri)
    }
}

/// Whether `uri` is a core schema URN such as `urn:ietf:params:scim:schemas:core:2.0:User`.
pub fn is_core_schema_uri(uri: &str) -> bool {
    uri.get(..CORE_SCHEMA_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(CORE_SCHEMA_PREFIX))
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(uri) = &self.uri {
            write!(f, "{uri}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl FromStr for AttrPath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AttrPath::parse(s)
    }
}

impl PatchPath {
    /// The sub-attribute the operation targets, wherever it was written
    /// (`name.givenName` or `emails[…].value`).
    pub fn target_sub(&self) -> Option<&str> {
        self.sub_attr.as_deref().or(self.attr.sub.as_deref())
    }

    /// Whether an element of the targeted multi-valued attribute is selected
    /// by the value filter (always true without a filter).
    pub fn selects(&self, element: &serde_json::Value, info: &dyn filter::AttrInfo) -> bool {
        match &self.filter {
            Some(f) => f.matches_within(&self.attr, element, info),
            None => true,
        }
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl FromStr for PatchPath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_patch_path(s)
    }
}

/// Parses a PATCH `path`: `attrPath` or `attrPath "[" valFilter "]" ["." subAttr]`.
pub fn parse_patch_path(text: &str) -> Result<PatchPath, PathError> {
    let text = text.trim();
    check_len(text)?;
    let Some(open) = text.find('[') else {
        return Ok(PatchPath {
            attr: parse_at(text, 0)?,
            filter: None,
            sub_attr: None,
        });
    };
    let attr = parse_at(&text[..open], 0)?;
    if attr.sub.is_some() {
        let msg = "a value filter must follow a multi-valued attribute, not a sub-attribute";
        return Err(syntax(text, open, msg));
    }
    let (value_filter, end) = filter::parse_value_filter(text, open + 1)?;
    let rest = &text[end..];
    let sub_attr = if rest.is_empty() {
        None
    } else if let Some(sub) = rest.strip_prefix('.') {
        check_name(text, end + 1, sub)?;
        Some(sub.to_owned())
    } else {
        let msg = "expected '.subAttribute' or the end of the path after ']'";
        return Err(syntax(text, end, msg));
    };
    Ok(PatchPath {
        attr,
        filter: Some(value_filter),
        sub_attr,
    })
}

/// Parses an `attributes=` / `excludedAttributes=` value: comma-separated
/// attribute paths, surrounding whitespace and empty entries ignored.
pub fn parse_attr_list(text: &str) -> Result<Vec<AttrPath>, PathError> {
    let mut out = Vec::new();
    let mut offset = 0;
    for item in text.split(',') {
        let trimmed = item.trim_start();
        let start = offset + (item.len() - trimmed.len());
        offset += item.len() + 1;
        let trimmed = trimmed.trim_end();
        if trimmed.is_empty() {
            continue;
        }
        if out.len() == MAX_ATTR_LIST_ITEMS {
            return Err(PathError::TooManyItems {
                max: MAX_ATTR_LIST_ITEMS,
            });
        }
        let base = char_pos(text, start);
        out.push(parse_at(trimmed, base)?);
    }
    Ok(out)
}

/// Parses one attribute path; error positions are shifted by `base` characters.
fn parse_at(text: &str, base: usize) -> Result<AttrPath, PathError> {
    check_len(text)?;
    let shift = |e: PathError| match e {
        PathError::Syntax { position, message } => PathError::Syntax {
            position: position + base,
            message,
        },
        other => other,
    };
    parse_inner(text).map_err(shift)
}

fn parse_inner(text: &str) -> Result<AttrPath, PathError> {
    let (uri, rest_start) = match text.rfind(':') {
        Some(colon) => {
            check_uri(text, &text[..colon])?;
            (Some(text[..colon].to_owned()), colon + 1)
        }
        None => (None, 0),
    };
    let rest = &text[rest_start..];
    let (name, sub) = match rest.find('.') {
        Some(dot) => (&rest[..dot], Some((rest_start + dot + 1, &rest[dot + 1..]))),
        None => (rest, None),
    };
    check_name(text, rest_start, name)?;
    let sub = match sub {
        Some((at, sub)) => {
            if let Some(dot) = sub.find('.') {
                let msg = "only one level of sub-attribute is allowed";
                return Err(syntax(text, at + dot, msg));
            }
            check_name(text, at, sub)?;
            Some(sub.to_owned())
        }
        None => None,
    };
    Ok(AttrPath {
        uri,
        name: name.to_owned(),
        sub,
    })
}

fn check_len(text: &str) -> Result<(), PathError> {
    if text.trim().is_empty() {
        return Err(PathError::Empty);
    }
    match text.chars().count() {
        len if len > MAX_PATH_LEN => Err(PathError::TooLong {
            len,
            max: MAX_PATH_LEN,
        }),
        _ => Ok(()),
    }
}

/// Checks a schema URI: `scheme ":" …` made of printable ASCII other than `"()[]`.
fn check_uri(text: &str, uri: &str) -> Result<(), PathError> {
    if !uri.starts_with(|c: char| c.is_ascii_alphabetic()) || !uri.contains(':') {
        let msg = format!("'{}' is not a schema URI", truncate(uri));
        return Err(syntax(text, 0, &msg));
    }
    let bad = uri
        .char_indices()
        .find(|&(_, c)| !c.is_ascii_graphic() || matches!(c, '"' | '(' | ')' | '[' | ']'));
    match bad {
        Some((at, c)) => Err(syntax(
            text,
            at,
            &format!("invalid character {c:?} in schema URI"),
        )),
        None => Ok(()),
    }
}

/// Checks `ALPHA *("-" / "_" / DIGIT / ALPHA)` or `$ref`; `at` is the byte offset of
/// `name` in `text`.
fn check_name(text: &str, at: usize, name: &str) -> Result<(), PathError> {
    if name.is_empty() {
        return Err(syntax(text, at, "expected an attribute name"));
    }
    if name.eq_ignore_ascii_case("$ref") {
        return Ok(());
    }
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        let name = truncate(name);
        let msg = format!("'{name}' is not a valid attribute name: it must start with a letter");
        return Err(syntax(text, at, &msg));
    }
    let bad = name
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    match bad {
        Some((i, c)) => {
            let msg = format!("invalid character {c:?} in attribute name");
            Err(syntax(text, at + i, &msg))
        }
        None => Ok(()),
    }
}

fn syntax(text: &str, byte: usize, message: &str) -> PathError {
    PathError::Syntax {
        position: char_pos(text, byte),
        message: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    /// Expands `{E}` / `{C}` to the enterprise / core User schema URNs.
    fn x(s: &str) -> String {
        s.replace("{E}", ENT).replace("{C}", CORE)
    }

    /// Splits a table row `input => expected`.
    fn row(r: &str) -> (String, String) {
        let (input, expected) = r.split_once(" => ").unwrap_or((r, ""));
        (x(input), x(expected))
    }

    /// `uri|name|sub`, `-` for absent parts.
    fn parts(p: &AttrPath) -> String {
        let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".to_owned());
        format!("{}|{}|{}", opt(&p.uri), p.name, opt(&p.sub))
    }

    #[test]
    fn parses_attribute_paths() {
        let rows = [
            "userName => -|userName|-",
            "name.givenName => -|name|givenName",
            "members.$ref => -|members|$ref",
            "x-custom_1 => -|x-custom_1|-",
            "{E}:employeeNumber => {E}|employeeNumber|-",
            "{E}:manager.value => {E}|manager|value",
            "{C}:name.familyName => {C}|name|familyName",
        ];
        for (input, expected) in rows.map(row) {
            let parsed = AttrPath::parse(&input).unwrap();
            assert_eq!(parts(&parsed), expected, "{input}");
            assert_eq!(parsed.to_string(), input, "display of {input}");
            assert_eq!(input.parse::<AttrPath>(), Ok(parsed));
        }
    }

    #[test]
    fn rejects_bad_attribute_paths() {
        let rows = [
            " => attribute path is empty",
            "  => attribute path is empty",
            "1abc => must start with a letter at position 0",
            "name.given Name => invalid character ' ' in attribute name at position 10",
            "a.b.c => only one level of sub-attribute is allowed at position 3",
            "name. => expected an attribute name at position 5",
            "a:b => 'a' is not a schema URI",
            "urn:x: => expected an attribute name at position 6",
            "urn:x\"y:z => invalid character '\"' in schema URI at position 5",
            "emails[type eq \"x\"] => invalid character '[' in attribute name",
        ];
        for (input, expected) in rows.map(row) {
            let err = AttrPath::parse(&input).unwrap_err().to_string();
            assert!(err.contains(&expected), "{input}: {err}");
        }
        let too_long = AttrPath::parse(&"a".repeat(MAX_PATH_LEN + 1));
        assert_eq!(
            too_long,
            Err(PathError::TooLong {
                len: 1025,
                max: 1024
            })
        );
        assert!(AttrPath::parse(&"a".repeat(MAX_PATH_LEN)).is_ok());
    }

    #[test]
    fn compares_names_case_insensitively() {
        let a = AttrPath::parse(&x("{E}:Manager.Value")).unwrap();
        assert!(a.matches_name("manager") && a.matches_sub(Some("VALUE")));
        assert!(!a.matches_sub(None) && AttrPath::new("a").matches_sub(None));
        let b = AttrPath::parse(&format!("{}:manager.value", ENT.to_uppercase())).unwrap();
        assert!(a.eq_ignore_ascii_case(&b));
        assert_ne!(a, b, "derived equality keeps the spelling");
        assert!(!a.eq_ignore_ascii_case(&AttrPath::new("manager").with_sub("value")));
        assert_eq!((a.name.as_str(), a.without_sub().sub), ("Manager", None));
        assert!(!a.is_core_schema());
        assert!(
            AttrPath::parse(&x("{C}:userName"))
                .unwrap()
                .is_core_schema()
        );
        let lower = AttrPath::new("userName").with_uri(CORE.to_lowercase());
        assert!(lower.is_core_schema() && AttrPath::new("userName").is_core_schema());
    }

    #[test]
    fn parses_patch_paths() {
        // input => attribute | value filter | sub-attribute after the filter | target sub
        let rows = [
            "userName => userName | - | - | -",
            "name.familyName => name.familyName | - | - | familyName",
            "{E}:manager.value => {E}:manager.value | - | - | value",
            "emails[type eq \"work\"].value => emails | type eq \"work\" | value | value",
            "members[value eq \"2819c223\"] => members | value eq \"2819c223\" | - | -",
            " addresses[Type EQ \"work\" and primary eq TRUE].streetAddress  => addresses \
             | Type eq \"work\" and primary eq true | streetAddress | streetAddress",
            "emails[value eq \"a]b\"] => emails | value eq \"a]b\" | - | -",
            "{E}:emails[type eq \"w\"].value => {E}:emails | type eq \"w\" | value | value",
        ];
        let opt = |o: Option<String>| o.unwrap_or_else(|| "-".to_owned());
        for (input, expected) in rows.map(row) {
            let pp = parse_patch_path(&input).unwrap_or_else(|e| panic!("{input}: {e}"));
            let got = [
                pp.attr.to_string(),
                opt(pp.filter.as_ref().map(|f| f.to_string())),
                opt(pp.sub_attr.clone()),
                opt(pp.target_sub().map(str::to_owned)),
            ];
            assert_eq!(got.join(" | "), expected, "{input}");
            let again = pp.to_string().parse::<PatchPath>();
            assert_eq!(again, Ok(pp), "round trip {input}");
        }
    }

    #[test]
    fn rejects_bad_patch_paths() {
        let rows = [
            " => attribute path is empty",
            "emails[type eq \"work\" => expected ']'",
            "emails[type eq \"work\"]value => expected '.subAttribute' or the end",
            "emails[type eq \"work\"]. => expected an attribute name at position 23",
            "emails[type eq \"work\"].a.b => invalid character '.'",
            "emails.value[type eq \"work\"] => not a sub-attribute",
            "emails[type eqq \"work\"] => unknown operator 'eqq'",
            "emails[] => expected an attribute name",
            "[type eq \"work\"] => attribute path is empty",
            "emails[a[b eq 1]] => value paths cannot be nested",
        ];
        for (input, expected) in rows.map(row) {
            let err = parse_patch_path(&input).unwrap_err().to_string();
            assert!(err.contains(&expected), "{input}: {err}");
        }
        let long = format!("emails[value eq \"{}\"]", "x".repeat(MAX_PATH_LEN));
        assert!(matches!(
            parse_patch_path(&long),
            Err(PathError::TooLong { .. })
        ));
        let err = parse_patch_path("emails[type eq 1").unwrap_err();
        assert!(matches!(err, PathError::Filter(_)), "{err:?}");
    }

    #[test]
    fn patch_path_selects_elements() {
        let pp = parse_patch_path("emails[type eq \"work\"].value").unwrap();
        let info = filter::DefaultAttrInfo;
        assert!(pp.selects(&serde_json::json!({"type": "Work", "value": "a"}), &info));
        assert!(!pp.selects(&serde_json::json!({"type": "home"}), &info));
        let plain = parse_patch_path("emails").unwrap();
        assert!(plain.selects(&serde_json::json!({}), &info));
    }

    #[test]
    fn parses_attribute_lists() {
        let rows = [
            " => ",
            " ,  => ",
            "userName => -|userName|-",
            "userName, name.givenName ,emails, => -|userName|- -|name|givenName -|emails|-",
            "{E}:manager.value,id => {E}|manager|value -|id|-",
        ];
        for (input, expected) in rows.map(row) {
            let got: Vec<String> = parse_attr_list(&input).unwrap().iter().map(parts).collect();
            assert_eq!(got.join(" "), expected, "{input}");
        }
        let message = "invalid character ' ' in attribute name".to_owned();
        let err = parse_attr_list("userName, na me").unwrap_err();
        assert_eq!(
            err,
            PathError::Syntax {
                position: 12,
                message
            }
        );
        let many = vec!["a"; MAX_ATTR_LIST_ITEMS + 1].join(",");
        let max = MAX_ATTR_LIST_ITEMS;
        assert_eq!(parse_attr_list(&many), Err(PathError::TooManyItems { max }));
    }
}
