//! # rollcall-plugin-sdk
//!
//! Write Rollcall plugins in Rust. A plugin is a WebAssembly component
//! (`cargo build --release --target wasm32-wasip2`) that implements one
//! of two worlds of the `rollcall:plugin@0.1.0` WIT contract:
//!
//! - a **connector** reads a provider's directory: implement [`Connector`]
//!   and call [`export_connector!`];
//! - a **lifecycle action** acts on events: implement [`LifecycleAction`]
//!   and call [`export_lifecycle!`].
//!
//! Both macros also embed the crate's `plugin.toml` into the component, so
//! `rollcall plugin install target/wasm32-wasip2/release/x.wasm` needs no
//! other file.
//!
//! ```
//! use rollcall_plugin_sdk::*;
//!
//! struct Static;
//!
//! impl Connector for Static {
//!     fn describe() -> PluginInfo {
//!         PluginInfo::new("static", "0.1.0", "Two fixed users")
//!     }
//!
//!     fn list_users(_page: PageRequest) -> Result<Page<User>, PluginError> {
//!         Ok(Page::last(vec![User::new("1").email("a@example.com"), User::new("2")]))
//!     }
//! }
//! // In the plugin crate: export_connector!(Static);
//! assert_eq!(Static::list_users(PageRequest::default()).unwrap().items.len(), 2);
//! assert!(Static::list_groups(PageRequest::default()).unwrap().items.is_empty());
//! ```
//!
//! Host services: [`log`], [`config`], [`secrets`], [`state`], [`http`]
//! and, for connectors, [`ldap`].
//! With the `testing` feature they are backed by native fakes
//! ([`testing`]) so plugin unit tests run with plain `cargo test`.

#[doc(hidden)]
pub mod bindings;
mod host;
pub mod http;
pub mod ldap;
mod types;

#[cfg(target_arch = "wasm32")]
#[path = "backend_wasm.rs"]
mod backend;
#[cfg(all(not(target_arch = "wasm32"), feature = "testing"))]
pub mod testing;
#[cfg(all(not(target_arch = "wasm32"), feature = "testing"))]
use testing as backend;
#[cfg(all(not(target_arch = "wasm32"), not(feature = "testing")))]
#[path = "backend_none.rs"]
mod backend;

pub use host::{Level, config, log, secrets, state};
pub use types::{
    Change, ChangePage, Event, Group, Membership, Outcome, Page, PageRequest, PluginError,
    PluginInfo, User, UserState,
};

/// A directory connector. Only [`describe`](Connector::describe) and
/// [`list_users`](Connector::list_users) are required; the rest default to
/// "nothing" (no groups, no incremental sync, the host's SCIM mapping).
pub trait Connector {
    /// Who the plugin is (usually the same as `plugin.toml`).
    fn describe() -> PluginInfo;

    /// Checks config and credentials; may call the provider.
    fn validate_config() -> Result<(), PluginError> {
        Ok(())
    }

    /// One page of users.
    fn list_users(page: PageRequest) -> Result<Page<User>, PluginError>;

    /// One page of groups.
    fn list_groups(_page: PageRequest) -> Result<Page<Group>, PluginError> {
        Ok(Page::empty())
    }

    /// One page of a group's members.
    fn list_members(
        _group_idp_id: &str,
        _page: PageRequest,
    ) -> Result<Page<Membership>, PluginError> {
        Ok(Page::empty())
    }

    /// Changes since `checkpoint`. The default says the connector has no
    /// incremental mode, so the host always runs full passes.
    fn changes(_checkpoint: Option<&str>) -> Result<ChangePage, PluginError> {
        Err(PluginError::permanent(
            "this connector has no incremental sync",
        ))
    }

    /// Maps a pushed SCIM User; `None` keeps the host's default mapping.
    fn map_scim_user(_resource: &serde_json::Value) -> Result<Option<User>, PluginError> {
        Ok(None)
    }

    /// Maps a pushed SCIM Group; `None` keeps the host's default mapping.
    fn map_scim_group(_resource: &serde_json::Value) -> Result<Option<Group>, PluginError> {
        Ok(None)
    }
}

/// A lifecycle action, run once per event (at least once: use
/// [`Event::idempotency_key`] to dedupe).
pub trait LifecycleAction {
    fn describe() -> PluginInfo;

    fn validate_config() -> Result<(), PluginError> {
        Ok(())
    }

    fn handle(event: Event) -> Result<Outcome, PluginError>;
}

/// Exports a [`Connector`] as this component's `connector` world and
/// embeds `plugin.toml` (next to `Cargo.toml`) into the component.
#[macro_export]
macro_rules! export_connector {
    ($ty:ty) => {
        // Exports exist only in the component; native builds (unit tests)
        // use the trait directly.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __RollcallConnector;
            impl $crate::__private::SourceGuest for __RollcallConnector {
                fn describe() -> $crate::__private::wit::PluginInfo {
                    <$ty as $crate::Connector>::describe().into()
                }
                fn validate_config() -> Result<(), $crate::__private::wit::PluginError> {
                    <$ty as $crate::Connector>::validate_config().map_err(Into::into)
                }
                fn list_users(page: $crate::__private::wit::PageRequest) -> Result<$crate::__private::wit::UserPage, $crate::__private::wit::PluginError> {
                    $crate::__private::user_page(<$ty as $crate::Connector>::list_users(page.into()))
                }
                fn list_groups(page: $crate::__private::wit::PageRequest) -> Result<$crate::__private::wit::GroupPage, $crate::__private::wit::PluginError> {
                    $crate::__private::group_page(<$ty as $crate::Connector>::list_groups(page.into()))
                }
                fn list_members(group: String, page: $crate::__private::wit::PageRequest) -> Result<$crate::__private::wit::MemberPage, $crate::__private::wit::PluginError> {
                    $crate::__private::member_page(<$ty as $crate::Connector>::list_members(&group, page.into()))
                }
                fn changes(checkpoint: Option<String>) -> Result<$crate::__private::wit::ChangePage, $crate::__private::wit::PluginError> {
                    $crate::__private::change_page(<$ty as $crate::Connector>::changes(checkpoint.as_deref()))
                }
                fn map_scim_user(resource: String) -> Result<Option<$crate::__private::wit::User>, $crate::__private::wit::PluginError> {
                    $crate::__private::map_user(&resource, <$ty as $crate::Connector>::map_scim_user)
                }
                fn map_scim_group(resource: String) -> Result<Option<$crate::__private::wit::Group>, $crate::__private::wit::PluginError> {
                    $crate::__private::map_group(&resource, <$ty as $crate::Connector>::map_scim_group)
                }
            }
            $crate::__export_connector_impl!(__RollcallConnector with_types_in $crate::__private::bindings::connector);
            $crate::__embed_manifest!();
        };
    };
}

/// Exports a [`LifecycleAction`] as this component's `lifecycle` world and
/// embeds `plugin.toml` (next to `Cargo.toml`) into the component.
#[macro_export]
macro_rules! export_lifecycle {
    ($ty:ty) => {
        // Exports exist only in the component; native builds (unit tests)
        // use the trait directly.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __RollcallAction;
            impl $crate::__private::ActionGuest for __RollcallAction {
                fn describe() -> $crate::__private::wit::PluginInfo {
                    <$ty as $crate::LifecycleAction>::describe().into()
                }
                fn validate_config() -> Result<(), $crate::__private::wit::PluginError> {
                    <$ty as $crate::LifecycleAction>::validate_config().map_err(Into::into)
                }
                fn handle(event: $crate::__private::wit::Event) -> Result<$crate::__private::wit::Outcome, $crate::__private::wit::PluginError> {
                    <$ty as $crate::LifecycleAction>::handle(event.into()).map(Into::into).map_err(Into::into)
                }
            }
            $crate::__export_lifecycle_impl!(__RollcallAction with_types_in $crate::__private::bindings::lifecycle);
            $crate::__embed_manifest!();
        };
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __embed_manifest {
    () => {
        #[cfg(target_arch = "wasm32")]
        #[unsafe(link_section = "rollcall-plugin-manifest")]
        #[used]
        static __ROLLCALL_PLUGIN_MANIFEST: [u8; include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/plugin.toml"
        ))
        .len()] = *include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/plugin.toml"));
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings;
    pub use crate::bindings::connector::exports::rollcall::plugin::source::Guest as SourceGuest;
    pub use crate::bindings::lifecycle::exports::rollcall::plugin::action::Guest as ActionGuest;
    pub use crate::bindings::wit;

    use crate::{ChangePage, Group, Membership, Page, PluginError, User};

    type WitResult<T> = Result<T, wit::PluginError>;

    pub fn user_page(r: Result<Page<User>, PluginError>) -> WitResult<wit::UserPage> {
        let p = r?;
        Ok(wit::UserPage {
            users: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        })
    }

    pub fn group_page(r: Result<Page<Group>, PluginError>) -> WitResult<wit::GroupPage> {
        let p = r?;
        Ok(wit::GroupPage {
            groups: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        })
    }

    pub fn member_page(r: Result<Page<Membership>, PluginError>) -> WitResult<wit::MemberPage> {
        let p = r?;
        Ok(wit::MemberPage {
            members: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        })
    }

    pub fn change_page(r: Result<ChangePage, PluginError>) -> WitResult<wit::ChangePage> {
        let p = r?;
        Ok(wit::ChangePage {
            changes: p.changes.into_iter().map(Into::into).collect(),
            checkpoint: p.checkpoint,
            has_more: p.has_more,
        })
    }

    fn parse(resource: &str) -> Result<serde_json::Value, PluginError> {
        serde_json::from_str(resource)
            .map_err(|e| PluginError::permanent(format!("SCIM resource is not JSON: {e}")))
    }

    pub fn map_user(
        resource: &str,
        f: fn(&serde_json::Value) -> Result<Option<User>, PluginError>,
    ) -> WitResult<Option<wit::User>> {
        Ok(f(&parse(resource)?)?.map(Into::into))
    }

    pub fn map_group(
        resource: &str,
        f: fn(&serde_json::Value) -> Result<Option<Group>, PluginError>,
    ) -> WitResult<Option<wit::Group>> {
        Ok(f(&parse(resource)?)?.map(Into::into))
    }
}
