//! Rollcall's pure core: the directory-sync domain model and the logic that
//! needs no IO.
//!
//! Everything here takes values and returns values. Storage (`rollcall-store`),
//! HTTP (`rollcall-api`) and the binary (`rollcall`) build on these types; none
//! of them is known here.

pub mod diff;
pub mod directory;
pub mod directory_group;
pub mod directory_user;
pub mod event;
pub mod ids;
pub mod organization;
pub mod scim;
pub mod sealed;
pub mod sync_settings;
pub mod time;
pub mod token;
pub mod webhook;

pub use time::Timestamp;
