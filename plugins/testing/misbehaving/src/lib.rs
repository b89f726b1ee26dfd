//! A purpose-built misbehaving lifecycle guest for the containment tests.
//! `event.data.behavior` picks what it does:
//!
//! - `ok`: completes, echoing `config.tag`;
//! - `loop`: spins forever;
//! - `alloc`: allocates 1 GiB;
//! - `http`: GETs `data.url` and reports status and body;
//! - `http-post`: POSTs `data.size` bytes to `data.url` (with a
//!   `Content-Length` header when `data.declare` is true) and reports
//!   status and body;
//! - `trap`: panics;
//! - `state-flood`: writes state keys until the host refuses;
//! - `log-flood`: writes 10,000 log lines;
//! - `secret`: reads secret `data.name`.

use rollcall_plugin_sdk::*;
use serde_json::Value;

pub struct Misbehaving;

fn text(event: &Event, key: &str) -> String {
    event
        .data
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl LifecycleAction for Misbehaving {
    fn describe() -> PluginInfo {
        PluginInfo::new("misbehaving", "0.1.0", "misbehaves on request")
    }

    fn handle(event: Event) -> Result<Outcome, PluginError> {
        match text(&event, "behavior").as_str() {
            "ok" => Ok(Outcome::Completed(
                config::get::<String>("tag")?.or(Some("ok".into())),
            )),
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let big = vec![1u8; 1 << 30];
                Ok(Outcome::Completed(Some(format!(
                    "allocated {}",
                    std::hint::black_box(big).len()
                ))))
            }
            "http" => {
                let r = http::get(&text(&event, "url")).send()?;
                Ok(Outcome::Completed(Some(format!(
                    "{} {}",
                    r.status,
                    r.text()
                ))))
            }
            "http-post" => {
                let size = event.data.get("size").and_then(Value::as_u64).unwrap_or(0) as usize;
                let mut request = http::post(&text(&event, "url"))
                    .header("content-type", "application/octet-stream");
                if event.data.get("declare").and_then(Value::as_bool) == Some(true) {
                    request = request.header("content-length", &size.to_string());
                }
                let r = request.body(vec![b'x'; size]).send()?;
                Ok(Outcome::Completed(Some(format!(
                    "{} {}",
                    r.status,
                    r.text()
                ))))
            }
            "trap" => panic!("misbehaving guest panicked on purpose"),
            "state-flood" => {
                let value = "x".repeat(1024);
                for i in 0.. {
                    state::set(&format!("key-{i}"), &value)?;
                }
                unreachable!()
            }
            "log-flood" => {
                for i in 0..10_000 {
                    log::info(&format!("line {i} {}", "y".repeat(5_000)));
                }
                Ok(Outcome::Completed(Some("logged".into())))
            }
            "secret" => Ok(Outcome::Completed(secrets::get(&text(&event, "name"))?)),
            other => Ok(Outcome::Skipped(format!("unknown behavior '{other}'"))),
        }
    }
}

export_lifecycle!(Misbehaving);
