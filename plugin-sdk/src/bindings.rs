//! The generated `rollcall:plugin@0.1.0` guest bindings. Private: plugin
//! code uses the SDK's own types and traits, so a new WIT version changes
//! this module, not plugin source.

#![allow(missing_docs, clippy::all, unsafe_op_in_unsafe_fn)]

pub mod connector {
    wit_bindgen::generate!({
        world: "connector",
        path: "../wit/v0.1.0",
        pub_export_macro: true,
        export_macro_name: "export_connector_world",
        default_bindings_module: "rollcall_plugin_sdk::__private::bindings::connector",
    });
}

pub mod lifecycle {
    wit_bindgen::generate!({
        world: "lifecycle",
        path: "../wit/v0.1.0",
        pub_export_macro: true,
        export_macro_name: "export_lifecycle_world",
        default_bindings_module: "rollcall_plugin_sdk::__private::bindings::lifecycle",
        with: {
            "rollcall:plugin/types@0.1.0": crate::bindings::connector::rollcall::plugin::types,
            "rollcall:plugin/log@0.1.0": crate::bindings::connector::rollcall::plugin::log,
            "rollcall:plugin/config@0.1.0": crate::bindings::connector::rollcall::plugin::config,
            "rollcall:plugin/secrets@0.1.0": crate::bindings::connector::rollcall::plugin::secrets,
            "rollcall:plugin/state@0.1.0": crate::bindings::connector::rollcall::plugin::state,
        },
    });
}

pub use connector::rollcall::plugin::types as wit;
