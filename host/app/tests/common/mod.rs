//! What the process tests share: a scratch directory and database, and the
//! `rollcall` binary run against them with a clean environment plus the
//! settings a test adds ([`Env::with`]).

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::process::{Command, Output};

use rollcall_tests::{Backend, TestDatabase};
use serde_json::Value;

/// The master key every process test runs with (base64 of 32 bytes).
pub const MASTER_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

pub struct Env {
    pub dir: tempfile::TempDir,
    pub db: TestDatabase,
    settings: Vec<(&'static str, String)>,
}

impl Env {
    pub async fn new(backend: Backend) -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
            db: TestDatabase::new(backend).await,
            settings: Vec::new(),
        }
    }

    /// Adds an environment variable to every command.
    pub fn with(mut self, name: &'static str, value: &str) -> Env {
        self.settings.push((name, value.to_owned()));
        self
    }

    /// `rollcall` in the scratch directory, on the scratch database.
    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rollcall"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("ROLLCALL_DATA_DIR", self.dir.path().join("data"))
            .env("ROLLCALL_DATABASE_URL", &self.db.url)
            .env("ROLLCALL_MASTER_KEY", MASTER_KEY)
            .current_dir(self.dir.path());
        for (name, value) in &self.settings {
            c.env(name, value);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run rollcall")
    }

    /// Runs with `--json` (which must succeed) and parses each stdout line.
    pub fn json_lines(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
            .collect()
    }

    /// The last line of [`Env::json_lines`] (`null` when there is none).
    pub fn json(&self, args: &[&str]) -> Value {
        self.json_lines(args).pop().unwrap_or(Value::Null)
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
