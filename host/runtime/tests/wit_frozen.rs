//! Released WIT versions are frozen: the digest of every `wit/vX.Y.Z/`
//! folder must match the one recorded in `wit/FROZEN`, and every folder
//! must be recorded there.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

fn wit_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../wit")
}

fn digest_of(version_dir: &std::path::Path) -> String {
    let mut names: Vec<_> = std::fs::read_dir(version_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut hasher = Sha256::new();
    for name in names {
        let data = std::fs::read(version_dir.join(&name)).unwrap();
        hasher.update(name.as_bytes());
        hasher.update(b"\n");
        hasher.update(&data);
        hasher.update(b"\n");
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn released_wit_versions_are_unchanged() {
    let frozen = std::fs::read_to_string(wit_dir().join("FROZEN")).unwrap();
    let recorded: Vec<(String, String)> = frozen
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (v, d) = l.split_once(' ').expect("VERSION DIGEST");
            (v.to_owned(), d.trim().to_owned())
        })
        .collect();
    assert!(!recorded.is_empty());
    for (version, expected) in &recorded {
        let actual = digest_of(&wit_dir().join(format!("v{version}")));
        assert_eq!(
            &actual, expected,
            "wit/v{version} changed after release; released WIT is frozen — put changes in a new version folder"
        );
    }
    for entry in std::fs::read_dir(wit_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(version) = name.strip_prefix('v') {
            assert!(
                recorded.iter().any(|(v, _)| v == version),
                "wit/{name} is not recorded in wit/FROZEN"
            );
        }
    }
}

#[test]
fn the_runtime_supports_every_released_version() {
    let frozen = std::fs::read_to_string(wit_dir().join("FROZEN")).unwrap();
    for line in frozen
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let version = line.split(' ').next().unwrap();
        assert!(
            rollcall_runtime::manifest::SUPPORTED_WIT_VERSIONS.contains(&version),
            "released WIT {version} is no longer supported by the host"
        );
    }
}
