//! Builds the `plugins/` workspace (built-in plugins and test guests) for
//! `wasm32-wasip2` in release mode, with its own target directory so the
//! nested cargo never waits on the outer build's lock, and copies the
//! components into `OUT_DIR` for `include_bytes!`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Components the runtime embeds (crate names, `-` → `_`).
const COMPONENTS: &[&str] = &[
    "static_directory",
    "http_action",
    "ssh_key_revoker",
    "azure_graph",
    "okta_api",
    "google_workspace",
    "misbehaving",
    "ldap_directory",
];

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("../..");
    for dir in ["plugins", "plugin-sdk", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let target_dir = wasm_target_dir(&out_dir);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root.join("plugins"))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir);
    // Settings of the outer build must not leak into the plugin build.
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_MANIFEST_DIR",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build plugins/: {e}"));
    if !status.success() {
        panic!(
            "building plugins/ for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`); see the output above"
        );
    }
    for name in COMPONENTS {
        let built = target_dir
            .join("wasm32-wasip2/release")
            .join(format!("{name}.wasm"));
        std::fs::copy(&built, out_dir.join(format!("{name}.wasm")))
            .unwrap_or_else(|e| panic!("{} was not built: {e}", built.display()));
    }
}

/// `<outer target dir>/wasm-plugins`, shared by all profiles of the outer
/// build (found as the parent of the `build` folder above `OUT_DIR`).
fn wasm_target_dir(out_dir: &Path) -> PathBuf {
    let profile_dir = out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"))
        .and_then(Path::parent);
    match profile_dir.and_then(Path::parent) {
        Some(target) => target.join("wasm-plugins"),
        None => out_dir.join("wasm-plugins"),
    }
}
