//! Route modules, one per resource; each exposes `router()`.

pub mod admin_keys;
pub mod directories;
pub mod directory_groups;
pub mod directory_sync;
pub mod directory_tokens;
pub mod directory_users;
pub mod events;
pub mod health;
pub mod lifecycle_executions;
pub mod organizations;
pub mod plugins;
pub mod scim_admin;
pub mod webhook_endpoints;
