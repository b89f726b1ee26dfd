//! Plugins shipped inside the binary, built from `plugins/` by this
//! crate's build script.

/// One embedded plugin.
pub struct Builtin {
    /// The plugin id in its manifest.
    pub id: &'static str,
    /// The component.
    pub wasm: &'static [u8],
}

/// Every built-in plugin. Their manifests are embedded in the components.
pub const BUILTINS: &[Builtin] = &[
    Builtin {
        id: "static-directory",
        wasm: include_bytes!(concat!(env!("OUT_DIR"), "/static_directory.wasm")),
    },
    Builtin {
        id: "http-action",
        wasm: include_bytes!(concat!(env!("OUT_DIR"), "/http_action.wasm")),
    },
    Builtin {
        id: "ssh-key-revoker",
        wasm: include_bytes!(concat!(env!("OUT_DIR"), "/ssh_key_revoker.wasm")),
    },
    Builtin {
        id: "azure-graph",
        wasm: include_bytes!(concat!(env!("OUT_DIR"), "/azure_graph.wasm")),
    },
    Builtin {
        id: "okta-api",
        wasm: include_bytes!(concat!(env!("OUT_DIR"), "/okta_api.wasm")),
    },
    Builtin {
        id: "google-workspace",
        wasm: include_bytes!(concat!(env!("OUT_DIR"), "/google_workspace.wasm")),
    },
];

/// The built-in with this id.
pub fn builtin(id: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.id == id)
}

/// Test guests, for the containment tests (feature `test-guests`).
#[cfg(feature = "test-guests")]
pub mod test_guests {
    /// Misbehaves on request; see `plugins/testing/misbehaving`.
    pub const MISBEHAVING: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/misbehaving.wasm"));
    /// A connector over the `ldap` import; see `plugins/testing/ldap-directory`.
    pub const LDAP_DIRECTORY: &[u8] =
        include_bytes!(concat!(env!("OUT_DIR"), "/ldap_directory.wasm"));
}
