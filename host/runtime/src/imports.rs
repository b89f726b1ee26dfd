//! The Rollcall host imports: `log`, `config`, `secrets`, `state`. Each
//! check that can refuse a guest is a small named function that names the
//! missing capability or the exceeded limit.

use crate::bindings::wit::{config, log, secrets, state, types};
use crate::context::StateError;
use crate::host_state::HostState;
use crate::manifest::Capability;

use types::HostError;

const MAX_KEY_BYTES: usize = 256;

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut.
pub(crate) fn truncate(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [truncated {} bytes]", &text[..end], text.len() - end).into()
}

pub(crate) fn require_capability(
    state: &HostState,
    capability: Capability,
    name: &str,
) -> Result<(), HostError> {
    if state.ctx.manifest.has(capability) {
        Ok(())
    } else {
        Err(HostError::Denied(format!(
            "the plugin's manifest does not declare the '{name}' capability"
        )))
    }
}

fn check_key(key: &str) -> Result<(), HostError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(HostError::Invalid(format!(
            "state keys must be 1 to {MAX_KEY_BYTES} bytes"
        )));
    }
    Ok(())
}

fn check_value(state: &HostState, value: &str) -> Result<(), HostError> {
    let max = state.policy.state_max_value_bytes;
    if value.len() as u64 > max {
        return Err(HostError::QuotaExceeded(format!(
            "state quota exceeded: a value may be at most {max} bytes"
        )));
    }
    Ok(())
}

impl From<StateError> for HostError {
    fn from(e: StateError) -> Self {
        match e {
            StateError::QuotaExceeded(m) => HostError::QuotaExceeded(m),
            StateError::Unavailable(m) => HostError::Unavailable(m),
        }
    }
}

impl types::Host for HostState {}

impl log::Host for HostState {
    async fn write(&mut self, level: log::Level, message: String) {
        if !self.log.take() {
            if self.log.dropped == 1 {
                self.note("log rate limit reached: further lines are dropped".into());
            }
            return;
        }
        let message = truncate(&message, self.policy.log_line_bytes as usize);
        let ctx = &self.ctx;
        let plugin = ctx.manifest.id.as_str();
        let installation = ctx.installation_id.as_str();
        let organization_id = ctx.organization_id.as_str();
        let directory_id = ctx.directory_id.as_deref().unwrap_or("");
        macro_rules! emit {
            ($mac:ident) => {
                tracing::$mac!(target: "rollcall::plugin", plugin, installation, organization_id, directory_id, "{message}")
            };
        }
        match level {
            log::Level::Trace => emit!(trace),
            log::Level::Debug => emit!(debug),
            log::Level::Info => emit!(info),
            log::Level::Warn => emit!(warn),
            log::Level::Error => emit!(error),
        }
    }
}

impl config::Host for HostState {
    async fn get_all(&mut self) -> String {
        serde_json::to_string(&self.ctx.config).unwrap_or_else(|_| "{}".into())
    }

    async fn get(&mut self, key: String) -> Option<String> {
        self.ctx.config.get(&key).map(|v| v.to_string())
    }
}

impl secrets::Host for HostState {
    async fn get(&mut self, name: String) -> Result<Option<String>, HostError> {
        require_capability(self, Capability::Secrets, "secrets")?;
        Ok(self.ctx.secrets.get(&name).cloned())
    }
}

impl state::Host for HostState {
    async fn get(&mut self, key: String) -> Result<Option<String>, HostError> {
        check_key(&key)?;
        Ok(self.ctx.state.get(&self.scope, &key).await?)
    }

    async fn set(&mut self, key: String, value: String) -> Result<(), HostError> {
        check_key(&key)?;
        check_value(self, &value)?;
        let result = self.ctx.state.set(&self.scope, &key, &value).await;
        if let Err(StateError::QuotaExceeded(m)) = &result {
            self.note(m.clone());
        }
        Ok(result?)
    }

    async fn delete(&mut self, key: String) -> Result<(), HostError> {
        check_key(&key)?;
        Ok(self.ctx.state.delete(&self.scope, &key).await?)
    }

    async fn list_keys(&mut self, prefix: String, limit: u32) -> Result<Vec<String>, HostError> {
        Ok(self
            .ctx
            .state
            .list_keys(&self.scope, &prefix, limit.min(1_000))
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("ééé", 3), "é… [truncated 4 bytes]");
    }
}
