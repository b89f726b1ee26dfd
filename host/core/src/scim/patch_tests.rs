//! Table tests of the PATCH engine as the HTTP layer drives it: dialect
//! normalization, parsing, member splitting and application, with request
//! shapes from RFC 7644 §3.5.2 and from Entra ID's and Okta's traffic.

use serde_json::{Value, json};

use super::dialect::Dialect;
use super::error::{ScimError, ScimType};
use super::patch::{MemberChange, PATCH_OP_SCHEMA, apply_patch, parse_patch, split_member_ops};
use super::resource::MemberRef;
use super::schema::{ENTERPRISE_USER_SCHEMA as ENT, GROUP_SCHEMA, ResourceSchema, USER_SCHEMA};

const ENTRA: Dialect = Dialect::EntraId {
    optscim062020: false,
};
const GENERIC: Dialect = Dialect::Generic;

fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA],
        "id": "u1",
        "userName": "alice@example.com",
        "name": {"givenName": "Alice", "familyName": "Smith"},
        "active": true,
        "emails": [
            {"value": "alice@example.com", "type": "work", "primary": true},
            {"value": "alice@home.org", "type": "home"},
        ],
    })
}

fn group() -> Value {
    json!({
        "schemas": [GROUP_SCHEMA],
        "id": "g1",
        "displayName": "Engineering",
        "members": [{"value": "u1", "display": "Alice"}, {"value": "u2"}],
    })
}

/// Normalizes, parses and applies `ops` (a JSON array) as `dialect` would.
fn patch(resource: &Value, dialect: Dialect, ops: Value) -> Result<(Value, bool), ScimError> {
    let schema = schema_for(resource);
    let body = dialect.normalize_patch(json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops}));
    let options = dialect.patch_options();
    let parsed = parse_patch(&body, &options)?;
    let mut doc = resource.clone();
    let changed = apply_patch(&mut doc, &parsed, &schema, &options)?;
    Ok((doc, changed))
}

fn schema_for(resource: &Value) -> ResourceSchema {
    if resource["schemas"][0] == GROUP_SCHEMA {
        ResourceSchema::group(Vec::new())
    } else {
        ResourceSchema::user(Vec::new())
    }
}

/// A JSON pointer into the result and what must be there (`None`: absent).
type Check = (&'static str, Option<Value>);

fn check(name: &str, doc: &Value, checks: &[Check]) {
    for (pointer, expected) in checks {
        let pointer = pointer.replace("{E}", &ENT.replace('/', "~1"));
        assert_eq!(
            doc.pointer(&pointer),
            expected.as_ref(),
            "{name}: {pointer} in {doc:#}"
        );
    }
}

fn run_rows(rows: Vec<(&str, Value, Dialect, Value, Vec<Check>)>) {
    for (name, start, dialect, ops, checks) in rows {
        let (doc, _) = patch(&start, dialect, ops).unwrap_or_else(|e| panic!("{name}: {e}"));
        check(name, &doc, &checks);
    }
}

#[test]
fn rfc_examples() {
    let rows = vec![
        (
            "add member",
            group(),
            GENERIC,
            json!([{"op": "add", "path": "members", "value": [{"display": "Babs", "$ref": "https://x/Users/u3", "value": "u3"}]}]),
            vec![
                ("/members/2/value", Some(json!("u3"))),
                ("/members/2/$ref", Some(json!("https://x/Users/u3"))),
            ],
        ),
        (
            "add emails",
            user(),
            GENERIC,
            json!([{"op": "add", "path": "emails", "value": [{"value": "babs@jensen.org", "type": "other"}]}]),
            vec![
                ("/emails/2/value", Some(json!("babs@jensen.org"))),
                ("/emails/0/primary", Some(json!(true))),
            ],
        ),
        (
            "replace work email value",
            user(),
            GENERIC,
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "alice@new.example.com"}]),
            vec![
                ("/emails/0/value", Some(json!("alice@new.example.com"))),
                ("/emails/1/value", Some(json!("alice@home.org"))),
            ],
        ),
        (
            "remove member by filter",
            group(),
            GENERIC,
            json!([{"op": "remove", "path": "members[value eq \"u2\"]"}]),
            vec![
                ("/members/0/value", Some(json!("u1"))),
                ("/members/1", None),
            ],
        ),
        (
            "remove emails by compound filter",
            user(),
            GENERIC,
            json!([{"op": "remove", "path": "emails[type eq \"work\" and value ew \"example.com\"]"}]),
            vec![
                ("/emails/0/value", Some(json!("alice@home.org"))),
                ("/emails/1", None),
            ],
        ),
        (
            "replace path-less object",
            user(),
            GENERIC,
            json!([{"op": "replace", "value": {"emails": [{"value": "b@x.org", "type": "home"}], "nickName": "Babs"}}]),
            vec![
                ("/emails/0/value", Some(json!("b@x.org"))),
                ("/emails/1", None),
                ("/nickName", Some(json!("Babs"))),
            ],
        ),
        (
            "remove all members",
            group(),
            GENERIC,
            json!([{"op": "remove", "path": "members"}]),
            vec![
                ("/members", None),
                ("/displayName", Some(json!("Engineering"))),
            ],
        ),
        (
            "replace complex merges sub-attributes",
            user(),
            GENERIC,
            json!([{"op": "replace", "value": {"name": {"givenName": "Ally"}}}]),
            vec![
                ("/name/givenName", Some(json!("Ally"))),
                ("/name/familyName", Some(json!("Smith"))),
            ],
        ),
        (
            "remove sub-attribute of matches",
            user(),
            GENERIC,
            json!([{"op": "remove", "path": "emails[type eq \"work\"].primary"}]),
            vec![
                ("/emails/0/primary", None),
                ("/emails/0/type", Some(json!("work"))),
            ],
        ),
        (
            "remove with no match changes nothing",
            user(),
            GENERIC,
            json!([{"op": "remove", "path": "emails[type eq \"other\"]"}, {"op": "remove", "path": "title"}]),
            vec![("/emails/1/value", Some(json!("alice@home.org")))],
        ),
        (
            "add is idempotent for present elements",
            user(),
            GENERIC,
            json!([{"op": "add", "path": "emails", "value": [{"value": "alice@home.org", "type": "home"}]}]),
            vec![("/emails/2", None)],
        ),
    ];
    run_rows(rows);
}

#[test]
fn names_and_keys_in_any_case() {
    let rows = vec![
        (
            "capitalized op and uppercase attribute",
            user(),
            GENERIC,
            json!([{"op": "Replace", "path": "USERNAME", "value": "bob@example.com"}]),
            vec![("/userName", Some(json!("bob@example.com")))],
        ),
        (
            "keys in any case",
            user(),
            GENERIC,
            json!([{"OP": "REPLACE", "PATH": "name.GivenName", "VALUE": "Al"}]),
            vec![
                ("/name/givenName", Some(json!("Al"))),
                ("/name/GivenName", None),
            ],
        ),
        (
            "path-less keys in any case",
            user(),
            GENERIC,
            json!([{"op": "add", "value": {"DisplayName": "Alice S", "NAME": {"FAMILYNAME": "Smythe"}}}]),
            vec![
                ("/displayName", Some(json!("Alice S"))),
                ("/name/familyName", Some(json!("Smythe"))),
            ],
        ),
    ];
    run_rows(rows);
}

#[test]
fn entra_shapes() {
    let department = format!("{ENT}:department");
    let manager = format!("{ENT}:manager");
    let no_emails = json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "a@b.com"});
    let rows = vec![
        (
            "deactivate with a string boolean",
            user(),
            ENTRA,
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
            vec![("/active", Some(json!(false)))],
        ),
        (
            "string boolean without dialect help",
            user(),
            GENERIC,
            json!([{"op": "replace", "value": {"active": "False"}}]),
            vec![("/active", Some(json!(false)))],
        ),
        (
            "path-less deactivate",
            user(),
            ENTRA,
            json!([{"op": "replace", "value": {"active": false}}]),
            vec![("/active", Some(json!(false)))],
        ),
        (
            "dotted and URN-qualified path-less keys",
            user(),
            ENTRA,
            json!([{"op": "Replace", "value": {
                "name.givenName": "X",
                department.clone(): "Y",
                "emails[type eq \"work\"].value": "x@example.com",
                "urn:ietf:params:scim:schemas:extension:CustomExt:2.0:User:costCode": "9",
            }}]),
            vec![
                ("/name/givenName", Some(json!("X"))),
                ("/name/familyName", Some(json!("Smith"))),
                ("/{E}/department", Some(json!("Y"))),
                ("/schemas/1", Some(json!(ENT))),
                ("/emails/0/value", Some(json!("x@example.com"))),
            ],
        ),
        (
            "filtered add creates the element",
            no_emails.clone(),
            ENTRA,
            json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@b.com"}]),
            vec![(
                "/emails",
                Some(json!([{"type": "work", "value": "a@b.com"}])),
            )],
        ),
        (
            "filtered replace creates the element",
            no_emails.clone(),
            ENTRA,
            json!([{"op": "Replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"}]),
            vec![(
                "/addresses",
                Some(json!([{"type": "work", "streetAddress": "1 Main St"}])),
            )],
        ),
        (
            "manager as a bare id",
            user(),
            ENTRA,
            json!([{"op": "Add", "value": {manager.clone(): "mgr-id"}}]),
            vec![
                ("/{E}/manager", Some(json!({"value": "mgr-id"}))),
                ("/schemas/1", Some(json!(ENT))),
            ],
        ),
        (
            "manager by path, wrapped in a list",
            user(),
            ENTRA,
            json!([{"op": "Replace", "path": manager.clone(), "value": [{"value": "m2", "displayName": "ignored"}]}]),
            vec![("/{E}/manager", Some(json!({"value": "m2"})))],
        ),
        (
            "removing the last extension attribute drops the extension",
            json!({"schemas": [USER_SCHEMA, ENT], "userName": "a", ENT: {"department": "D"}}),
            ENTRA,
            json!([{"op": "Remove", "path": department.clone()}]),
            vec![("/{E}", None), ("/schemas", Some(json!([USER_SCHEMA])))],
        ),
        (
            "extension object by URN path",
            user(),
            GENERIC,
            json!([{"op": "add", "path": ENT, "value": {"employeeNumber": "42", "Division": "R&D"}}]),
            vec![
                ("/{E}/employeeNumber", Some(json!("42"))),
                ("/{E}/division", Some(json!("R&D"))),
            ],
        ),
    ];
    run_rows(rows);
}

#[test]
fn okta_shapes() {
    let okta = Dialect::Okta;
    let rows = vec![
        (
            "path-less deactivate",
            user(),
            okta,
            json!([{"op": "replace", "value": {"active": false}}]),
            vec![("/active", Some(json!(false)))],
        ),
        (
            "group rename ignores id",
            group(),
            okta,
            json!([{"op": "replace", "value": {"id": "other", "displayName": "Platform"}}]),
            vec![
                ("/id", Some(json!("g1"))),
                ("/displayName", Some(json!("Platform"))),
            ],
        ),
        (
            "profile update with read-only groups ignored",
            user(),
            okta,
            json!([{"op": "replace", "value": {"groups": [{"value": "g9"}], "title": "CTO", "meta": {"version": "x"}}}]),
            vec![
                ("/groups", None),
                ("/title", Some(json!("CTO"))),
                ("/meta", None),
            ],
        ),
    ];
    run_rows(rows);
}

fn member(value: &str, display: Option<&str>) -> MemberRef {
    MemberRef {
        value: value.to_owned(),
        r#type: None,
        display: display.map(str::to_owned),
    }
}

#[test]
fn member_changes_from_provider_requests() {
    let schema = ResourceSchema::group(Vec::new());
    let rows: Vec<(Dialect, Value, Vec<MemberChange>)> = vec![
        (
            ENTRA,
            json!([{"op": "Remove", "path": "members", "value": [{"value": "id1"}]}]),
            vec![MemberChange::Remove(vec!["id1".to_owned()])],
        ),
        (
            ENTRA,
            json!([{"op": "Add", "path": "members", "value": [{"value": "id1"}, {"value": "id2"}]}]),
            vec![MemberChange::Add(vec![
                member("id1", None),
                member("id2", None),
            ])],
        ),
        (
            Dialect::Okta,
            json!([
                {"op": "add", "path": "members", "value": [{"value": "a", "display": "A"}]},
                {"op": "remove", "path": "members[value eq \"b\"]"},
            ]),
            vec![
                MemberChange::Add(vec![member("a", Some("A"))]),
                MemberChange::Remove(vec!["b".to_owned()]),
            ],
        ),
    ];
    for (dialect, ops, expected) in rows {
        let body =
            dialect.normalize_patch(json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops}));
        let parsed = parse_patch(&body, &dialect.patch_options()).expect("valid");
        let (rest, changes) = split_member_ops(parsed, &schema).expect("valid");
        assert!(rest.is_empty());
        assert_eq!(changes, expected);
    }
}

#[test]
fn errors() {
    use ScimType::*;
    let no_emails = json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "a@b.com"});
    let rows: Vec<(&str, Value, Dialect, Value, ScimType)> = vec![
        (
            "add without value",
            user(),
            GENERIC,
            json!([{"op": "add", "path": "title"}]),
            InvalidSyntax,
        ),
        (
            "unknown op",
            user(),
            GENERIC,
            json!([{"op": "merge", "path": "title", "value": "x"}]),
            InvalidSyntax,
        ),
        (
            "bad filter",
            user(),
            GENERIC,
            json!([{"op": "remove", "path": "emails[type eq]"}]),
            InvalidFilter,
        ),
        (
            "bad path",
            user(),
            GENERIC,
            json!([{"op": "remove", "path": "emails..value"}]),
            InvalidPath,
        ),
        (
            "unknown attribute",
            user(),
            GENERIC,
            json!([{"op": "replace", "path": "shoeSize", "value": 9}]),
            InvalidPath,
        ),
        (
            "unknown path-less attribute",
            user(),
            GENERIC,
            json!([{"op": "replace", "value": {"shoeSize": 9}}]),
            InvalidPath,
        ),
        (
            "unknown attribute, even for Entra",
            user(),
            ENTRA,
            json!([{"op": "replace", "path": "shoeSize", "value": 9}]),
            InvalidPath,
        ),
        (
            "replace id",
            user(),
            GENERIC,
            json!([{"op": "replace", "path": "id", "value": "u2"}]),
            Mutability,
        ),
        (
            "replace manager display name",
            user(),
            GENERIC,
            json!([{"op": "replace", "path": format!("{ENT}:manager.displayName"), "value": "x"}]),
            Mutability,
        ),
        (
            "remove userName",
            user(),
            GENERIC,
            json!([{"op": "remove", "path": "userName"}]),
            Mutability,
        ),
        (
            "null userName",
            user(),
            GENERIC,
            json!([{"op": "replace", "value": {"userName": null}}]),
            Mutability,
        ),
        (
            "remove group displayName",
            group(),
            GENERIC,
            json!([{"op": "Remove", "path": "displayName"}]),
            Mutability,
        ),
        (
            "edit a member in place",
            group(),
            GENERIC,
            json!([{"op": "replace", "path": "members[value eq \"u1\"].display", "value": "Bob"}]),
            Mutability,
        ),
        (
            "remove without path",
            user(),
            GENERIC,
            json!([{"op": "remove"}]),
            NoTarget,
        ),
        (
            "filtered replace without match",
            no_emails.clone(),
            GENERIC,
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "a@b.com"}]),
            NoTarget,
        ),
        (
            "unbuildable filter, even for Entra",
            no_emails,
            ENTRA,
            json!([{"op": "replace", "path": "emails[type ne \"work\"].value", "value": "a@b.com"}]),
            NoTarget,
        ),
        (
            "invalid boolean",
            user(),
            GENERIC,
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            InvalidValue,
        ),
        (
            "two new primaries",
            user(),
            GENERIC,
            json!([{"op": "add", "path": "emails", "value": [{"value": "x", "primary": true}, {"value": "y", "primary": true}]}]),
            InvalidValue,
        ),
        (
            "path-less value not an object",
            user(),
            GENERIC,
            json!([{"op": "add", "value": "x"}]),
            InvalidSyntax,
        ),
        (
            "filter on a single-valued attribute",
            user(),
            GENERIC,
            json!([{"op": "remove", "path": "name[givenName eq \"A\"]"}]),
            InvalidPath,
        ),
        (
            "ordering a boolean in a value filter",
            user(),
            GENERIC,
            json!([{"op": "remove", "path": "emails[primary gt 1]"}]),
            InvalidFilter,
        ),
    ];
    for (name, start, dialect, ops, expected) in rows {
        let err = patch(&start, dialect, ops).expect_err(name);
        assert_eq!(
            (err.status, err.scim_type),
            (400, Some(expected)),
            "{name}: {err}"
        );
    }
    let many = Value::Array(vec![json!({"op": "remove", "path": "title"}); 1001]);
    let err = patch(&user(), GENERIC, many).expect_err("too many");
    assert_eq!(err.scim_type, Some(TooMany));
}

#[test]
fn atomic_and_reports_changes() {
    let start = user();
    let schema = ResourceSchema::user(Vec::new());
    let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "replace", "path": "id", "value": "u2"},
    ]});
    let options = GENERIC.patch_options();
    let ops = parse_patch(&body, &options).expect("parses");
    let mut doc = start.clone();
    let err = apply_patch(&mut doc, &ops, &schema, &options).expect_err("second op fails");
    assert_eq!(err.scim_type, Some(ScimType::Mutability));
    assert!(err.detail.starts_with("Operations[1]:"), "{}", err.detail);
    assert_eq!(doc, start, "resource untouched");

    let same = json!([{"op": "replace", "path": "active", "value": true}, {"op": "add", "path": "name.givenName", "value": "Alice"}]);
    assert_eq!(patch(&start, GENERIC, same).map(|(_, c)| c), Ok(false));
    let different = json!([{"op": "replace", "path": "active", "value": false}]);
    assert_eq!(patch(&start, GENERIC, different).map(|(_, c)| c), Ok(true));
}

#[test]
fn lenient_readings() {
    let no_emails = json!({"schemas": [USER_SCHEMA], "id": "u1", "userName": "a@b.com"});
    let with_ent = json!({"schemas": [USER_SCHEMA, ENT], "userName": "a", ENT: {"division": "D"}});
    let rows = vec![
        (
            "filtered add creates the element for any client",
            no_emails,
            GENERIC,
            json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "a@b.com"}]),
            vec![(
                "/emails",
                Some(json!([{"type": "work", "value": "a@b.com"}])),
            )],
        ),
        (
            "sub-attribute without filter addresses every element",
            user(),
            GENERIC,
            json!([{"op": "replace", "path": "emails.type", "value": "other"}]),
            vec![
                ("/emails/0/type", Some(json!("other"))),
                ("/emails/1/type", Some(json!("other"))),
            ],
        ),
        (
            "replace with null unassigns",
            user(),
            GENERIC,
            json!([{"op": "replace", "path": "name", "value": null}, {"op": "add", "path": "title", "value": null}]),
            vec![("/name", None), ("/title", None)],
        ),
        (
            "remove listed emails by value",
            user(),
            GENERIC,
            json!([{"op": "remove", "path": "emails", "value": [{"value": "alice@home.org"}]}]),
            vec![("/emails/0/type", Some(json!("work"))), ("/emails/1", None)],
        ),
        (
            "a null extension object clears the extension",
            with_ent,
            GENERIC,
            json!([{"op": "replace", "value": {ENT: null}}]),
            vec![("/{E}", None), ("/schemas", Some(json!([USER_SCHEMA])))],
        ),
        (
            "unknown path-less attributes are dropped for providers",
            user(),
            ENTRA,
            json!([{"op": "add", "value": {"shoeSize": 9, "urn:acme:x:1.0:User:tier": "gold", "title": "VP"}}]),
            vec![
                ("/shoeSize", None),
                ("/urn:acme:x:1.0:User", None),
                ("/title", Some(json!("VP"))),
            ],
        ),
    ];
    run_rows(rows);
}

#[test]
fn one_primary_per_attribute() {
    let rows = vec![
        (
            "a new primary element clears the old one",
            user(),
            GENERIC,
            json!([{"op": "add", "path": "emails", "value": [{"value": "new@x.org", "type": "other", "primary": true}]}]),
            vec![
                ("/emails/0/primary", Some(json!(false))),
                ("/emails/2/primary", Some(json!(true))),
            ],
        ),
        (
            "setting primary through a filter clears the others",
            user(),
            GENERIC,
            json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}]),
            vec![
                ("/emails/0/primary", Some(json!(false))),
                ("/emails/1/primary", Some(json!(true))),
            ],
        ),
    ];
    run_rows(rows);
}

#[test]
fn immutable_values_can_be_set_once() {
    let mut custom = super::schema::Schema::from_custom_json(&json!({
        "id": "urn:acme:scim:1.0:User",
        "attributes": [{"name": "badge", "mutability": "immutable"}],
    }))
    .expect("valid schema");
    custom.name = "Acme".to_owned();
    let schema = ResourceSchema::user(vec![custom]);
    let options = GENERIC.patch_options();
    let op = |value: &str| {
        let body = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "add", "path": "urn:acme:scim:1.0:User:badge", "value": value}]});
        parse_patch(&body, &options).expect("parses")
    };
    let mut doc = user();
    assert_eq!(
        apply_patch(&mut doc, &op("B1"), &schema, &options),
        Ok(true)
    );
    assert_eq!(doc["urn:acme:scim:1.0:User"]["badge"], "B1");
    assert_eq!(
        doc["schemas"],
        json!([USER_SCHEMA, "urn:acme:scim:1.0:User"])
    );
    assert_eq!(
        apply_patch(&mut doc, &op("B1"), &schema, &options),
        Ok(false)
    );
    let err = apply_patch(&mut doc, &op("B2"), &schema, &options).expect_err("immutable");
    assert_eq!(err.scim_type, Some(ScimType::Mutability));
}
