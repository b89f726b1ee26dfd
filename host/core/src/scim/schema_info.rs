//! Filter evaluation backed by a resource's schemas: [`ResourceSchema`] as
//! an [`AttrInfo`], so `caseExact` and attribute types come from RFC 7643
//! attribute characteristics instead of guesses.
//!
//! Lookups go through [`ResourceSchema::find`] (case-insensitive, URN-aware).
//! A complex attribute named without a sub-attribute (`emails eq "x"`) is
//! compared on its `value` sub-attribute by the evaluator, so it reports that
//! sub-attribute's characteristics. Unknown attributes are not case-exact and
//! have no known type.

use super::filter::{AttrInfo, AttrKind};
use super::path::AttrPath;
use super::schema::{AttrType, AttributeDef, ResourceSchema};

impl AttrInfo for ResourceSchema {
    fn case_exact(&self, path: &AttrPath) -> bool {
        compared_attribute(self, path).is_some_and(|a| a.case_exact)
    }

    fn attr_type(&self, path: &AttrPath) -> Option<AttrKind> {
        compared_attribute(self, path).map(|a| kind(a.attr_type))
    }
}

/// The attribute whose values a comparison on `path` looks at.
fn compared_attribute<'s>(schema: &'s ResourceSchema, path: &AttrPath) -> Option<&'s AttributeDef> {
    let attr = schema.find(path.uri.as_deref(), &path.name, path.sub.as_deref())?;
    match (&path.sub, attr.attr_type) {
        (None, AttrType::Complex) => attr.sub_attribute("value").or(Some(attr)),
        _ => Some(attr),
    }
}

/// The filter module's view of a schema data type.
fn kind(attr_type: AttrType) -> AttrKind {
    match attr_type {
        AttrType::String => AttrKind::String,
        AttrType::Boolean => AttrKind::Boolean,
        AttrType::Decimal => AttrKind::Decimal,
        AttrType::Integer => AttrKind::Integer,
        AttrType::DateTime => AttrKind::DateTime,
        AttrType::Binary => AttrKind::Binary,
        AttrType::Reference => AttrKind::Reference,
        AttrType::Complex => AttrKind::Complex,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::scim::filter::parse_filter;
    use crate::scim::schema::ENTERPRISE_USER_SCHEMA;

    fn info(path: &str) -> (bool, Option<AttrKind>) {
        let schema = ResourceSchema::user(Vec::new());
        let path = AttrPath::parse(path).expect("valid path");
        (schema.case_exact(&path), schema.attr_type(&path))
    }

    #[test]
    fn reports_schema_characteristics() {
        let ent = format!("{ENTERPRISE_USER_SCHEMA}:manager.value");
        let rows: [(&str, bool, Option<AttrKind>); 9] = [
            ("userName", false, Some(AttrKind::String)),
            ("USERNAME", false, Some(AttrKind::String)),
            ("id", true, Some(AttrKind::String)),
            ("externalId", true, Some(AttrKind::String)),
            ("active", false, Some(AttrKind::Boolean)),
            ("meta.lastModified", false, Some(AttrKind::DateTime)),
            ("emails", false, Some(AttrKind::String)),
            (&ent, false, Some(AttrKind::String)),
            ("noSuchThing", false, None),
        ];
        for (path, exact, kind) in rows {
            assert_eq!(info(path), (exact, kind), "{path}");
        }
        assert_eq!(info("name"), (false, Some(AttrKind::Complex)));
        assert_eq!(info("x509Certificates"), (true, Some(AttrKind::Binary)));
    }

    #[test]
    fn drives_filter_case_sensitivity() {
        let schema = ResourceSchema::user(Vec::new());
        let user = json!({"userName": "Alice", "externalId": "AbC"});
        let hit = |f: &str| {
            parse_filter(f)
                .expect("valid filter")
                .matches(&user, &schema)
        };
        assert!(hit("userName eq \"alice\""), "userName is caseExact false");
        assert!(
            !hit("externalId eq \"abc\""),
            "externalId is caseExact true"
        );
        assert!(hit("externalId eq \"AbC\""));
    }
}
