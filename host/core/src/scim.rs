//! The SCIM 2.0 engine (RFC 7643 / RFC 7644), pure: attribute paths,
//! filters, schemas and their attribute characteristics.

pub mod error;
pub mod filter;
pub mod path;
pub mod schema;
