//! `rollcall plugin …`: install, list, inspect and remove plugins, dry-run
//! one, and scaffold a new plugin crate. The checks are the runtime's
//! registry, the same the API uses.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use rollcall_runtime::registry::{self, InstallationUpdate, RegistryError};
use rollcall_runtime::{
    InvocationContext, LifecycleEvent, Manifest, MemoryState, PluginKind, Runtime, RuntimeConfig,
};
use rollcall_store::ExecutionState;
use rollcall_store::Store;
use serde_json::{Value, json};

use crate::cli::PluginCommand;
use crate::config::Config;
use crate::output::Output;
use crate::plugin_scaffold;

/// The runtime for this process: the platform policy the configuration
/// read from `ROLLCALL_PLUGIN_*`, compiled components cached in
/// `<data_dir>/plugin-cache`.
pub fn runtime(config: &Config) -> Result<Runtime> {
    Runtime::new(RuntimeConfig {
        policy: config.plugin_policy.clone(),
        cache_dir: Some(config.data_dir.join("plugin-cache")),
    })
}

fn registry_error(e: RegistryError) -> anyhow::Error {
    anyhow!("{e}")
}

pub async fn plugin(
    store: &Store,
    config: &Config,
    out: Output,
    command: PluginCommand,
) -> Result<()> {
    if let PluginCommand::New {
        name,
        kind,
        dir,
        sdk,
    } = command
    {
        return new_plugin(out, &name, &kind, dir, sdk);
    }
    let runtime = runtime(config)?;
    registry::install_builtins(&runtime, store)
        .await
        .map_err(registry_error)?;
    match command {
        PluginCommand::Install { path, manifest } => {
            let wasm =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let manifest = match &manifest {
                Some(p) => Some(
                    std::fs::read_to_string(p)
                        .with_context(|| format!("cannot read {}", p.display()))?,
                ),
                None => None,
            };
            let (plugin, created) =
                registry::install(&runtime, store, &wasm, manifest.as_deref(), "upload")
                    .await
                    .map_err(registry_error)?;
            out.item(&plugin, || {
                let verb = if created {
                    "Installed"
                } else {
                    "Already installed:"
                };
                format!(
                    "{verb} {}@{} ({}, {})\n  digest {}",
                    plugin.plugin_id, plugin.version, plugin.kind, plugin.id, plugin.digest
                )
            });
        }
        PluginCommand::List => {
            let plugins = store.list_plugins().await?;
            out.table(
                &plugins,
                &["id", "plugin", "version", "kind", "source", "digest"],
                |p| {
                    vec![
                        p.id.clone(),
                        p.plugin_id.clone(),
                        p.version.clone(),
                        p.kind.clone(),
                        p.source.clone(),
                        p.digest[..19].to_owned(),
                    ]
                },
            );
        }
        PluginCommand::Inspect { plugin } => {
            let p = store
                .get_plugin(&plugin)
                .await?
                .ok_or_else(|| anyhow!("plugin '{plugin}' not found"))?;
            out.item(&p, || serde_json::to_string_pretty(&p).unwrap_or_default());
        }
        PluginCommand::Remove { plugin } => {
            let found = store
                .get_plugin(&plugin)
                .await?
                .ok_or_else(|| anyhow!("plugin '{plugin}' not found"))?;
            if found.source == "builtin" {
                bail!(
                    "{}@{} is built in and cannot be removed",
                    found.plugin_id,
                    found.version
                );
            }
            let removed = store.delete_plugin(&plugin).await?;
            out.item(&json!({"id": removed.id, "deleted": true}), || {
                format!(
                    "Removed {}@{} ({})",
                    removed.plugin_id, removed.version, removed.digest
                )
            });
        }
        PluginCommand::Run {
            plugin,
            config_json: cfg,
            grant_hosts,
            event,
        } => {
            run_plugin(
                &runtime,
                store,
                out,
                &plugin,
                cfg.as_deref(),
                grant_hosts,
                event.as_deref(),
            )
            .await?;
        }
        PluginCommand::Update {
            installation,
            plugin,
            config_json,
            grants_json,
            secrets,
            remove_secrets,
            credentials,
            remove_credentials,
            enable,
            disable,
            events,
            all_events,
        } => {
            let events = if all_events {
                Some(Vec::new())
            } else if events.is_empty() {
                None
            } else {
                Some(crate::webhook_commands::event_types(&events)?)
            };
            let update = InstallationUpdate {
                plugin,
                config: config_json
                    .map(|t| json_object("--config-json", &t))
                    .transpose()?,
                grants: grants_json
                    .map(|t| {
                        serde_json::from_value(parse_json("--grants-json", &t)?)
                            .map_err(|e| anyhow!("--grants-json: {e}"))
                    })
                    .transpose()?,
                secrets: assignments("--secret", &secrets, &remove_secrets, |v| {
                    Ok(Value::String(v))
                })?,
                credentials: assignments("--credential", &credentials, &remove_credentials, |v| {
                    parse_json("--credential", &v)
                })?,
                enabled: (enable || disable).then_some(enable),
                events,
            };
            let current = store
                .get_plugin_installation(&installation)
                .await?
                .ok_or_else(|| anyhow!("plugin installation '{installation}' not found"))?;
            let updated = registry::update_installation(store, &current, update)
                .await
                .map_err(registry_error)?;
            out.item(&updated, || {
                format!(
                    "Updated {} ({}@{}, {})\n  secrets: {}\n  credentials: {}",
                    updated.id,
                    updated.plugin_id,
                    &updated.plugin_digest[..19],
                    if updated.enabled {
                        "enabled"
                    } else {
                        "disabled"
                    },
                    list_or_none(&updated.secret_names),
                    list_or_none(&updated.credential_names),
                )
            });
        }
        PluginCommand::Bind {
            plugin,
            organization_id,
            directory_id,
            config_json,
            grant_hosts,
            secrets,
            credentials,
            events,
        } => {
            let installation = registry::create_installation(
                store,
                registry::InstallationRequest {
                    plugin,
                    organization_id,
                    directory_id,
                    config: config_json
                        .map(|t| json_object("--config-json", &t))
                        .transpose()?
                        .unwrap_or_default(),
                    grants: registry::Grants {
                        hosts: grant_hosts,
                        ..Default::default()
                    },
                    secrets: assignments("--secret", &secrets, &[], |v| Ok(Value::String(v)))?,
                    credentials: assignments("--credential", &credentials, &[], |v| {
                        parse_json("--credential", &v)
                    })?,
                    events: crate::webhook_commands::event_types(&events)?,
                },
            )
            .await
            .map_err(|e| anyhow!("{e}"))?;
            out.item(&installation, || {
                format!(
                    "Bound {} to {} as {}",
                    installation.plugin_id, installation.organization_id, installation.id
                )
            });
        }
        PluginCommand::Installations { organization_id } => {
            let list = store
                .list_plugin_installations(organization_id.as_deref(), None)
                .await?;
            out.table(
                &list,
                &[
                    "id",
                    "plugin",
                    "kind",
                    "organization",
                    "directory",
                    "enabled",
                    "events",
                ],
                |i| {
                    vec![
                        i.id.clone(),
                        i.plugin_id.clone(),
                        i.kind.clone(),
                        i.organization_id.clone(),
                        i.directory_id.clone().unwrap_or_else(|| "-".into()),
                        i.enabled.to_string(),
                        if i.events.is_empty() {
                            "*".into()
                        } else {
                            i.events
                                .iter()
                                .map(|e| e.as_str())
                                .collect::<Vec<_>>()
                                .join(",")
                        },
                    ]
                },
            );
        }
        PluginCommand::Unbind { installation } => {
            store.delete_plugin_installation(&installation).await?;
            out.item(&json!({"id": installation, "deleted": true}), || {
                format!("Removed installation {installation}")
            });
        }
        PluginCommand::Executions {
            installation,
            state,
            limit,
        } => {
            if store
                .get_plugin_installation(&installation)
                .await?
                .is_none()
            {
                return Err(anyhow!("plugin installation {installation} not found"));
            }
            let state = state
                .map(|s| {
                    ExecutionState::parse(&s).ok_or_else(|| {
                        anyhow!("--state must be pending, completed, skipped or dead")
                    })
                })
                .transpose()?;
            if !(1..=rollcall_store::MAX_LIMIT).contains(&limit) {
                return Err(anyhow!(
                    "--limit must be 1 to {}",
                    rollcall_store::MAX_LIMIT
                ));
            }
            let page = store
                .list_lifecycle_executions(
                    &installation,
                    state,
                    &rollcall_store::PageRequest {
                        limit,
                        ..Default::default()
                    },
                )
                .await?;
            out.table(
                &page.data,
                &["event", "type", "subject", "state", "attempts", "detail"],
                |e| {
                    vec![
                        e.event_id.clone(),
                        e.event.as_str().to_owned(),
                        e.subject.clone(),
                        e.state.as_str().to_owned(),
                        e.attempts.to_string(),
                        e.last_error
                            .clone()
                            .or_else(|| e.detail.clone())
                            .unwrap_or_else(|| "-".into()),
                    ]
                },
            );
        }
        PluginCommand::Retry {
            installation,
            event_id,
        } => {
            let e = store
                .retry_lifecycle_execution(&installation, &event_id)
                .await?;
            out.item(&e, || {
                format!("Scheduled {event_id} to run again through {installation}")
            });
        }
        PluginCommand::Replay {
            installation,
            from_event_id,
        } => {
            let n = store
                .replay_lifecycle_events(&installation, &from_event_id)
                .await?;
            out.item(&serde_json::json!({"scheduled": n}), || {
                format!("Scheduled {n} events to run again through {installation}")
            });
        }
        PluginCommand::New { .. } => unreachable!("handled above"),
    }
    Ok(())
}

fn parse_json(what: &str, text: &str) -> Result<Value> {
    serde_json::from_str(text).with_context(|| format!("{what} is not valid JSON"))
}

fn json_object(what: &str, text: &str) -> Result<serde_json::Map<String, Value>> {
    match parse_json(what, text)? {
        Value::Object(map) => Ok(map),
        _ => bail!("{what} must be a JSON object"),
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// `NAME=VALUE` / `NAME=@FILE` settings and `NAME` removals as one map of
/// changes (`null` removes).
fn assignments(
    flag: &str,
    set: &[String],
    remove: &[String],
    value: impl Fn(String) -> Result<Value>,
) -> Result<serde_json::Map<String, Value>> {
    let mut out = serde_json::Map::new();
    for item in set {
        let (name, raw) = item
            .split_once('=')
            .filter(|(n, _)| !n.trim().is_empty())
            .ok_or_else(|| anyhow!("{flag} expects NAME=VALUE, got '{item}'"))?;
        let raw = match raw.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("{flag} {name}: cannot read {path}"))?
                .trim_end_matches(['\r', '\n'])
                .to_owned(),
            None => raw.to_owned(),
        };
        out.insert(name.trim().to_owned(), value(raw)?);
    }
    for name in remove {
        if out.contains_key(name) {
            bail!("{flag} {name}: both set and removed");
        }
        out.insert(name.clone(), Value::Null);
    }
    Ok(out)
}

/// A dry run with in-memory state: a connector lists its first pages, a
/// lifecycle action handles one event.
async fn run_plugin(
    runtime: &Runtime,
    store: &Store,
    out: Output,
    key: &str,
    config: Option<&str>,
    grant_hosts: Vec<String>,
    event: Option<&str>,
) -> Result<()> {
    let plugin = store
        .get_plugin(key)
        .await?
        .ok_or_else(|| anyhow!("plugin '{key}' not found"))?;
    let manifest: Manifest = registry::stored_manifest(&plugin).map_err(registry_error)?;
    let config = parse_json("--config-json", config.unwrap_or("{}"))?;
    let Value::Object(config) = config else {
        bail!("--config-json must be a JSON object")
    };
    rollcall_runtime::schema::validate(&manifest.schema(), &Value::Object(config.clone()))
        .map_err(|errors| {
            anyhow!(
                "config does not match the plugin's schema: {}",
                errors.join("; ")
            )
        })?;
    let loaded = runtime.load(&store.plugin_wasm(&plugin.digest).await?)?;
    let ctx = InvocationContext {
        installation_id: "plugin_installation_dry_run".into(),
        organization_id: "org_dry_run".into(),
        directory_id: None,
        manifest: Arc::new(manifest.clone()),
        granted_hosts: grant_hosts,
        grant_limits: Default::default(),
        config,
        secrets: Default::default(),
        credentials: Default::default(),
        state: Arc::new(MemoryState::default()),
    };
    let result = match manifest.kind {
        PluginKind::Connector => {
            let mut c = runtime.connector(&loaded, ctx).await?;
            c.validate_config().await?;
            let users = c.list_users(None, 100).await?;
            let groups = c.list_groups(None, 100).await?;
            json!({
                "plugin": plugin.plugin_id,
                "users": users.items.iter().map(|u| json!({"idp_id": u.idp_id, "email": u.email, "state": u.state})).collect::<Vec<_>>(),
                "more_users": users.next_cursor.is_some(),
                "groups": groups.items.iter().map(|g| json!({"idp_id": g.idp_id, "name": g.name})).collect::<Vec<_>>(),
                "notes": c.notes(),
            })
        }
        PluginKind::Lifecycle => {
            let data = parse_json(
                "--event",
                event.unwrap_or(r#"{"id":"directory_user_example","email":"ada@example.com"}"#),
            )?;
            let event = LifecycleEvent {
                id: "event_dry_run".into(),
                event_type: "dsync.user.created".into(),
                organization_id: "org_dry_run".into(),
                directory_id: None,
                created_at_micros: rollcall_core::Timestamp::now().as_micros(),
                data,
                previous_attributes: None,
                idempotency_key: "event_dry_run:plugin_installation_dry_run".into(),
                attempt: 1,
            };
            let mut a = runtime.lifecycle(&loaded, ctx).await?;
            a.validate_config().await?;
            let outcome = a.handle(&event).await?;
            json!({"plugin": plugin.plugin_id, "outcome": outcome, "notes": a.notes()})
        }
    };
    out.item(&result, || {
        serde_json::to_string_pretty(&result).unwrap_or_default()
    });
    Ok(())
}

fn new_plugin(
    out: Output,
    name: &str,
    kind: &str,
    dir: Option<PathBuf>,
    sdk: Option<PathBuf>,
) -> Result<()> {
    let kind = PluginKind::parse(kind)
        .ok_or_else(|| anyhow!("--kind must be connector or lifecycle, got '{kind}'"))?;
    if !rollcall_runtime::manifest::is_valid_plugin_id(name) {
        bail!(
            "plugin name '{name}' must be 1 to 64 characters of a-z, 0-9 and '-', starting with a letter"
        );
    }
    let target = dir.unwrap_or_else(|| PathBuf::from(".")).join(name);
    if target.exists() {
        bail!("{} already exists", target.display());
    }
    let sdk = match sdk {
        Some(p) => p,
        None => plugin_scaffold::default_sdk_path().ok_or_else(|| {
            anyhow!("cannot find rollcall-plugin-sdk; pass --sdk PATH/TO/rollcall/plugin-sdk")
        })?,
    };
    let sdk = std::fs::canonicalize(&sdk)
        .with_context(|| format!("SDK not found at {}", sdk.display()))?;
    if !sdk.join("Cargo.toml").exists() {
        bail!(
            "{} is not the rollcall-plugin-sdk crate (no Cargo.toml)",
            sdk.display()
        );
    }
    plugin_scaffold::write(&target, name, kind, &sdk)?;
    out.item(&json!({"created": target, "kind": kind.as_str()}), || {
        format!(
            "Created {kind} plugin {name} in {dir}\n\n  cd {dir}\n  cargo test\n  cargo build --release --target wasm32-wasip2\n  rollcall plugin install target/wasm32-wasip2/release/{file}.wasm",
            kind = kind.as_str(),
            dir = target.display(),
            file = name.replace('-', "_")
        )
    });
    Ok(())
}
