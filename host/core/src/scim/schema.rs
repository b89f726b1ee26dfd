//! SCIM schemas (RFC 7643 §2, §4, §7): attribute definitions and characteristics.
//!
//! This module holds the data model of a SCIM schema ([`Schema`],
//! [`AttributeDef`] and the characteristic enums), the standard schemas (core
//! User and Group, the enterprise User extension) and the common attributes
//! `id`, `externalId`, `meta`; per-directory custom extension schemas
//! ([`Schema::from_custom_json`]); the resolved per-resource view the rest of
//! the SCIM engine queries ([`ResourceSchema`]); the discovery documents
//! (`/Schemas`, `/ResourceTypes`, `/ServiceProviderConfig`); and lenient value
//! validation for what real identity providers send ([`validate_value`],
//! [`validate_multi`]).
//!
//! Everything is pure: values in, values out.

use std::sync::LazyLock;

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// URN of the core User schema (RFC 7643 §4.1).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// URN of the core Group schema (RFC 7643 §4.2).
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// URN of the enterprise User extension (RFC 7643 §4.3).
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// URN carried by schema representations (RFC 7643 §7).
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// URN carried by resource type representations (RFC 7643 §6).
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// URN carried by the service provider configuration (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// Longest accepted custom schema URN.
pub const MAX_URN_LEN: usize = 256;
/// Most attribute definitions (sub-attributes included) in one custom schema.
pub const MAX_CUSTOM_ATTRIBUTES: usize = 200;
/// Longest accepted attribute name.
pub const MAX_ATTRIBUTE_NAME_LEN: usize = 128;
/// Most canonical values on one attribute.
pub const MAX_CANONICAL_VALUES: usize = 100;
/// Longest accepted schema name, canonical value or reference type.
const MAX_SHORT_TEXT_LEN: usize = 256;
/// Longest accepted description.
const MAX_DESCRIPTION_LEN: usize = 4096;
/// Namespaces no custom schema may use: core schemas and protocol messages.
const RESERVED_URN_PREFIXES: [&str; 2] = [
    "urn:ietf:params:scim:schemas:core:",
    "urn:ietf:params:scim:api:",
];

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    #[default]
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

/// Whether and when an attribute may be written (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    #[default]
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// When an attribute is returned in a response (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    #[default]
    Default,
    Request,
}

/// How unique an attribute's value must be (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    #[default]
    None,
    Server,
    Global,
}

/// One attribute definition with its characteristics, in the RFC 7643 §7
/// JSON shape. Missing characteristics deserialize to the §2.2 defaults;
/// empty `canonicalValues`, `referenceTypes` and `subAttributes` are omitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeDef {
    pub name: String,
    #[serde(rename = "type", default)]
    pub attr_type: AttrType,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default)]
    pub mutability: Mutability,
    #[serde(default)]
    pub returned: Returned,
    #[serde(default)]
    pub uniqueness: Uniqueness,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reference_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_attributes: Vec<AttributeDef>,
}

impl AttributeDef {
    /// A single-valued attribute with the RFC 7643 §2.2 default
    /// characteristics; references and binaries are case-exact (§2.3.6-7).
    pub fn new(name: &str, attr_type: AttrType, description: &str) -> Self {
        AttributeDef {
            name: name.to_owned(),
            attr_type,
            multi_valued: false,
            description: description.to_owned(),
            required: false,
            case_exact: matches!(attr_type, AttrType::Reference | AttrType::Binary),
            mutability: Mutability::default(),
            returned: Returned::default(),
            uniqueness: Uniqueness::default(),
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }

    /// Marks the attribute required.
    #[must_use]
    pub fn required(self) -> Self {
        AttributeDef {
            required: true,
            ..self
        }
    }

    /// Marks the attribute case-exact.
    #[must_use]
    pub fn case_exact(self) -> Self {
        AttributeDef {
            case_exact: true,
            ..self
        }
    }

    /// Marks the attribute multi-valued.
    #[must_use]
    pub fn multi(self) -> Self {
        AttributeDef {
            multi_valued: true,
            ..self
        }
    }

    /// Sets the mutability.
    #[must_use]
    pub fn mutability(self, mutability: Mutability) -> Self {
        AttributeDef { mutability, ..self }
    }

    /// Sets when the attribute is returned.
    #[must_use]
    pub fn returned(self, returned: Returned) -> Self {
        AttributeDef { returned, ..self }
    }

    /// Sets the uniqueness.
    #[must_use]
    pub fn uniqueness(self, uniqueness: Uniqueness) -> Self {
        AttributeDef { uniqueness, ..self }
    }

    /// Sets the canonical values.
    #[must_use]
    pub fn canonical(self, values: &[&str]) -> Self {
        let canonical_values = values.iter().map(|v| (*v).to_owned()).collect();
        AttributeDef {
            canonical_values,
            ..self
        }
    }

    /// Sets the resource types a `reference` attribute may point to.
    #[must_use]
    pub fn reference_types(self, types: &[&str]) -> Self {
        let reference_types = types.iter().map(|v| (*v).to_owned()).collect();
        AttributeDef {
            reference_types,
            ..self
        }
    }

    /// Sets the sub-attributes of a `complex` attribute.
    #[must_use]
    pub fn sub_attributes(self, sub_attributes: Vec<AttributeDef>) -> Self {
        AttributeDef {
            sub_attributes,
            ..self
        }
    }

    /// Sets the mutability of this attribute and of all its sub-attributes.
    #[must_use]
    pub fn mutability_deep(self, mutability: Mutability) -> Self {
        let subs = self.sub_attributes.iter().cloned();
        let sub_attributes = subs.map(|s| s.mutability_deep(mutability)).collect();
        AttributeDef {
            mutability,
            sub_attributes,
            ..self
        }
    }

    /// The sub-attribute called `name`, case-insensitively.
    pub fn sub_attribute(&self, name: &str) -> Option<&AttributeDef> {
        find_named(&self.sub_attributes, name)
    }
}

fn find_named<'a>(attrs: &'a [AttributeDef], name: &str) -> Option<&'a AttributeDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// A schema: URN, name, description and top-level attributes (RFC 7643 §7).
/// The common attributes (`id`, `externalId`, `meta`) are never listed here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub attributes: Vec<AttributeDef>,
}

impl Schema {
    /// The top-level attribute called `name`, case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        find_named(&self.attributes, name)
    }

    /// The RFC 7643 §7 representation served under `/Schemas/<id>`;
    /// `base_url` is the SCIM root (a trailing slash is tolerated).
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes,
            "meta": meta("Schema", base_url, &format!("Schemas/{}", self.id)),
        })
    }

    /// Parses and validates a custom extension schema as configured through
    /// the API, in the §7 shape (`schemas` and `meta` keys are ignored).
    pub fn from_custom_json(value: &Value) -> Result<Schema, SchemaError> {
        let obj = value.as_object().ok_or(SchemaError::NotAnObject)?;
        let id = obj.get("id").and_then(Value::as_str);
        let id = id.ok_or_else(|| field_error("id", "must be a string".into()))?;
        validate_urn(id)?;
        let name = optional_text(obj, "name", MAX_SHORT_TEXT_LEN)?;
        let description = optional_text(obj, "description", MAX_DESCRIPTION_LEN)?;
        let items = obj.get("attributes").and_then(Value::as_array);
        let items = items.ok_or_else(|| field_error("attributes", "must be an array".into()))?;
        let attributes = parse_attributes(items, None, &mut 0)?;
        Ok(Schema {
            id: id.to_owned(),
            name,
            description,
            attributes,
        })
    }
}

// ---------------------------------------------------------------------------
// Custom schema validation
// ---------------------------------------------------------------------------

/// Why a custom schema was rejected; messages name the offending attribute
/// (sub-attributes as `parent.sub`, unnamed ones by position as `#3`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    #[error("schema must be a JSON object")]
    NotAnObject,
    #[error("schema \"{field}\" {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("schema id {id:?} {reason}")]
    InvalidId { id: String, reason: &'static str },
    #[error("schema id {0:?} is reserved for a standard SCIM schema")]
    ReservedId(String),
    #[error("a schema may declare at most {max} attributes (sub-attributes included)")]
    TooManyAttributes { max: usize },
    #[error("attribute {attribute:?}: {reason}")]
    InvalidAttribute { attribute: String, reason: String },
}

fn field_error(field: &'static str, reason: String) -> SchemaError {
    SchemaError::InvalidField { field, reason }
}

fn attr_error(attribute: &str, reason: impl Into<String>) -> SchemaError {
    SchemaError::InvalidAttribute {
        attribute: excerpt(attribute),
        reason: reason.into(),
    }
}

/// Caps user-supplied text echoed in error messages at 64 characters.
fn excerpt(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn optional_text(
    obj: &Map<String, Value>,
    field: &'static str,
    max: usize,
) -> Result<String, SchemaError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) if s.chars().count() <= max => Ok(s.clone()),
        Some(Value::String(_)) => Err(field_error(field, format!("is longer than {max} chars"))),
        Some(_) => Err(field_error(field, "must be a string".into())),
    }
}

/// A URN of the form `urn:<nid>:<nss…>`, at most [`MAX_URN_LEN`] long, made
/// of URN characters only (no spaces, quotes or brackets that would confuse
/// attribute paths and filters), outside the reserved standard namespaces.
fn validate_urn(id: &str) -> Result<(), SchemaError> {
    let invalid = |reason| SchemaError::InvalidId {
        id: excerpt(id),
        reason,
    };
    if id.len() > MAX_URN_LEN {
        return Err(invalid("is longer than 256 characters"));
    }
    if !id.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        return Err(invalid("must be a URN starting with \"urn:\""));
    }
    if id.split(':').count() < 3 || id.split(':').any(str::is_empty) {
        return Err(invalid(
            "must have the form urn:<namespace>:<name>, no empty segment",
        ));
    }
    if !id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._~:!$&'()*+,;=@/%".contains(c))
    {
        return Err(invalid("contains characters not allowed in a URN"));
    }
    let lower = id.to_ascii_lowercase();
    if lower == ENTERPRISE_USER_SCHEMA.to_ascii_lowercase()
        || RESERVED_URN_PREFIXES.iter().any(|p| lower.starts_with(p))
    {
        return Err(SchemaError::ReservedId(excerpt(id)));
    }
    Ok(())
}

/// RFC 7643 §2.1: `ALPHA *("-" / "_" / DIGIT / ALPHA)`; sub-attributes may
/// also be called `$ref`.
fn valid_attribute_name(name: &str, is_sub: bool) -> bool {
    let mut chars = name.chars();
    (is_sub && name == "$ref")
        || (chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

fn qualified(parent: Option<&str>, name: &str) -> String {
    match parent {
        Some(p) => format!("{p}.{name}"),
        None => name.to_owned(),
    }
}

/// Parses one list of definitions; `count` tallies definitions schema-wide.
fn parse_attributes(
    items: &[Value],
    parent: Option<&str>,
    count: &mut usize,
) -> Result<Vec<AttributeDef>, SchemaError> {
    let mut out: Vec<AttributeDef> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        *count += 1;
        if *count > MAX_CUSTOM_ATTRIBUTES {
            return Err(SchemaError::TooManyAttributes {
                max: MAX_CUSTOM_ATTRIBUTES,
            });
        }
        let attr = parse_attribute(item, index, parent, count)?;
        if find_named(&out, &attr.name).is_some() {
            let reason = "is declared more than once (names are case-insensitive)";
            return Err(attr_error(&qualified(parent, &attr.name), reason));
        }
        out.push(attr);
    }
    Ok(out)
}

fn parse_attribute(
    item: &Value,
    index: usize,
    parent: Option<&str>,
    count: &mut usize,
) -> Result<AttributeDef, SchemaError> {
    let position = qualified(parent, &format!("#{index}"));
    let obj = item
        .as_object()
        .ok_or_else(|| attr_error(&position, "must be a JSON object"))?;
    let name = obj.get("name").and_then(Value::as_str);
    let name = name.ok_or_else(|| attr_error(&position, "needs a string \"name\""))?;
    let label = qualified(parent, name);
    check_name(name, parent.is_some(), &label)?;
    let mut flat = obj.clone();
    let subs = match flat.remove("subAttributes") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(attr_error(&label, "\"subAttributes\" must be an array")),
    };
    let attr: AttributeDef = serde_json::from_value(Value::Object(flat))
        .map_err(|e| attr_error(&label, e.to_string()))?;
    check_characteristics(&attr, subs.len(), parent.is_some(), &label)?;
    let sub_attributes = parse_attributes(&subs, Some(&label), count)?;
    Ok(AttributeDef {
        sub_attributes,
        ..attr
    })
}

fn check_name(name: &str, is_sub: bool, label: &str) -> Result<(), SchemaError> {
    if name.len() > MAX_ATTRIBUTE_NAME_LEN {
        return Err(attr_error(label, "name is longer than 128 characters"));
    }
    if !valid_attribute_name(name, is_sub) {
        let reason = "name must start with a letter and contain only letters, digits, '-', '_'";
        return Err(attr_error(label, reason));
    }
    Ok(())
}

#[rustfmt::skip]
fn check_characteristics(
    attr: &AttributeDef,
    sub_count: usize,
    is_sub: bool,
    label: &str,
) -> Result<(), SchemaError> {
    let complex = attr.attr_type == AttrType::Complex;
    let long = |v: &String| v.chars().count() > MAX_SHORT_TEXT_LEN;
    let rules = [
        (complex && is_sub, "complex attributes cannot be nested in a complex attribute"),
        (complex && sub_count == 0, "a complex attribute needs \"subAttributes\""),
        (!complex && sub_count > 0, "\"subAttributes\" are only allowed on complex attributes"),
        (!attr.reference_types.is_empty() && attr.attr_type != AttrType::Reference,
            "\"referenceTypes\" only apply to reference attributes"),
        (attr.canonical_values.len() > MAX_CANONICAL_VALUES,
            "at most 100 canonical values are allowed"),
        (attr.description.chars().count() > MAX_DESCRIPTION_LEN,
            "description is longer than 4096 characters"),
        (attr.canonical_values.iter().chain(&attr.reference_types).any(long),
            "canonical values and reference types are limited to 256 characters"),
    ];
    match rules.into_iter().find(|(broken, _)| *broken) {
        Some((_, reason)) => Err(attr_error(label, reason)),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Standard schemas (RFC 7643 §3.1, §4, §8.7)
// ---------------------------------------------------------------------------

fn string(name: &str, description: &str) -> AttributeDef {
    AttributeDef::new(name, AttrType::String, description)
}

fn boolean(name: &str, description: &str) -> AttributeDef {
    AttributeDef::new(name, AttrType::Boolean, description)
}

fn reference(name: &str, description: &str, types: &[&str]) -> AttributeDef {
    AttributeDef::new(name, AttrType::Reference, description).reference_types(types)
}

fn complex(name: &str, description: &str, subs: Vec<AttributeDef>) -> AttributeDef {
    AttributeDef::new(name, AttrType::Complex, description).sub_attributes(subs)
}

/// A multi-valued complex attribute with the standard `value`, `display`,
/// `type` (with canonical `types`) and `primary` sub-attributes (§2.4).
#[rustfmt::skip]
fn plural(name: &str, description: &str, value: AttributeDef, types: &[&str]) -> AttributeDef {
    complex(name, description, vec![
        value,
        string("display", "A human-readable name, primarily used for display."),
        string("type", "A label indicating the value's function.").canonical(types),
        boolean("primary", "Whether this is the preferred value; at most one is."),
    ])
    .multi()
}

/// The common attributes of every resource (RFC 7643 §3.1): `id`,
/// `externalId`, `meta`. They belong to no schema. `id` is required yet
/// server-assigned (`readOnly`): required-checks must skip read-only ones.
#[rustfmt::skip]
pub fn common_attributes() -> Vec<AttributeDef> {
    use Mutability::ReadOnly;
    let date_time = |n, d| AttributeDef::new(n, AttrType::DateTime, d).mutability(ReadOnly);
    vec![
        string("id", "A unique, stable identifier assigned by the service provider.")
            .required().case_exact().mutability(ReadOnly)
            .returned(Returned::Always).uniqueness(Uniqueness::Server),
        string("externalId", "The resource's identifier in the provisioning client.")
            .case_exact(),
        complex("meta", "Resource metadata maintained by the service provider.", vec![
            string("resourceType", "The resource type's name.").case_exact().mutability(ReadOnly),
            date_time("created", "When the resource was added."),
            date_time("lastModified", "When the resource was last updated."),
            reference("location", "The URI of the resource.", &[]).mutability(ReadOnly),
            string("version", "The resource's entity tag.").case_exact().mutability(ReadOnly),
        ])
        .mutability(ReadOnly),
    ]
}

static COMMON_ATTRIBUTES: LazyLock<Vec<AttributeDef>> = LazyLock::new(common_attributes);

/// The core User schema with every RFC 7643 §4.1 attribute, in RFC order.
pub fn user_schema() -> Schema {
    let mut attributes = user_singular_attributes();
    attributes.extend(user_plural_attributes());
    Schema {
        id: USER_SCHEMA.to_owned(),
        name: "User".to_owned(),
        description: "User Account".to_owned(),
        attributes,
    }
}

#[rustfmt::skip]
fn user_singular_attributes() -> Vec<AttributeDef> {
    vec![
        string("userName", "Unique identifier for the User, typically used to sign in.")
            .required().uniqueness(Uniqueness::Server),
        complex("name", "The components of the user's real name.", vec![
            string("formatted", "The full name, formatted for display."),
            string("familyName", "The family (last) name."),
            string("givenName", "The given (first) name."),
            string("middleName", "The middle name(s)."),
            string("honorificPrefix", "Honorific prefix(es), e.g. 'Ms.'."),
            string("honorificSuffix", "Honorific suffix(es), e.g. 'III'."),
        ]),
        string("displayName", "The name of the User, suitable for display."),
        string("nickName", "The casual way to address the User."),
        reference("profileUrl", "A URI of the User's online profile.", &["external"]),
        string("title", "The user's title, e.g. 'Vice President'."),
        string("userType", "The user's relationship to the organization, e.g. 'Employee'."),
        string("preferredLanguage", "The preferred written or spoken language."),
        string("locale", "The default location for localization, e.g. 'en-US'."),
        string("timezone", "The time zone in IANA format, e.g. 'America/Los_Angeles'."),
        boolean("active", "The User's administrative status."),
        string("password", "The User's cleartext password; never returned.")
            .mutability(Mutability::WriteOnly).returned(Returned::Never),
    ]
}

#[rustfmt::skip]
fn user_plural_attributes() -> Vec<AttributeDef> {
    let value = |description| string("value", description);
    let photo = reference("value", "The URL of a photo of the User.", &["external"]);
    let certificate = AttributeDef::new("value", AttrType::Binary, "A DER certificate, base64.");
    vec![
        plural("emails", "Email addresses.", value("An email address."),
            &["work", "home", "other"]),
        plural("phoneNumbers", "Phone numbers.", value("A phone number."),
            &["work", "home", "mobile", "fax", "pager", "other"]),
        plural("ims", "Instant messaging addresses.", value("An instant messaging address."),
            &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
        plural("photos", "URLs of images of the User.", photo, &["photo", "thumbnail"]),
        complex("addresses", "Physical mailing addresses.", vec![
            string("formatted", "The full mailing address, formatted for display."),
            string("streetAddress", "The full street address."),
            string("locality", "The city or locality."),
            string("region", "The state or region."),
            string("postalCode", "The zip or postal code."),
            string("country", "The country, as an ISO 3166-1 alpha-2 code."),
            string("type", "A label indicating the address's function.")
                .canonical(&["work", "home", "other"]),
            boolean("primary", "Whether this is the preferred address."),
        ]).multi(),
        complex("groups", "The groups the User belongs to, directly or indirectly.", vec![
            value("The id of the Group."),
            reference("$ref", "The URI of the Group.", &["User", "Group"]),
            string("display", "A human-readable name of the Group."),
            string("type", "How the membership arises.").canonical(&["direct", "indirect"]),
        ]).multi().mutability_deep(Mutability::ReadOnly),
        plural("entitlements", "Entitlements of the User.", value("An entitlement."), &[]),
        plural("roles", "Roles of the User.", value("A role."), &[]),
        plural("x509Certificates", "X.509 certificates of the User.", certificate, &[]),
    ]
}

/// The core Group schema (RFC 7643 §4.2). Member sub-attributes are
/// immutable: members may be added or removed, not edited in place.
#[rustfmt::skip]
pub fn group_schema() -> Schema {
    let members = complex("members", "The members of the Group.", vec![
        string("value", "The id of the member resource."),
        reference("$ref", "The URI of the member resource.", &["User", "Group"]),
        string("display", "A human-readable name of the member."),
        string("type", "The member's resource type.").canonical(&["User", "Group"]),
    ]);
    Schema {
        id: GROUP_SCHEMA.to_owned(),
        name: "Group".to_owned(),
        description: "Group".to_owned(),
        attributes: vec![
            string("displayName", "A human-readable name for the Group.").required(),
            members.multi().mutability_deep(Mutability::Immutable)
                .mutability(Mutability::ReadWrite),
        ],
    }
}

/// The enterprise User extension (RFC 7643 §4.3).
#[rustfmt::skip]
pub fn enterprise_user_schema() -> Schema {
    let manager = complex("manager", "The User's manager.", vec![
        string("value", "The id of the manager's User resource."),
        reference("$ref", "The URI of the manager's User resource.", &["User"]),
        string("displayName", "The manager's display name.").mutability(Mutability::ReadOnly),
    ]);
    Schema {
        id: ENTERPRISE_USER_SCHEMA.to_owned(),
        name: "EnterpriseUser".to_owned(),
        description: "Enterprise User".to_owned(),
        attributes: vec![
            string("employeeNumber", "An identifier assigned by the organization."),
            string("costCenter", "The name of a cost center."),
            string("organization", "The name of an organization."),
            string("division", "The name of a division."),
            string("department", "The name of a department."),
            manager,
        ],
    }
}

// ---------------------------------------------------------------------------
// Resource types (RFC 7643 §6)
// ---------------------------------------------------------------------------

/// A schema extension a resource type accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaExtension {
    pub schema: String,
    pub required: bool,
}

/// A resource type: its endpoint, core schema and extensions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceType {
    pub id: String,
    pub name: String,
    pub endpoint: String,
    pub description: String,
    pub schema: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schema_extensions: Vec<SchemaExtension>,
}

impl ResourceType {
    fn new(id: &str, endpoint: &str, description: &str, schema: &str) -> Self {
        ResourceType {
            id: id.to_owned(),
            name: id.to_owned(),
            endpoint: endpoint.to_owned(),
            description: description.to_owned(),
            schema: schema.to_owned(),
            schema_extensions: Vec::new(),
        }
    }

    /// Adds each schema as an optional extension unless already listed
    /// (e.g. a directory's custom schemas).
    #[must_use]
    pub fn with_extensions(mut self, schemas: &[Schema]) -> Self {
        for schema in schemas {
            if !self.lists_extension(&schema.id) {
                self.schema_extensions
                    .push(SchemaExtension::optional(&schema.id));
            }
        }
        self
    }

    fn lists_extension(&self, urn: &str) -> bool {
        self.schema_extensions
            .iter()
            .any(|e| e.schema.eq_ignore_ascii_case(urn))
    }
}

impl SchemaExtension {
    /// An extension a resource may omit.
    pub fn optional(urn: &str) -> Self {
        SchemaExtension {
            schema: urn.to_owned(),
            required: false,
        }
    }
}

/// The `User` resource type, with the optional enterprise extension.
pub fn user_resource_type() -> ResourceType {
    let user = ResourceType::new("User", "/Users", "User Account", USER_SCHEMA);
    ResourceType {
        schema_extensions: vec![SchemaExtension::optional(ENTERPRISE_USER_SCHEMA)],
        ..user
    }
}

/// The `Group` resource type.
pub fn group_resource_type() -> ResourceType {
    ResourceType::new("Group", "/Groups", "Group", GROUP_SCHEMA)
}

// ---------------------------------------------------------------------------
// Resolved view
// ---------------------------------------------------------------------------

/// The schemas of one resource type as the engine sees them: the core schema
/// and its extensions (standard and per-directory custom ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSchema {
    pub core: Schema,
    pub extensions: Vec<Schema>,
}

impl ResourceSchema {
    /// Core User plus the enterprise extension plus `custom` extensions.
    pub fn user(custom: Vec<Schema>) -> Self {
        Self::assemble(user_schema(), vec![enterprise_user_schema()], custom)
    }

    /// Core Group plus `custom` extensions.
    pub fn group(custom: Vec<Schema>) -> Self {
        Self::assemble(group_schema(), Vec::new(), custom)
    }

    /// Appends custom extensions, skipping any whose URN is already taken
    /// (case-insensitively) so standard schemas cannot be shadowed.
    fn assemble(core: Schema, mut extensions: Vec<Schema>, custom: Vec<Schema>) -> Self {
        for schema in custom {
            let taken = schema.id.eq_ignore_ascii_case(&core.id)
                || extensions
                    .iter()
                    .any(|e| e.id.eq_ignore_ascii_case(&schema.id));
            if !taken {
                extensions.push(schema);
            }
        }
        ResourceSchema { core, extensions }
    }

    /// Resolve an attribute by optional schema URN, name, optional
    /// sub-attribute — all case-insensitive.
    ///
    /// No URN: core attributes, then the common attributes (`id`,
    /// `externalId`, `meta`), then extension attributes if exactly one
    /// extension defines the name. The core URN reaches core and common
    /// attributes; an extension URN reaches that extension only. A `sub`
    /// the attribute does not define yields `None`.
    pub fn find(&self, uri: Option<&str>, name: &str, sub: Option<&str>) -> Option<&AttributeDef> {
        let (_, attr) = self.resolve(uri, name)?;
        match sub {
            None => Some(attr),
            Some(sub) => attr.sub_attribute(sub),
        }
    }

    /// The schema URN that owns a top-level attribute name (for rendering and
    /// PATCH), resolved as [`ResourceSchema::find`] does. Common attributes
    /// report the core URN, since they render at the top level too.
    pub fn owner_urn(&self, uri: Option<&str>, name: &str) -> Option<&str> {
        self.resolve(uri, name).map(|(urn, _)| urn)
    }

    /// Whether `urn` is one of this resource's extensions (case-insensitive).
    pub fn is_extension(&self, urn: &str) -> bool {
        self.extension(urn).is_some()
    }

    /// The extension schema with this URN (case-insensitive).
    pub fn extension(&self, urn: &str) -> Option<&Schema> {
        self.extensions
            .iter()
            .find(|e| e.id.eq_ignore_ascii_case(urn))
    }

    /// The core URN followed by every extension URN.
    pub fn all_schema_urns(&self) -> Vec<&str> {
        let extensions = self.extensions.iter().map(|e| e.id.as_str());
        std::iter::once(self.core.id.as_str())
            .chain(extensions)
            .collect()
    }

    fn resolve(&self, uri: Option<&str>, name: &str) -> Option<(&str, &AttributeDef)> {
        match uri {
            Some(urn) if urn.eq_ignore_ascii_case(&self.core.id) => self.resolve_core(name),
            Some(urn) => {
                let ext = self.extension(urn)?;
                ext.attribute(name).map(|a| (ext.id.as_str(), a))
            }
            None => self
                .resolve_core(name)
                .or_else(|| self.resolve_any_extension(name)),
        }
    }

    fn resolve_core(&self, name: &str) -> Option<(&str, &AttributeDef)> {
        let attr = self
            .core
            .attribute(name)
            .or_else(|| find_named(&COMMON_ATTRIBUTES, name))?;
        Some((self.core.id.as_str(), attr))
    }

    fn resolve_any_extension<'a>(&'a self, name: &str) -> Option<(&'a str, &'a AttributeDef)> {
        let owned = |e: &'a Schema| e.attribute(name).map(|a| (e.id.as_str(), a));
        let mut hits = self.extensions.iter().filter_map(owned);
        let first = hits.next()?;
        hits.next().is_none().then_some(first)
    }
}

// ---------------------------------------------------------------------------
// Discovery documents (RFC 7643 §5, §6; RFC 7644 §4)
// ---------------------------------------------------------------------------

/// What the service provider supports, for `/ServiceProviderConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceProviderFeatures {
    pub patch: bool,
    /// `(maxOperations, maxPayloadSize)` when bulk is supported.
    pub bulk: Option<(usize, usize)>,
    /// `maxResults` when filtering is supported.
    pub filter: Option<usize>,
    pub change_password: bool,
    pub sort: bool,
    pub etag: bool,
    pub documentation_uri: Option<String>,
}

/// The discovery `meta` object: resource type and `<base_url>/<path>`.
fn meta(resource_type: &str, base_url: &str, path: &str) -> Value {
    let location = format!("{}/{path}", base_url.trim_end_matches('/'));
    json!({ "resourceType": resource_type, "location": location })
}

/// The `/ServiceProviderConfig` document (RFC 7643 §5) with one OAuth
/// bearer-token authentication scheme. Unsupported bulk and filter report
/// zero limits, since those limits are required members.
pub fn service_provider_config(base_url: &str, features: &ServiceProviderFeatures) -> Value {
    let (max_operations, max_payload_size) = features.bulk.unwrap_or((0, 0));
    let supported = |flag: bool| json!({ "supported": flag });
    let mut doc = json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": supported(features.patch),
        "bulk": {
            "supported": features.bulk.is_some(),
            "maxOperations": max_operations,
            "maxPayloadSize": max_payload_size,
        },
        "filter": {
            "supported": features.filter.is_some(),
            "maxResults": features.filter.unwrap_or(0),
        },
        "changePassword": supported(features.change_password),
        "sort": supported(features.sort),
        "etag": supported(features.etag),
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token in the Authorization header.",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": meta("ServiceProviderConfig", base_url, "ServiceProviderConfig"),
    });
    if let (Some(uri), Some(obj)) = (&features.documentation_uri, doc.as_object_mut()) {
        obj.insert("documentationUri".to_owned(), Value::String(uri.clone()));
    }
    doc
}

/// A resource type's representation (RFC 7643 §6) under `/ResourceTypes/<id>`.
pub fn resource_type_json(resource_type: &ResourceType, base_url: &str) -> Value {
    let mut doc = serde_json::to_value(resource_type).unwrap_or_else(|_| json!({}));
    if let Some(obj) = doc.as_object_mut() {
        let path = format!("ResourceTypes/{}", resource_type.id);
        obj.insert("schemas".to_owned(), json!([RESOURCE_TYPE_SCHEMA]));
        obj.insert("meta".to_owned(), meta("ResourceType", base_url, &path));
    }
    doc
}

// ---------------------------------------------------------------------------
// Value validation
// ---------------------------------------------------------------------------

/// Checks and coerces one (non-array) value against `attr`'s type, as
/// leniently as real identity providers need; `null` (unassigned) passes.
///
/// Coercions: booleans also from the strings `"true"`/`"false"` in any case
/// (Entra ID sends `"False"`); integers also from integral numbers like
/// `5.0` and integer strings; decimals also from numeric strings; strings
/// also from numbers; a complex attribute with a `value` sub-attribute also
/// from a bare scalar, read as `{"value": …}`. Known sub-attribute keys are
/// renamed to the schema's spelling and validated, unknown keys kept as-is.
/// Errors start with the attribute name (`emails.type: …`).
pub fn validate_value(attr: &AttributeDef, value: &Value) -> Result<Value, String> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if value.is_array() {
        return Err(format!(
            "{}: expected a single value, not an array",
            attr.name
        ));
    }
    let checked = match attr.attr_type {
        AttrType::Complex => return validate_complex(attr, value),
        AttrType::String => coerce_string(value),
        AttrType::Boolean => coerce_boolean(value),
        AttrType::Integer => coerce_integer(value),
        AttrType::Decimal => coerce_decimal(value),
        AttrType::DateTime => check_date_time(value),
        AttrType::Binary => check_binary(value),
        AttrType::Reference => expect_string(value, "a reference (URI string)"),
    };
    checked.map_err(|e| format!("{}: {e}", attr.name))
}

/// Validates a multi-valued attribute: an array, or a single value that is
/// wrapped into one. `null` elements are dropped, a `null` whole passes;
/// at most one element may be `"primary": true`.
pub fn validate_multi(attr: &AttributeDef, value: &Value) -> Result<Value, String> {
    if !attr.multi_valued {
        return Err(format!("{}: attribute is single-valued", attr.name));
    }
    let items: Vec<&Value> = match value {
        Value::Null => return Ok(Value::Null),
        Value::Array(items) => items.iter().filter(|v| !v.is_null()).collect(),
        single => vec![single],
    };
    let out: Vec<Value> = items
        .into_iter()
        .map(|v| validate_value(attr, v))
        .collect::<Result<_, _>>()?;
    if out.iter().filter(|v| is_primary(v)).count() > 1 {
        return Err(format!(
            "{}: at most one value may have \"primary\": true",
            attr.name
        ));
    }
    Ok(Value::Array(out))
}

/// Validates a value for `attr`, as [`validate_multi`] or [`validate_value`].
pub fn validate_attribute(attr: &AttributeDef, value: &Value) -> Result<Value, String> {
    if attr.multi_valued {
        validate_multi(attr, value)
    } else {
        validate_value(attr, value)
    }
}

fn is_primary(value: &Value) -> bool {
    let entries = value.as_object().into_iter().flatten();
    entries
        .filter(|(k, _)| k.eq_ignore_ascii_case("primary"))
        .any(|(_, v)| match v {
            Value::Bool(b) => *b,
            Value::String(s) => s.eq_ignore_ascii_case("true"),
            _ => false,
        })
}

fn validate_complex(attr: &AttributeDef, value: &Value) -> Result<Value, String> {
    let obj = match value {
        Value::Object(obj) => obj.clone(),
        scalar if attr.sub_attribute("value").is_some() => {
            Map::from_iter([("value".to_owned(), scalar.clone())])
        }
        other => {
            return Err(format!(
                "{}: expected an object, got {}",
                attr.name,
                describe(other)
            ));
        }
    };
    let mut out = Map::new();
    for (key, item) in obj {
        let Some(sub) = attr.sub_attribute(&key) else {
            out.insert(key, item);
            continue;
        };
        if out.contains_key(&sub.name) {
            return Err(format!("{}.{}: given more than once", attr.name, sub.name));
        }
        let checked = validate_attribute(sub, &item).map_err(|e| format!("{}.{e}", attr.name))?;
        out.insert(sub.name.clone(), checked);
    }
    Ok(Value::Object(out))
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{:?}", excerpt(s)),
        Value::Object(_) => "an object".to_owned(),
        other => excerpt(&other.to_string()),
    }
}

fn expect_string(value: &Value, what: &str) -> Result<Value, String> {
    match value {
        Value::String(_) => Ok(value.clone()),
        other => Err(format!("expected {what}, got {}", describe(other))),
    }
}

fn coerce_string(value: &Value) -> Result<Value, String> {
    match value {
        Value::Number(n) => Ok(Value::String(n.to_string())),
        other => expect_string(other, "a string"),
    }
}

fn coerce_boolean(value: &Value) -> Result<Value, String> {
    match value {
        Value::Bool(_) => Ok(value.clone()),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
        other => Err(format!("expected a boolean, got {}", describe(other))),
    }
}

fn coerce_integer(value: &Value) -> Result<Value, String> {
    let err = || format!("expected an integer, got {}", describe(value));
    // Integral floats are converted only where f64 is exact (|f| < 2^53).
    let exact = |f: &f64| f.fract() == 0.0 && f.abs() < 9.0e15;
    match value {
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(value.clone()),
        Value::Number(n) => n
            .as_f64()
            .filter(exact)
            .map(|f| Value::from(f as i64))
            .ok_or_else(err),
        Value::String(s) => s.trim().parse::<i64>().map(Value::from).map_err(|_| err()),
        _ => Err(err()),
    }
}

fn coerce_decimal(value: &Value) -> Result<Value, String> {
    let err = || format!("expected a decimal number, got {}", describe(value));
    let parse = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
    };
    match value {
        Value::Number(_) => Ok(value.clone()),
        Value::String(s) => parse(s).map(Value::Number).ok_or_else(err),
        _ => Err(err()),
    }
}

fn check_date_time(value: &Value) -> Result<Value, String> {
    match value {
        Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => Ok(value.clone()),
        other => Err(format!(
            "expected an RFC 3339 date-time, got {}",
            describe(other)
        )),
    }
}

/// Standard base64 alphabet, padding optional, for `binary` values.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A base64 string; line breaks and other ASCII whitespace are ignored.
fn check_binary(value: &Value) -> Result<Value, String> {
    let Value::String(s) = value else {
        return Err(format!("expected a base64 string, got {}", describe(value)));
    };
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    match LENIENT_BASE64.decode(compact) {
        Ok(_) => Ok(value.clone()),
        Err(_) => Err(format!("expected a base64 string, got {}", describe(value))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(attrs: &[AttributeDef]) -> Vec<&str> {
        attrs.iter().map(|a| a.name.as_str()).collect()
    }

    fn attr<'a>(schema: &'a Schema, path: &str) -> &'a AttributeDef {
        let mut parts = path.split('.');
        let top = parts.next().and_then(|n| schema.attribute(n));
        let found = match parts.next() {
            Some(sub) => top.and_then(|a| a.sub_attribute(sub)),
            None => top,
        };
        found.unwrap_or_else(|| panic!("{path} missing"))
    }

    fn custom_ext() -> Schema {
        let value = json!({
            "id": "urn:acme:scim:ext:1.0:User",
            "name": "AcmeUser",
            "attributes": [
                {"name": "badgeId", "type": "integer"},
                {"name": "costCenter"},
                {"name": "badge", "type": "complex", "subAttributes": [{"name": "color"}]}
            ]
        });
        Schema::from_custom_json(&value).expect("valid custom schema")
    }

    #[test]
    fn user_schema_lists_every_rfc_attribute_in_order() {
        let expected = [
            "userName",
            "name",
            "displayName",
            "nickName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "password",
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "addresses",
            "groups",
            "entitlements",
            "roles",
            "x509Certificates",
        ];
        assert_eq!(names(&user_schema().attributes), expected);
    }

    #[test]
    fn user_attribute_characteristics() {
        let user = user_schema();
        let user_name = attr(&user, "userName");
        assert!(user_name.required && !user_name.case_exact && !user_name.multi_valued);
        assert_eq!(user_name.uniqueness, Uniqueness::Server);
        assert_eq!(user_name.mutability, Mutability::ReadWrite);
        let password = attr(&user, "password");
        assert_eq!(password.mutability, Mutability::WriteOnly);
        assert_eq!(password.returned, Returned::Never);
        assert_eq!(attr(&user, "active").attr_type, AttrType::Boolean);
        assert_eq!(attr(&user, "profileUrl").reference_types, ["external"]);
        let name_subs = [
            "formatted",
            "familyName",
            "givenName",
            "middleName",
            "honorificPrefix",
            "honorificSuffix",
        ];
        assert_eq!(names(&attr(&user, "name").sub_attributes), name_subs);
        let strings = [
            "displayName",
            "nickName",
            "title",
            "userType",
            "locale",
            "timezone",
        ];
        for name in strings {
            assert_eq!(attr(&user, name).attr_type, AttrType::String, "{name}");
        }
    }

    #[test]
    fn plural_user_attributes_have_standard_sub_attributes() {
        let user = user_schema();
        let emails = attr(&user, "emails");
        assert!(emails.multi_valued && emails.attr_type == AttrType::Complex);
        assert_eq!(
            names(&emails.sub_attributes),
            ["value", "display", "type", "primary"]
        );
        assert_eq!(
            attr(&user, "emails.type").canonical_values,
            ["work", "home", "other"]
        );
        assert_eq!(attr(&user, "emails.primary").attr_type, AttrType::Boolean);
        assert!(
            attr(&user, "phoneNumbers.type")
                .canonical_values
                .contains(&"mobile".into())
        );
        assert!(
            attr(&user, "ims.type")
                .canonical_values
                .contains(&"xmpp".into())
        );
        assert_eq!(attr(&user, "photos.value").attr_type, AttrType::Reference);
        assert_eq!(
            attr(&user, "photos.type").canonical_values,
            ["photo", "thumbnail"]
        );
        assert_eq!(
            attr(&user, "x509Certificates.value").attr_type,
            AttrType::Binary
        );
        for name in ["entitlements", "roles", "x509Certificates", "addresses"] {
            assert!(attr(&user, name).multi_valued, "{name}");
        }
        let address_subs = [
            "formatted",
            "streetAddress",
            "locality",
            "region",
            "postalCode",
            "country",
            "type",
            "primary",
        ];
        assert_eq!(
            names(&attr(&user, "addresses").sub_attributes),
            address_subs
        );
    }

    #[test]
    fn groups_attribute_is_read_only_throughout() {
        let user = user_schema();
        let groups = attr(&user, "groups");
        assert!(groups.multi_valued);
        assert_eq!(
            names(&groups.sub_attributes),
            ["value", "$ref", "display", "type"]
        );
        assert_eq!(groups.mutability, Mutability::ReadOnly);
        assert!(
            groups
                .sub_attributes
                .iter()
                .all(|s| s.mutability == Mutability::ReadOnly)
        );
        assert_eq!(
            attr(&user, "groups.$ref").reference_types,
            ["User", "Group"]
        );
        assert_eq!(
            attr(&user, "groups.type").canonical_values,
            ["direct", "indirect"]
        );
    }

    #[test]
    fn common_attributes_characteristics() {
        let common = Schema {
            id: String::new(),
            name: String::new(),
            description: String::new(),
            attributes: common_attributes(),
        };
        let id = attr(&common, "id");
        assert!(id.case_exact);
        assert_eq!(id.mutability, Mutability::ReadOnly);
        assert_eq!(id.returned, Returned::Always);
        assert_eq!(id.uniqueness, Uniqueness::Server);
        assert!(attr(&common, "externalId").case_exact);
        assert_eq!(attr(&common, "meta").mutability, Mutability::ReadOnly);
        let last_modified = attr(&common, "meta.lastModified");
        assert_eq!(last_modified.attr_type, AttrType::DateTime);
        assert_eq!(last_modified.mutability, Mutability::ReadOnly);
        assert_eq!(
            attr(&common, "meta.location").attr_type,
            AttrType::Reference
        );
        assert!(
            user_schema().attribute("id").is_none(),
            "common attributes are in no schema"
        );
    }

    #[test]
    fn group_and_enterprise_schemas() {
        let group = group_schema();
        assert!(attr(&group, "displayName").required);
        let members = attr(&group, "members");
        assert!(members.multi_valued);
        assert_eq!(members.mutability, Mutability::ReadWrite);
        assert!(
            members
                .sub_attributes
                .iter()
                .all(|s| s.mutability == Mutability::Immutable)
        );
        assert_eq!(
            attr(&group, "members.type").canonical_values,
            ["User", "Group"]
        );
        let ent = enterprise_user_schema();
        assert_eq!(ent.id, ENTERPRISE_USER_SCHEMA);
        let expected = [
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
            "manager",
        ];
        assert_eq!(names(&ent.attributes), expected);
        assert_eq!(
            attr(&ent, "manager.displayName").mutability,
            Mutability::ReadOnly
        );
        assert_eq!(attr(&ent, "manager.$ref").reference_types, ["User"]);
    }

    #[test]
    fn enterprise_schema_json_round_trip() {
        let schema = enterprise_user_schema();
        let text = serde_json::to_string(&schema).expect("serialize");
        let back: Schema = serde_json::from_str(&text).expect("deserialize");
        assert_eq!(back, schema);
        let value = serde_json::to_value(&schema).expect("value");
        let manager = &value["attributes"][5];
        assert_eq!(manager["type"], "complex");
        assert_eq!(
            manager["subAttributes"][1]["referenceTypes"],
            json!(["User"])
        );
        assert_eq!(manager["subAttributes"][2]["mutability"], "readOnly");
        let first = &value["attributes"][0];
        assert_eq!(
            (&first["multiValued"], &first["caseExact"]),
            (&json!(false), &json!(false))
        );
        assert_eq!(
            (&first["returned"], &first["uniqueness"]),
            (&json!("default"), &json!("none"))
        );
        assert!(first.get("subAttributes").is_none());
    }

    #[test]
    fn deserialization_applies_rfc_defaults() {
        let plain: AttributeDef = serde_json::from_value(json!({"name": "x"})).expect("attr");
        assert_eq!(plain, AttributeDef::new("x", AttrType::String, ""));
        let typed = json!({"name": "d", "type": "dateTime", "returned": "request"});
        let typed: AttributeDef = serde_json::from_value(typed).expect("attr");
        assert_eq!(
            (typed.attr_type, typed.returned),
            (AttrType::DateTime, Returned::Request)
        );
    }

    #[test]
    fn find_is_case_insensitive() {
        let rs = ResourceSchema::user(Vec::new());
        let found = |uri, name, sub| rs.find(uri, name, sub).map(|a| a.name.as_str());
        let upper_enterprise = ENTERPRISE_USER_SCHEMA.to_uppercase();
        assert_eq!(found(None, "USERNAME", None), Some("userName"));
        assert_eq!(found(None, "name", Some("GIVENNAME")), Some("givenName"));
        assert_eq!(
            found(Some(&upper_enterprise), "employeenumber", None),
            Some("employeeNumber")
        );
        assert_eq!(
            found(Some(ENTERPRISE_USER_SCHEMA), "manager", Some("value")),
            Some("value")
        );
        assert_eq!(found(Some(USER_SCHEMA), "userName", None), Some("userName"));
        assert_eq!(found(None, "ID", None), Some("id"));
        assert_eq!(
            found(None, "meta", Some("lastmodified")),
            Some("lastModified")
        );
        assert_eq!(found(None, "employeeNumber", None), Some("employeeNumber"));
        assert_eq!(
            rs.owner_urn(None, "employeeNumber"),
            Some(ENTERPRISE_USER_SCHEMA)
        );
    }

    #[test]
    fn find_rejects_wrong_scope() {
        let rs = ResourceSchema::user(Vec::new());
        assert!(
            rs.find(Some(ENTERPRISE_USER_SCHEMA), "userName", None)
                .is_none()
        );
        assert!(rs.find(Some(USER_SCHEMA), "employeeNumber", None).is_none());
        assert!(rs.find(Some("urn:unknown:x"), "userName", None).is_none());
        assert!(rs.find(None, "userName", Some("value")).is_none());
        assert!(rs.find(None, "nope", None).is_none());
    }

    #[test]
    fn unqualified_extension_lookup_requires_uniqueness() {
        let rs = ResourceSchema::user(vec![custom_ext()]);
        let badge = rs.find(None, "badgeid", None).map(|a| a.attr_type);
        assert_eq!(badge, Some(AttrType::Integer));
        assert_eq!(
            rs.owner_urn(None, "badgeId"),
            Some("urn:acme:scim:ext:1.0:User")
        );
        assert!(
            rs.find(None, "costCenter", None).is_none(),
            "ambiguous between extensions"
        );
        assert!(
            rs.find(Some("urn:acme:scim:ext:1.0:user"), "costCenter", None)
                .is_some()
        );
        assert_eq!(rs.owner_urn(None, "userName"), Some(USER_SCHEMA));
        assert_eq!(rs.owner_urn(None, "id"), Some(USER_SCHEMA));
        let color = rs
            .find(None, "badge", Some("COLOR"))
            .map(|a| a.name.as_str());
        assert_eq!(color, Some("color"));
    }

    #[test]
    fn resource_schema_urns_and_extensions() {
        let rs = ResourceSchema::user(vec![custom_ext(), enterprise_user_schema()]);
        let expected = [
            USER_SCHEMA,
            ENTERPRISE_USER_SCHEMA,
            "urn:acme:scim:ext:1.0:User",
        ];
        assert_eq!(rs.all_schema_urns(), expected);
        assert!(rs.is_extension("urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:User"));
        assert!(!rs.is_extension(USER_SCHEMA));
        let group = ResourceSchema::group(Vec::new());
        assert_eq!(group.all_schema_urns(), [GROUP_SCHEMA]);
        assert!(group.find(None, "members", Some("value")).is_some());
        assert!(group.find(None, "externalId", None).is_some());
    }

    #[test]
    fn custom_schema_accepted() {
        let schema = custom_ext();
        assert_eq!(schema.name, "AcmeUser");
        assert_eq!(schema.attributes[0].attr_type, AttrType::Integer);
        assert_eq!(schema.attributes[1].mutability, Mutability::ReadWrite);
        assert_eq!(schema.attributes[2].sub_attributes[0].name, "color");
        let entra = json!({
            "id": "urn:ietf:params:scim:schemas:extension:CustomExt:2.0:User",
            "attributes": [{"name": "sponsor", "type": "complex", "subAttributes": [
                {"name": "value", "required": true},
                {"name": "$ref", "type": "reference", "referenceTypes": ["User"]}
            ]}]
        });
        let parsed = Schema::from_custom_json(&entra);
        assert!(parsed.is_ok(), "{parsed:?}");
    }

    #[test]
    fn custom_schema_round_trips_through_to_json() {
        let schema = custom_ext();
        let json = schema.to_json("https://h/scim/v2");
        assert_eq!(Schema::from_custom_json(&json), Ok(schema));
    }

    #[rustfmt::skip]
    #[test]
    fn custom_schema_rejections() {
        let attrs = |a: Value| json!({"id": "urn:acme:ext", "attributes": a});
        let many: Vec<Value> = (0..201).map(|i| json!({"name": format!("a{i}")})).collect();
        let canon: Vec<String> = (0..101).map(|i| format!("v{i}")).collect();
        let nested = json!([{"name": "c", "type": "complex", "subAttributes": [
            {"name": "n", "type": "complex", "subAttributes": [{"name": "z"}]}]}]);
        let twins = json!([{"name": "c", "type": "complex", "subAttributes": [
            {"name": "v"}, {"name": "V"}]}]);
        let complex_without_list = json!([{"name": "s", "type": "complex", "subAttributes": {}}]);
        let simple_with_subs = json!([{"name": "s", "subAttributes": [{"name": "x"}]}]);
        let cases: Vec<(Value, &str)> = vec![
            (json!([]), "JSON object"),
            (json!({"attributes": []}), "\"id\""),
            (json!({"id": "acme:ext", "attributes": []}), "urn:"),
            (json!({"id": format!("urn:x:{}", "a".repeat(260)), "attributes": []}), "256"),
            (json!({"id": "urn:a b:c", "attributes": []}), "characters"),
            (json!({"id": "urn:acme", "attributes": []}), "form"),
            (json!({"id": USER_SCHEMA, "attributes": []}), "reserved"),
            (json!({"id": SCHEMA_SCHEMA, "attributes": []}), "reserved"),
            (json!({"id": ENTERPRISE_USER_SCHEMA.to_uppercase(), "attributes": []}), "reserved"),
            (json!({"id": "urn:acme:ext"}), "attributes"),
            (json!({"id": "urn:acme:ext", "name": 3, "attributes": []}), "\"name\""),
            (attrs(Value::Array(many)), "at most 200"),
            (attrs(json!([{"name": "1abc"}])), "\"1abc\""),
            (attrs(json!([{"name": "a.b"}])), "must start with a letter"),
            (attrs(json!([{"name": "$ref", "type": "reference"}])), "\"$ref\""),
            (attrs(json!([{"name": "x".repeat(129)}])), "128"),
            (attrs(json!([{"type": "string"}])), "\"#0\""),
            (attrs(json!(["x"])), "JSON object"),
            (attrs(json!([{"name": "dup"}, {"name": "DUP"}])), "more than once"),
            (attrs(json!([{"name": "c", "type": "complex"}])), "needs \"subAttributes\""),
            (attrs(simple_with_subs), "only allowed on complex"),
            (attrs(complex_without_list), "must be an array"),
            (attrs(nested), "\"c.n\""),
            (attrs(twins), "\"c.V\""),
            (attrs(json!([{"name": "t", "canonicalValues": canon}])), "100 canonical"),
            (attrs(json!([{"name": "t", "type": "String"}])), "unknown variant"),
            (attrs(json!([{"name": "t", "mutability": "readonly"}])), "\"t\""),
            (attrs(json!([{"name": "t", "referenceTypes": ["User"]}])), "referenceTypes"),
        ];
        for (input, needle) in cases {
            let err = Schema::from_custom_json(&input).expect_err(&input.to_string()).to_string();
            assert!(err.contains(needle), "{input}: {err:?} lacks {needle:?}");
        }
    }

    #[test]
    fn schema_json_shape() {
        let doc = user_schema().to_json("https://h/scim/v2/");
        assert_eq!(doc["schemas"], json!([SCHEMA_SCHEMA]));
        assert_eq!(doc["id"], USER_SCHEMA);
        assert_eq!(doc["name"], "User");
        assert_eq!(doc["meta"]["resourceType"], "Schema");
        let location = format!("https://h/scim/v2/Schemas/{USER_SCHEMA}");
        assert_eq!(doc["meta"]["location"], location);
        assert_eq!(doc["attributes"].as_array().map(Vec::len), Some(21));
    }

    #[test]
    fn resource_type_json_shape() {
        let doc = resource_type_json(&user_resource_type(), "https://h/scim/v2");
        assert_eq!(doc["schemas"], json!([RESOURCE_TYPE_SCHEMA]));
        assert_eq!(
            (&doc["id"], &doc["endpoint"]),
            (&json!("User"), &json!("/Users"))
        );
        assert_eq!(doc["schema"], USER_SCHEMA);
        let extension = json!([{"schema": ENTERPRISE_USER_SCHEMA, "required": false}]);
        assert_eq!(doc["schemaExtensions"], extension);
        let location = "https://h/scim/v2/ResourceTypes/User";
        assert_eq!(
            doc["meta"],
            json!({"resourceType": "ResourceType", "location": location})
        );
        let group = resource_type_json(&group_resource_type(), "https://h");
        assert!(group.get("schemaExtensions").is_none());
        assert_eq!(group["meta"]["location"], "https://h/ResourceTypes/Group");
        let custom = [custom_ext(), enterprise_user_schema()];
        assert_eq!(
            user_resource_type()
                .with_extensions(&custom)
                .schema_extensions
                .len(),
            2
        );
    }

    #[test]
    fn service_provider_config_shape() {
        let features = ServiceProviderFeatures {
            patch: true,
            filter: Some(200),
            etag: true,
            documentation_uri: Some("https://docs".to_owned()),
            ..ServiceProviderFeatures::default()
        };
        let doc = service_provider_config("https://h/scim/v2", &features);
        assert_eq!(doc["schemas"], json!([SERVICE_PROVIDER_CONFIG_SCHEMA]));
        assert_eq!(doc["patch"], json!({"supported": true}));
        let no_bulk = json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0});
        assert_eq!(doc["bulk"], no_bulk);
        assert_eq!(doc["filter"], json!({"supported": true, "maxResults": 200}));
        assert_eq!(doc["sort"]["supported"], false);
        assert_eq!(doc["documentationUri"], "https://docs");
        let scheme = &doc["authenticationSchemes"][0];
        assert_eq!(
            (&scheme["type"], &scheme["primary"]),
            (&json!("oauthbearertoken"), &json!(true))
        );
        assert_eq!(doc["meta"]["resourceType"], "ServiceProviderConfig");
        assert_eq!(
            doc["meta"]["location"],
            "https://h/scim/v2/ServiceProviderConfig"
        );
        let bulk = ServiceProviderFeatures {
            bulk: Some((1000, 1_048_576)),
            ..features
        };
        let doc = service_provider_config("https://h", &bulk);
        assert_eq!(doc["bulk"]["maxOperations"], 1000);
        assert_eq!(doc["bulk"]["supported"], true);
    }

    #[rustfmt::skip]
    #[test]
    fn validate_value_table() {
        use AttrType::*;
        let ok = [
            (Boolean, json!(true), json!(true)),
            (Boolean, json!("False"), json!(false)),
            (Boolean, json!("True"), json!(true)),
            (Boolean, json!("TRUE"), json!(true)),
            (Integer, json!(42), json!(42)),
            (Integer, json!(" -7 "), json!(-7)),
            (Integer, json!(5.0), json!(5)),
            (Decimal, json!(1.5), json!(1.5)),
            (Decimal, json!(3), json!(3)),
            (Decimal, json!("2.25"), json!(2.25)),
            (DateTime, json!("2024-01-02T03:04:05Z"), json!("2024-01-02T03:04:05Z")),
            (DateTime, json!("2024-01-02T03:04:05.1+02:00"), json!("2024-01-02T03:04:05.1+02:00")),
            (String, json!("x"), json!("x")),
            (String, json!(12345), json!("12345")),
            (Reference, json!("https://x/y"), json!("https://x/y")),
            (Binary, json!("aGVsbG8="), json!("aGVsbG8=")),
            (Binary, json!("aGVs\nbG8"), json!("aGVs\nbG8")),
            (String, Value::Null, Value::Null),
        ];
        for (t, input, want) in ok {
            let got = validate_value(&AttributeDef::new("a", t, ""), &input);
            assert_eq!(got, Ok(want), "{t:?} {input}");
        }
        let bad = [
            (Boolean, json!("yes")),
            (Boolean, json!(1)),
            (Integer, json!(1.5)),
            (Integer, json!("1.5")),
            (Decimal, json!("abc")),
            (Decimal, json!(true)),
            (DateTime, json!("2024-01-02")),
            (DateTime, json!(17)),
            (String, json!(true)),
            (String, json!(["x"])),
            (Binary, json!("not base64!")),
            (Reference, json!({})),
            (Complex, json!("x")),
        ];
        for (t, input) in bad {
            let got = validate_value(&AttributeDef::new("a", t, ""), &input);
            let err = got.expect_err(&format!("{t:?} {input}"));
            assert!(err.starts_with("a: "), "{err}");
        }
    }

    #[test]
    fn validate_complex_values() {
        let user = user_schema();
        let name = attr(&user, "name");
        let got = validate_value(name, &json!({"GivenName": "Ann", "x-custom": 1}));
        assert_eq!(got, Ok(json!({"givenName": "Ann", "x-custom": 1})));
        let err = validate_value(name, &json!({"givenName": true})).expect_err("bool name");
        assert!(err.starts_with("name.givenName: "), "{err}");
        let dup = validate_value(name, &json!({"givenName": "a", "givenname": "b"}));
        assert!(dup.is_err_and(|e| e.contains("more than once")));
        let ent = enterprise_user_schema();
        let manager = attr(&ent, "manager");
        assert_eq!(
            validate_value(manager, &json!("boss")),
            Ok(json!({"value": "boss"}))
        );
    }

    #[test]
    fn validate_multi_values() {
        let user = user_schema();
        let emails = attr(&user, "emails");
        let one = validate_multi(emails, &json!({"value": "a@x", "primary": "True"}));
        assert_eq!(one, Ok(json!([{"value": "a@x", "primary": true}])));
        let two = json!([{"value": "a@x", "primary": true}, {"value": "b", "primary": "true"}]);
        let err = validate_multi(emails, &two).expect_err("two primaries");
        assert!(
            err.starts_with("emails: ") && err.contains("primary"),
            "{err}"
        );
        let fine = json!([{"value": "a", "primary": true}, {"value": "b", "primary": false}, null]);
        let count = validate_multi(emails, &fine).map(|v| v.as_array().map(Vec::len));
        assert_eq!(count, Ok(Some(2)));
        assert_eq!(validate_multi(emails, &Value::Null), Ok(Value::Null));
        let err = validate_multi(emails, &json!([{"value": "a", "type": true}])).expect_err("type");
        assert!(err.starts_with("emails.type: "), "{err}");
        let display = attr(&user, "displayName");
        assert!(validate_multi(display, &json!(["x"])).is_err());
        assert_eq!(validate_attribute(display, &json!("x")), Ok(json!("x")));
        let roles = attr(&user, "roles");
        assert_eq!(
            validate_attribute(roles, &json!("admin")),
            Ok(json!([{"value": "admin"}]))
        );
    }
}
