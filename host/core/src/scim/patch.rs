//! The SCIM PATCH engine (RFC 7644 §3.5.2), pure: parse a `PatchOp` body and
//! apply its operations to a stored resource, atomically.
//!
//! Input is expected after provider-dialect normalization
//! ([`super::dialect::Dialect::normalize_patch`]), but the engine is lenient on
//! its own: `op`/`path`/`value` keys and op names in any case, attribute names
//! in any case (written back with the schema's spelling), values coerced by the
//! schema (`"False"` → `false`). Where the RFC leaves room or real clients
//! stray from it, the choices are:
//!
//! - **Path-less values** may carry dotted keys (`"name.givenName"`),
//!   URN-qualified keys (`"urn:…:enterprise:2.0:User:department"`) and full
//!   value paths (`"emails[type eq \"work\"].value"`), each applied as if it
//!   were that operation's `path` (Entra ID). A key equal to an extension URN
//!   with an object value is that extension's attributes. `id`, `meta`,
//!   `schemas` and read-only attributes in a path-less value are ignored (RFC
//!   7643 §2.2); unknown attributes are `invalidPath` unless
//!   [`PatchOptions::ignore_unknown_attributes`], which drops them silently.
//!   Read-only sub-attributes inside complex values are dropped everywhere.
//! - **`add`** merges: multi-valued attributes get the new elements appended,
//!   skipping any already present (equal to, or contained in, an existing
//!   element); complex attributes get the given sub-attributes. A value filter
//!   on `add` (not in the RFC grammar) works like `replace` with that filter,
//!   except that when nothing matches and the filter is a conjunction of `eq`
//!   comparisons the element is created from them — there is nothing to miss
//!   when adding.
//! - **`replace`** without a filter sets the attribute; multi-valued
//!   attributes are replaced wholesale, complex single-valued ones only in the
//!   sub-attributes given (RFC 7644 §3.5.2.3). With a filter, matching
//!   elements (or their sub-attribute) are replaced; no match is `noTarget`
//!   unless [`PatchOptions::create_on_unmatched_filter`] (Entra ID) and the
//!   filter is a conjunction of `eq` comparisons, which creates the element.
//!   A sub-attribute path on a multi-valued attribute without a filter
//!   (`emails.type`) addresses every element.
//! - **`remove`** needs a path (`noTarget` otherwise). Removing what is not
//!   there, or a filter matching nothing, changes nothing and is no error.
//!   A `value` list on a multi-valued attribute removes the elements whose
//!   `value` equals one given, case-sensitively (Entra ID, OneLogin).
//! - `null` as a value means unassigned (RFC 7643 §2.5): `replace` with
//!   `null` removes, `add` with `null` does nothing. A one-element array given
//!   for a single-valued target is unwrapped.
//! - **Mutability**: read-only targets, changing an immutable value and
//!   removing a required attribute (`userName`, a Group's `displayName`) are
//!   `mutability` errors. When an operation sets `primary: true` on an
//!   element, the other elements' `primary` becomes `false` (RFC 7643 §2.4).
//! - Setting an extension attribute lists the extension URN in `schemas`;
//!   emptying the extension object removes it and the URN.
//!
//! Group `members` are kept out of the resource document by
//! [`split_member_ops`], which turns member operations into
//! [`MemberChange`]s for the store to apply without loading the member list.

use serde_json::Value;

use super::error::ScimError;
use super::patch_apply;
use super::path::PatchPath;
use super::schema::ResourceSchema;

pub use super::patch_members::{MemberChange, split_member_ops};
pub use super::patch_parse::parse_patch;

/// The PATCH request message schema URN (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Most operations accepted in one PATCH request; more is 400 `tooMany`.
pub const MAX_PATCH_OPERATIONS: usize = 1000;

/// A PATCH operation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOp {
    /// `add`: add or merge values.
    Add,
    /// `replace`: replace values.
    Replace,
    /// `remove`: remove values.
    Remove,
}

impl PatchOp {
    /// The operation for an `op` keyword, ignoring ASCII case (`Replace`, `ADD`).
    pub fn from_keyword(word: &str) -> Option<Self> {
        [PatchOp::Add, PatchOp::Replace, PatchOp::Remove]
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word.trim()))
    }

    /// The lowercase keyword, e.g. `"add"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOp::Add => "add",
            PatchOp::Replace => "replace",
            PatchOp::Remove => "remove",
        }
    }
}

/// One parsed PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// What to do.
    pub op: PatchOp,
    /// Where; `None` means the resource itself.
    pub path: Option<PatchPath>,
    /// The value; required for `add`/`replace`, optional for `remove`.
    pub value: Option<Value>,
}

/// Dialect switches for parsing and applying PATCH requests
/// (see [`super::dialect::Dialect::patch_options`]). The default is strict RFC behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchOptions {
    /// Reject a body whose `schemas` does not list [`PATCH_OP_SCHEMA`]
    /// (`invalidSyntax`). When false, a missing or incomplete `schemas` is accepted.
    pub require_patch_schema: bool,
    /// Drop attributes the schema does not define from path-less values
    /// instead of answering `invalidPath`. Explicit paths are always checked.
    pub ignore_unknown_attributes: bool,
    /// On `replace` with a value filter that matches nothing, create the
    /// element from the filter's `eq` comparisons instead of answering `noTarget`.
    pub create_on_unmatched_filter: bool,
}

impl Default for PatchOptions {
    fn default() -> Self {
        PatchOptions {
            require_patch_schema: true,
            ignore_unknown_attributes: false,
            create_on_unmatched_filter: false,
        }
    }
}

/// Applies all operations to `resource` (the stored SCIM resource as a JSON
/// object, without `meta`), atomically: on any error `resource` is untouched.
/// Returns whether anything changed.
pub fn apply_patch(
    resource: &mut Value,
    ops: &[PatchOperation],
    schema: &ResourceSchema,
    options: &PatchOptions,
) -> Result<bool, ScimError> {
    let Value::Object(original) = &*resource else {
        return Err(ScimError::invalid_value(
            "the resource is not a JSON object",
        ));
    };
    let mut working = original.clone();
    let mut session = patch_apply::Session::new(schema, options);
    for (index, op) in ops.iter().enumerate() {
        session
            .apply(&mut working, op)
            .map_err(|e| at_operation(e, index, ops.len()))?;
    }
    session.finish(&mut working);
    let changed = working != *original;
    *resource = Value::Object(working);
    Ok(changed)
}

/// Prefixes the error detail with the failing operation's index in
/// `Operations` when there is more than one.
fn at_operation(mut err: ScimError, index: usize, count: usize) -> ScimError {
    if count > 1 {
        err.detail = format!("Operations[{index}]: {}", err.detail);
    }
    err
}
