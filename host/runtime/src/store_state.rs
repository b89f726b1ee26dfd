//! Plugin state in the database: [`StateBackend`] over the store.

use rollcall_store::{StateQuota, StateWrite, Store};

use crate::context::{BoxFuture, StateBackend, StateError, StateScope};

fn unavailable(e: rollcall_store::StoreError) -> StateError {
    tracing::error!(error = %e, "plugin state storage failed");
    StateError::Unavailable("state storage is unavailable".into())
}

impl StateBackend for Store {
    fn get<'a>(
        &'a self,
        scope: &'a StateScope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, StateError>> {
        Box::pin(async move {
            self.plugin_state_get(&scope.organization_id, &scope.installation_id, key)
                .await
                .map_err(unavailable)
        })
    }

    fn set<'a>(
        &'a self,
        scope: &'a StateScope,
        key: &'a str,
        value: &'a str,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async move {
            let quota = StateQuota {
                max_keys: scope.max_keys,
                max_bytes: scope.max_bytes,
            };
            match self
                .plugin_state_set(
                    &scope.organization_id,
                    &scope.installation_id,
                    key,
                    value,
                    quota,
                )
                .await
                .map_err(unavailable)?
            {
                StateWrite::Written => Ok(()),
                StateWrite::QuotaExceeded(m) => Err(StateError::QuotaExceeded(m)),
            }
        })
    }

    fn delete<'a>(
        &'a self,
        scope: &'a StateScope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), StateError>> {
        Box::pin(async move {
            self.plugin_state_delete(&scope.organization_id, &scope.installation_id, key)
                .await
                .map_err(unavailable)
        })
    }

    fn list_keys<'a>(
        &'a self,
        scope: &'a StateScope,
        prefix: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<String>, StateError>> {
        Box::pin(async move {
            self.plugin_state_keys(
                &scope.organization_id,
                &scope.installation_id,
                prefix,
                limit,
            )
            .await
            .map_err(unavailable)
        })
    }
}
