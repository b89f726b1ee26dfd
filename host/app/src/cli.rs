//! The command line: `rollcall [global flags] <command>`.

use std::path::PathBuf;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{Flags, SETTINGS};

#[derive(Debug, Parser)]
#[command(
    name = "rollcall",
    version,
    about = "Self-hostable directory sync: SCIM and provider APIs in, users, groups and events out."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// TOML configuration file (also ROLLCALL_CONFIG).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory for the embedded database (ROLLCALL_DATA_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<String>,
    /// Database URL, sqlite:… or postgres://… (ROLLCALL_DATABASE_URL).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Log filter (ROLLCALL_LOG_LEVEL).
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// auto, pretty, text or json (ROLLCALL_LOG_FORMAT).
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Print results as JSON, one object per line.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (migrates the database first).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage directories and their SCIM tokens.
    #[command(subcommand)]
    Directory(DirectoryCommand),
    /// Manage admin API keys.
    #[command(subcommand, name = "admin-key")]
    AdminKey(AdminKeyCommand),
    /// Install, list, inspect, remove, dry-run and scaffold plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Manage webhook endpoints and their deliveries.
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Read the event log.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Sync pull directories now, list their runs, show their sync state.
    #[command(subcommand)]
    Sync(SyncCommand),
}

#[derive(Debug, Subcommand)]
pub enum SyncCommand {
    /// Sync a pull directory now, with live progress (exit 1 if the run fails).
    Run {
        /// The directory id.
        directory: String,
        /// A full pass even if the connector could continue from its checkpoint.
        #[arg(long)]
        full: bool,
    },
    /// The directory's sync runs, newest first.
    Runs {
        directory: String,
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// The directory's schedule, checkpoint and whether it needs attention.
    Status { directory: String },
}

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Create an endpoint; prints its signing secret once.
    Create {
        /// Organization id (org_…).
        #[arg(long = "org", value_name = "ORG_ID")]
        organization_id: String,
        /// Where to POST events (https; http needs ROLLCALL_WEBHOOK_ALLOW_HTTP).
        #[arg(long)]
        url: String,
        /// Only these event types (repeatable; default every type).
        #[arg(long = "event", value_name = "TYPE")]
        events: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
        /// Events per request (1 to 100).
        #[arg(long)]
        batch_size: Option<u32>,
        /// Most requests per second.
        #[arg(long)]
        rate_limit: Option<u32>,
    },
    /// List endpoints.
    List {
        /// Only this organization's endpoints.
        #[arg(long = "org", value_name = "ORG_ID")]
        organization_id: Option<String>,
    },
    /// Show one endpoint.
    Show { id: String },
    /// Change an endpoint's URL, filter, description, batch size or rate limit.
    Update {
        id: String,
        #[arg(long)]
        url: Option<String>,
        /// Replace the filter with these types (repeatable).
        #[arg(long = "event", value_name = "TYPE")]
        events: Vec<String>,
        /// Deliver every event type (clears the filter).
        #[arg(long, conflicts_with = "events")]
        all_events: bool,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        batch_size: Option<u32>,
        /// Requests per second; 0 removes the limit.
        #[arg(long)]
        rate_limit: Option<u32>,
    },
    /// Stop sending to an endpoint.
    Disable { id: String },
    /// Send to an endpoint again (from now on; use replay for the gap).
    Enable { id: String },
    /// Issue a new signing secret; the old one keeps signing for the grace period.
    RotateSecret {
        id: String,
        /// Seconds the old secret keeps signing (default 0).
        #[arg(long, value_name = "SECONDS")]
        grace_period: Option<i64>,
    },
    /// Delete an endpoint and its delivery log.
    Delete { id: String },
    /// The delivery log, newest first.
    Deliveries {
        id: String,
        /// pending, delivered or dead.
        #[arg(long)]
        state: Option<String>,
        /// How many (1 to 100).
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Deliver one event again now.
    Redeliver { id: String, event_id: String },
    /// Deliver every wanted event from EVENT_ID on again.
    Replay { id: String, from_event_id: String },
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Print events in log order; with --follow, keep printing new ones.
    Tail {
        /// Only this organization's events.
        #[arg(long = "org", value_name = "ORG_ID")]
        organization_id: Option<String>,
        /// Only this directory's events.
        #[arg(long = "directory", value_name = "DIRECTORY_ID")]
        directory_id: Option<String>,
        /// Only these types (repeatable).
        #[arg(long = "event", value_name = "TYPE")]
        events: Vec<String>,
        /// Start after this event id (default: the last N events).
        #[arg(long)]
        after: Option<String>,
        /// How many recent events to show first.
        #[arg(short = 'n', long, default_value_t = 10)]
        lines: u32,
        /// Keep waiting for new events (Ctrl-C stops).
        #[arg(short, long)]
        follow: bool,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address, host:port (ROLLCALL_LISTEN).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Base URL clients reach this server at (ROLLCALL_PUBLIC_URL).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization.
    Create {
        /// Display name.
        name: String,
        /// A domain the organization owns (repeatable).
        #[arg(long = "domain", value_name = "DOMAIN")]
        domains: Vec<String>,
        /// Your application's id for this customer.
        #[arg(long)]
        external_id: Option<String>,
    },
    /// List organizations.
    List,
    /// Delete an organization with all its directories.
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// Create a directory; prints the SCIM URL and token for SCIM types.
    Create {
        /// Organization id (org_…).
        #[arg(long = "org", value_name = "ORG_ID")]
        organization_id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Provider type, e.g. okta-scim-v2, azure-scim-v2, generic-scim-v2.
        #[arg(long = "type", value_name = "TYPE")]
        directory_type: String,
        /// The customer's primary domain.
        #[arg(long)]
        domain: Option<String>,
    },
    /// List directories.
    List {
        /// Only this organization's directories.
        #[arg(long = "org", value_name = "ORG_ID")]
        organization_id: Option<String>,
    },
    /// Show one directory and its tokens.
    Show { id: String },
    /// Delete a directory with its users and groups (emits dsync.deleted).
    Delete { id: String },
    /// Manage the directory's SCIM bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a new token; old ones stop now or after the grace period.
    Rotate {
        directory_id: String,
        /// Seconds the old token keeps working (default 0).
        #[arg(long, value_name = "SECONDS")]
        grace_period: Option<i64>,
    },
    /// Revoke one token now.
    Revoke {
        directory_id: String,
        token_id: String,
    },
    /// List the directory's tokens.
    List { directory_id: String },
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Install a component (.wasm); its manifest is embedded by the SDK or given with --manifest.
    Install {
        path: PathBuf,
        /// plugin.toml to use instead of the embedded manifest.
        #[arg(long, value_name = "FILE")]
        manifest: Option<PathBuf>,
    },
    /// List installed plugins (built-ins included).
    List,
    /// Show one plugin: plugin_… id, sha256:… digest or id@version.
    Inspect { plugin: String },
    /// Remove a plugin no installation uses.
    Remove { plugin: String },
    /// Dry-run a plugin with in-memory state: a connector lists users and groups, a lifecycle action handles one event.
    Run {
        plugin: String,
        /// Config object as JSON (`--config` names the rollcall config file).
        #[arg(long = "config-json", value_name = "JSON")]
        config_json: Option<String>,
        /// Grant an outbound host (repeatable).
        #[arg(long = "grant-host", value_name = "HOST")]
        grant_hosts: Vec<String>,
        /// Event data as JSON (lifecycle plugins).
        #[arg(long, value_name = "JSON")]
        event: Option<String>,
    },
    /// Bind a plugin to an organization (an installation): config, grants, secrets, credentials, events.
    Bind {
        /// plugin_… id, sha256:… digest or id@version.
        plugin: String,
        /// Organization id (org_…).
        #[arg(long = "org", value_name = "ORG_ID")]
        organization_id: String,
        /// Only this directory (required for connectors).
        #[arg(long = "directory", value_name = "DIRECTORY_ID")]
        directory_id: Option<String>,
        /// Config object as JSON (checked against the plugin's schema).
        #[arg(long = "config-json", value_name = "JSON")]
        config_json: Option<String>,
        /// Grant an outbound host (repeatable; must be declared by the plugin).
        #[arg(long = "grant-host", value_name = "HOST")]
        grant_hosts: Vec<String>,
        /// Set a secret: NAME=VALUE, or NAME=@FILE (repeatable).
        #[arg(long = "secret", value_name = "NAME=VALUE")]
        secrets: Vec<String>,
        /// Set a credential slot: SLOT=JSON, or SLOT=@FILE (repeatable).
        #[arg(long = "credential", value_name = "SLOT=JSON")]
        credentials: Vec<String>,
        /// Lifecycle actions: run only on these event types (repeatable; default all).
        #[arg(long = "event", value_name = "TYPE")]
        events: Vec<String>,
    },
    /// List installations.
    Installations {
        /// Only this organization's.
        #[arg(long = "org", value_name = "ORG_ID")]
        organization_id: Option<String>,
    },
    /// Remove an installation with its state and execution log.
    Unbind { installation: String },
    /// Change an installation: plugin version, config, grants, secrets, credentials, enabled flag.
    Update {
        /// The installation id (plugin_installation_…).
        installation: String,
        /// Move to another version of the same plugin (id@version, sha256:… or plugin_…),
        /// keeping settings, secrets and state.
        #[arg(long, value_name = "PLUGIN")]
        plugin: Option<String>,
        /// Replace the config with this JSON object (checked against the plugin's schema).
        #[arg(long = "config-json", value_name = "JSON")]
        config_json: Option<String>,
        /// Replace the grants: {"hosts": [...], "limits": {...}}.
        #[arg(long = "grants-json", value_name = "JSON")]
        grants_json: Option<String>,
        /// Set a secret: NAME=VALUE, or NAME=@FILE to read it from a file (repeatable).
        #[arg(long = "secret", value_name = "NAME=VALUE")]
        secrets: Vec<String>,
        /// Remove a secret (repeatable).
        #[arg(long = "remove-secret", value_name = "NAME")]
        remove_secrets: Vec<String>,
        /// Set a credential slot: SLOT=JSON, or SLOT=@FILE (repeatable).
        #[arg(long = "credential", value_name = "SLOT=JSON")]
        credentials: Vec<String>,
        /// Remove a credential (repeatable).
        #[arg(long = "remove-credential", value_name = "SLOT")]
        remove_credentials: Vec<String>,
        /// Enable the installation.
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Disable the installation (settings and state are kept).
        #[arg(long)]
        disable: bool,
        /// Lifecycle actions: run only on these event types (repeatable).
        #[arg(long = "event", value_name = "TYPE")]
        events: Vec<String>,
        /// Lifecycle actions: run on every event type.
        #[arg(long, conflicts_with = "events")]
        all_events: bool,
    },
    /// A lifecycle installation's executions, newest first.
    Executions {
        installation: String,
        /// pending, completed, skipped or dead.
        #[arg(long)]
        state: Option<String>,
        /// How many (1 to 100).
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Run one event through a lifecycle installation again now.
    Retry {
        installation: String,
        event_id: String,
    },
    /// Run every wanted event from EVENT_ID on through a lifecycle installation again.
    Replay {
        installation: String,
        from_event_id: String,
    },
    /// Create a new plugin crate.
    New {
        name: String,
        /// connector or lifecycle.
        #[arg(long, default_value = "connector")]
        kind: String,
        /// Parent directory (default: current).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Path to rollcall-plugin-sdk (default: the one this binary was built from, or ROLLCALL_PLUGIN_SDK).
        #[arg(long, value_name = "PATH")]
        sdk: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminKeyCommand {
    /// Create an admin API key; prints the secret once.
    Create {
        #[arg(long)]
        name: String,
        /// Scope the key to one organization.
        #[arg(long = "org", value_name = "ORG_ID")]
        organization_id: Option<String>,
    },
    /// List admin keys.
    List,
    /// Revoke an admin key.
    Revoke { id: String },
}

impl Cli {
    /// The setting values given as flags.
    pub fn flags(&self) -> Flags {
        let mut flags = Flags::new();
        let g = &self.global;
        for (key, value) in [
            ("data_dir", &g.data_dir),
            ("database_url", &g.database_url),
            ("log_level", &g.log_level),
            ("log_format", &g.log_format),
        ] {
            if let Some(v) = value {
                flags.insert(key, v.clone());
            }
        }
        if let Command::Serve(serve) = &self.command {
            if let Some(v) = &serve.listen {
                flags.insert("listen", v.clone());
            }
            if let Some(v) = &serve.public_url {
                flags.insert("public_url", v.clone());
            }
        }
        flags
    }
}

/// Parses the command line; `--help` lists every setting and its variable.
pub fn parse() -> Cli {
    let mut help = String::from("Settings (flag > environment > config file > default):\n");
    for s in SETTINGS {
        help.push_str(&format!("  {:<36} {}\n", s.env, s.help));
    }
    let matches = Cli::command().after_long_help(help).get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}
