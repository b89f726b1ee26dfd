//! Follows `docs/plugins/quickstart.md` step by step with the real binary:
//! scaffold a connector, test it natively, build the component, install it,
//! dry-run it. Also checks that install refuses a non-component with a
//! clear message and a non-zero exit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rollcall(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rollcall"))
        .args(args)
        .env("ROLLCALL_DATA_DIR", data)
        .env_remove("ROLLCALL_DATABASE_URL")
        .output()
        .expect("run rollcall")
}

fn cargo(dir: &Path, target_dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir);
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
    ] {
        command.env_remove(var);
    }
    command.output().expect("run cargo")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_quickstart_takes_a_newcomer_to_a_running_connector() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let sdk = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../plugin-sdk");
    // Shared with other runs so dependencies build once.
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("quickstart-target");

    // 1. Create the crate.
    let dir = work.path().to_str().unwrap();
    let out = rollcall(
        &data,
        &[
            "plugin",
            "new",
            "acme-directory",
            "--kind",
            "connector",
            "--dir",
            dir,
            "--sdk",
            sdk.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Created connector plugin acme-directory"));
    let crate_dir = work.path().join("acme-directory");
    for file in ["Cargo.toml", "plugin.toml", "src/lib.rs"] {
        assert!(crate_dir.join(file).exists(), "{file}");
    }

    // 2. Test it natively.
    let out = cargo(&crate_dir, &target, &["test"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("test tests::pages_through_configured_users ... ok"),
        "{}",
        text(&out)
    );

    // 3. Build the component.
    let out = cargo(
        &crate_dir,
        &target,
        &["build", "--release", "--target", "wasm32-wasip2"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let wasm = target.join("wasm32-wasip2/release/acme_directory.wasm");
    assert!(wasm.exists());

    // 4. Install it.
    let out = rollcall(&data, &["plugin", "install", wasm.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("Installed acme-directory@0.1.0 (connector"),
        "{}",
        text(&out)
    );
    let out = rollcall(&data, &["plugin", "list"]);
    assert!(text(&out).contains("acme-directory"), "{}", text(&out));

    // 5. Run it.
    let out = rollcall(
        &data,
        &[
            "--json",
            "plugin",
            "run",
            "acme-directory@0.1.0",
            "--config-json",
            r#"{"users": ["ada@example.com", "grace@example.com"]}"#,
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let emails: Vec<&str> = result["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["ada@example.com", "grace@example.com"]);

    // Bad config is refused with the schema's message.
    let out = rollcall(
        &data,
        &[
            "plugin",
            "run",
            "acme-directory@0.1.0",
            "--config-json",
            r#"{"users": 3}"#,
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out)
            .contains("config does not match the plugin's schema: config.users: expected array"),
        "{}",
        text(&out)
    );
}

#[test]
fn installing_something_that_is_not_a_component_fails_clearly() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let bogus = work.path().join("bogus.wasm");
    std::fs::write(&bogus, b"\0asm\x01\0\0\0").unwrap();
    let out = rollcall(&data, &["plugin", "install", bogus.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: not a component: this is a core wasm module; build with --target wasm32-wasip2 to get a component"
    );
    let out = rollcall(&data, &["plugin", "new", "Bad Name"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("plugin name 'Bad Name' must be 1 to 64 characters"),
        "{}",
        text(&out)
    );
}
