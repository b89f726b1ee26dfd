//! The SCIM 2.0 engine (RFC 7643 / RFC 7644), pure: attribute paths,
//! filters, schemas and their attribute characteristics.

pub mod dialect;
pub mod error;
pub mod filter;
pub mod mapping;
pub mod patch;
mod patch_apply;
mod patch_members;
mod patch_parse;
mod patch_target;
#[cfg(test)]
mod patch_tests;
mod patch_values;
pub mod path;
pub mod render;
pub mod resource;
pub mod schema;
pub mod schema_info;
pub mod v1;
