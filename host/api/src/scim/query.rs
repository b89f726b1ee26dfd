//! List parameters (`filter`, `startIndex`, `count`, `sortBy`, `sortOrder`,
//! `attributes`, `excludedAttributes`) from a query string or a SearchRequest
//! body, and the translation of a filter into an indexed pushdown plus the
//! predicate that checks every candidate.

use rollcall_core::scim::error::ScimError;
use rollcall_core::scim::filter::{CompareOp, Filter, parse_filter};
use rollcall_core::scim::path::AttrPath;
use rollcall_core::scim::render::Projection;
use rollcall_core::scim::resource::ResourceKind;
use rollcall_core::scim::schema::ResourceSchema;
use rollcall_store::{Pushdown, ScimQuery, SortKey};
use serde_json::Value;

/// Largest page served (advertised as `filter.maxResults`).
pub const MAX_RESULTS: u64 = 1000;
/// Page size when the client does not say.
pub const DEFAULT_COUNT: u64 = 100;

/// Parsed list parameters.
pub struct ListParams {
    pub filter: Option<Filter>,
    /// The `sortBy` attribute when it has no index ([`SortKey::Computed`]).
    pub sort_path: Option<AttrPath>,
    pub start_index: u64,
    pub count: u64,
    pub sort: Option<SortKey>,
    pub descending: bool,
    pub projection: Projection,
}

fn int_param(name: &str, raw: &str) -> Result<i64, ScimError> {
    raw.trim().parse::<i64>().map_err(|_| {
        ScimError::invalid_value(format!(
            "{name} must be an integer, got '{}'",
            raw.chars().take(32).collect::<String>()
        ))
    })
}

fn sort_key(kind: ResourceKind, raw: &str) -> Result<(SortKey, AttrPath), ScimError> {
    let path =
        AttrPath::parse(raw).map_err(|e| ScimError::invalid_value(format!("sortBy: {e}")))?;
    let name = path.name.to_ascii_lowercase();
    let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
    let key = match (kind, name.as_str(), sub.as_deref()) {
        (_, "id", None) => SortKey::Id,
        (ResourceKind::User, "username", None) => SortKey::Username,
        (ResourceKind::Group, "displayname", None) => SortKey::GroupName,
        (_, "externalid", None) => SortKey::ExternalId,
        (_, "meta", Some("created")) => SortKey::Created,
        (_, "meta", Some("lastmodified")) => SortKey::LastModified,
        _ => SortKey::Computed,
    };
    Ok((key, path))
}

impl ListParams {
    /// From `(name, value)` pairs (query string) — names case-insensitive.
    pub fn from_pairs(
        kind: Option<ResourceKind>,
        pairs: &[(String, String)],
    ) -> Result<Self, ScimError> {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        Self::build(
            kind,
            get("filter"),
            get("startIndex"),
            get("count"),
            get("sortBy"),
            get("sortOrder"),
            get("attributes"),
            get("excludedAttributes"),
        )
    }

    /// From a SearchRequest body (`POST …/.search`).
    pub fn from_search(kind: Option<ResourceKind>, body: &Value) -> Result<Self, ScimError> {
        let text = |name: &str| -> Result<Option<String>, ScimError> {
            match body
                .as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .map(|(_, v)| v)
            {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(Value::Array(items)) => Ok(Some(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(","),
                )),
                Some(_) => Err(ScimError::invalid_syntax(format!(
                    "{name} has the wrong type"
                ))),
            }
        };
        let (f, s, c, sb, so, a, e) = (
            text("filter")?,
            text("startIndex")?,
            text("count")?,
            text("sortBy")?,
            text("sortOrder")?,
            text("attributes")?,
            text("excludedAttributes")?,
        );
        Self::build(
            kind,
            f.as_deref(),
            s.as_deref(),
            c.as_deref(),
            sb.as_deref(),
            so.as_deref(),
            a.as_deref(),
            e.as_deref(),
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        kind: Option<ResourceKind>,
        filter: Option<&str>,
        start: Option<&str>,
        count: Option<&str>,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Self, ScimError> {
        let filter = match filter.map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => Some(parse_filter(f).map_err(|e| ScimError::invalid_filter(e.to_string()))?),
            None => None,
        };
        // RFC 7644 §3.4.2.4: startIndex < 1 means 1; a negative count means 0.
        let start_index = match start {
            Some(s) => int_param("startIndex", s)?.max(1) as u64,
            None => 1,
        };
        let count = match count {
            Some(c) => (int_param("count", c)?.max(0) as u64).min(MAX_RESULTS),
            None => DEFAULT_COUNT,
        };
        let (sort, sort_path) = match (kind, sort_by.map(str::trim).filter(|s| !s.is_empty())) {
            (Some(k), Some(s)) => {
                let (key, path) = sort_key(k, s)?;
                (Some(key), (key == SortKey::Computed).then_some(path))
            }
            _ => (None, None),
        };
        let descending = match sort_order.map(|s| s.trim().to_ascii_lowercase()) {
            None => false,
            Some(o) if o == "ascending" || o.is_empty() => false,
            Some(o) if o == "descending" => true,
            Some(o) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be ascending or descending, not '{o}'"
                )));
            }
        };
        let projection = Projection::parse(attributes, excluded)?;
        Ok(ListParams {
            filter,
            sort_path,
            start_index,
            count,
            sort,
            descending,
            projection,
        })
    }

    /// The store query for `kind`, with the best index for the filter, and
    /// the filter to evaluate on candidates (membership equalities that the
    /// index already guarantees are replaced by a condition that always holds).
    pub fn plan(
        &self,
        kind: ResourceKind,
        schema: &ResourceSchema,
    ) -> Result<(ScimQuery, Option<Filter>), ScimError> {
        if let Some(f) = &self.filter {
            f.validate(schema)
                .map_err(|e| ScimError::invalid_filter(e.to_string()))?;
        }
        let pushdown = self.filter.as_ref().and_then(|f| best_pushdown(kind, f));
        let residual = self.filter.clone().map(|f| match &pushdown {
            Some(Pushdown::GroupId(v)) | Some(Pushdown::MemberUserId(v)) => assume_membership(f, v),
            _ => f,
        });
        Ok((
            ScimQuery {
                start_index: self.start_index,
                count: self.count,
                sort: self.sort,
                descending: self.descending,
                pushdown,
                filtered: residual.is_some(),
                with_groups: kind == ResourceKind::User
                    && self.projection.wants(&AttrPath::new("groups")),
            },
            residual,
        ))
    }
}

fn is_membership(path: &AttrPath) -> bool {
    (path.matches_name("members") || path.matches_name("groups"))
        && path
            .sub
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case("value"))
}

/// The most selective indexed equality the whole filter requires.
fn best_pushdown(kind: ResourceKind, filter: &Filter) -> Option<Pushdown> {
    let mut best: Option<(u8, Pushdown)> = None;
    for (path, value) in filter.required_equalities() {
        let name = path.name.to_ascii_lowercase();
        let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
        let candidate = match (kind, name.as_str(), sub.as_deref()) {
            (_, "id", None) => Some((0, Pushdown::Id(value))),
            (_, "externalid", None) => Some((1, Pushdown::ExternalId(value))),
            (ResourceKind::User, "username", None) => {
                Some((2, Pushdown::UsernameKey(value.to_lowercase())))
            }
            (ResourceKind::Group, "displayname", None) => {
                Some((2, Pushdown::GroupNameKey(value.to_lowercase())))
            }
            (ResourceKind::User, "emails", None | Some("value")) => {
                Some((3, Pushdown::EmailKey(value.to_lowercase())))
            }
            (ResourceKind::User, "groups", None | Some("value")) => {
                Some((4, Pushdown::GroupId(value)))
            }
            (ResourceKind::Group, "members", None | Some("value")) => {
                Some((4, Pushdown::MemberUserId(value)))
            }
            _ => None,
        };
        // Only core-schema (or unqualified) attributes map to the indexes.
        if path
            .uri
            .as_deref()
            .is_some_and(|u| !rollcall_core::scim::path::is_core_schema_uri(u))
        {
            continue;
        }
        if let Some((rank, p)) = candidate
            && best.as_ref().is_none_or(|(r, _)| rank < *r)
        {
            best = Some((rank, p));
        }
    }
    best.map(|(_, p)| p)
}

/// Replaces `members.value eq v` / `groups.value eq v` (already guaranteed
/// by the membership index) with `id pr`, which every stored resource meets.
fn assume_membership(filter: Filter, member: &str) -> Filter {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if is_membership(&path) && value.as_str() == Some(member) => {
            Filter::Present(AttrPath::new("id"))
        }
        Filter::ValuePath {
            attr,
            filter: inner,
        } if attr.matches_name("members") || attr.matches_name("groups") => match *inner {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.matches_name("value") && value.as_str() == Some(member) => {
                Filter::Present(AttrPath::new("id"))
            }
            other => Filter::ValuePath {
                attr,
                filter: Box::new(other),
            },
        },
        Filter::And(a, b) => Filter::And(
            Box::new(assume_membership(*a, member)),
            Box::new(assume_membership(*b, member)),
        ),
        other => other,
    }
}

/// The sort key of a resource for an attribute without an index: the value
/// at `path` (a multi-valued attribute sorts by its primary value, else its
/// first), lower-cased unless `caseExact`; resources without a value sort
/// after those with one (RFC 7644 §3.4.2.3).
pub fn computed_sort_key(view: &Value, path: &AttrPath, schema: &ResourceSchema) -> String {
    use rollcall_core::scim::filter::AttrInfo;
    let field = |v: &Value, name: &str| -> Option<Value> {
        v.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let container = match &path.uri {
        Some(uri) if !rollcall_core::scim::path::is_core_schema_uri(uri) => field(view, uri),
        _ => Some(view.clone()),
    };
    let pick = |v: Value| match v {
        Value::Array(items) => items
            .iter()
            .find(|i| i.get("primary").is_some_and(|p| p == &Value::Bool(true)))
            .or(items.first())
            .cloned(),
        other => Some(other),
    };
    let value = container
        .and_then(|c| field(&c, &path.name))
        .and_then(pick)
        .and_then(|v| match &path.sub {
            Some(sub) => field(&v, sub),
            None if v.is_object() => field(&v, "value"),
            None => Some(v),
        });
    match value {
        None | Some(Value::Null) => "2".to_owned(),
        Some(Value::String(s)) if schema.case_exact(path) => format!("1{s}"),
        Some(Value::String(s)) => format!("1{}", s.to_lowercase()),
        // Non-negative numbers in a width that keeps numeric order.
        Some(Value::Number(n)) => format!("1{:030.6}", n.as_f64().unwrap_or(0.0) + 1e15),
        Some(other) => format!("1{other}"),
    }
}
