//! The management commands (`org`, `directory`, `admin-key`): the same
//! store operations the API uses, on the configured database.

use anyhow::{Result, anyhow};
use rollcall_api::routes::directories::view;
use rollcall_core::directory::{DirectoryType, NewDirectory};
use rollcall_core::organization::NewOrganization;
use rollcall_store::{MAX_LIMIT, Order, PageRequest, Store};

use crate::cli::{AdminKeyCommand, DirectoryCommand, OrgCommand, TokenCommand};
use crate::config::Config;
use crate::output::Output;

fn opt(value: &Option<impl ToString>) -> String {
    value
        .as_ref()
        .map_or_else(|| "-".to_owned(), ToString::to_string)
}

/// Every page of a cursor list, oldest first.
async fn all_pages<T, F, Fut>(mut fetch: F) -> Result<Vec<T>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<rollcall_store::Page<T>, rollcall_store::StoreError>>,
{
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = fetch(PageRequest {
            limit: MAX_LIMIT,
            before: None,
            after: after.take(),
            order: Order::Asc,
        })
        .await?;
        out.extend(page.data);
        match page.after {
            Some(cursor) => after = Some(cursor),
            None => return Ok(out),
        }
    }
}

pub async fn org(store: &Store, out: Output, command: OrgCommand) -> Result<()> {
    match command {
        OrgCommand::Create {
            name,
            domains,
            external_id,
        } => {
            let org = store
                .create_organization(NewOrganization {
                    name,
                    external_id,
                    domains,
                })
                .await?;
            out.item(&org, || {
                format!("Created organization {} ({})", org.id, org.name)
            });
        }
        OrgCommand::List => {
            let orgs =
                all_pages(|p| async move { store.list_organizations(None, &p).await }).await?;
            out.table(&orgs, &["id", "name", "external_id", "domains"], |o| {
                vec![
                    o.id.clone(),
                    o.name.clone(),
                    opt(&o.external_id),
                    o.domains.join(","),
                ]
            });
        }
        OrgCommand::Delete { id } => {
            store.delete_organization(&id).await?;
            out.item(&serde_json::json!({"id": id, "deleted": true}), || {
                format!("Deleted organization {id} and its directories")
            });
        }
    }
    Ok(())
}

pub async fn directory(
    store: &Store,
    config: &Config,
    out: Output,
    command: DirectoryCommand,
) -> Result<()> {
    match command {
        DirectoryCommand::Create {
            organization_id,
            name,
            directory_type,
            domain,
        } => {
            let directory_type: DirectoryType = directory_type.parse().map_err(|e| {
                anyhow!(
                    "{e}; expected one of {}",
                    DirectoryType::names().collect::<Vec<_>>().join(", ")
                )
            })?;
            let created = store
                .create_directory(NewDirectory {
                    organization_id,
                    name,
                    directory_type,
                    domain,
                    settings: Default::default(),
                    secrets: Default::default(),
                })
                .await?;
            let token = created.token.map(|(_, t)| t);
            let v = view(&config.public_url, created.directory, token);
            out.item(&v, || {
                let d = &v.directory;
                let mut s = format!("Created directory {} ({}, {})", d.id, d.directory_type, d.state.as_str());
                if let Some(scim) = &v.scim {
                    s.push_str(&format!("\n  SCIM 2.0 URL:  {}\n  SCIM 1.1 URL:  {}", scim.url, scim.v1_url));
                    if let Some(t) = &scim.token {
                        s.push_str(&format!("\n  Bearer token:  {t}\n  (the token is shown only now; rotate it to get a new one)"));
                    }
                }
                s
            });
        }
        DirectoryCommand::List { organization_id } => {
            let org = organization_id.as_deref();
            let dirs = all_pages(|p| async move { store.list_directories(org, &p).await }).await?;
            out.table(
                &dirs,
                &["id", "organization", "type", "state", "name"],
                |d| {
                    vec![
                        d.id.clone(),
                        d.organization_id.clone(),
                        d.directory_type.to_string(),
                        d.state.as_str().to_owned(),
                        d.name.clone(),
                    ]
                },
            );
        }
        DirectoryCommand::Show { id } => {
            let d = store
                .get_directory(&id)
                .await?
                .ok_or_else(|| anyhow!("directory {id} not found"))?;
            let tokens = store.list_scim_tokens(&id).await?;
            let v = view(&config.public_url, d, None);
            let json = serde_json::json!({"directory": &v, "tokens": &tokens});
            out.item(&json, || {
                let d = &v.directory;
                let mut s = format!(
                    "{}\n  name:          {}\n  organization:  {}\n  type:          {}\n  state:         {}\n  created:       {}",
                    d.id, d.name, d.organization_id, d.directory_type, d.state.as_str(), d.created_at.to_rfc3339()
                );
                if let Some(scim) = &v.scim {
                    s.push_str(&format!("\n  SCIM 2.0 URL:  {}\n  SCIM 1.1 URL:  {}", scim.url, scim.v1_url));
                }
                for t in &tokens {
                    s.push_str(&format!(
                        "\n  token {}  …{}  {}  created {}",
                        t.id,
                        t.suffix,
                        format!("{:?}", t.status).to_lowercase(),
                        t.created_at.to_rfc3339()
                    ));
                }
                s
            });
        }
        DirectoryCommand::Delete { id } => {
            store.delete_directory(&id).await?;
            out.item(&serde_json::json!({"id": id, "deleted": true}), || {
                format!("Deleted directory {id}")
            });
        }
        DirectoryCommand::Token(TokenCommand::Rotate {
            directory_id,
            grace_period,
        }) => {
            let d = store
                .get_directory(&directory_id)
                .await?
                .ok_or_else(|| anyhow!("directory {directory_id} not found"))?;
            if d.directory_type.ingress() != rollcall_core::directory::Ingress::ScimPush {
                return Err(anyhow!(
                    "directories of type '{}' do not use SCIM tokens",
                    d.directory_type
                ));
            }
            let (token, value) = store.rotate_scim_token(&directory_id, grace_period).await?;
            let json = serde_json::json!({"details": &token, "token": &value});
            out.item(&json, || {
                format!(
                    "New SCIM token {} for {directory_id}:\n  {value}\n  (shown only now)",
                    token.id
                )
            });
        }
        DirectoryCommand::Token(TokenCommand::Revoke {
            directory_id,
            token_id,
        }) => {
            let token = store.revoke_scim_token(&directory_id, &token_id).await?;
            out.item(&token, || {
                format!("Revoked token {} (…{})", token.id, token.suffix)
            });
        }
        DirectoryCommand::Token(TokenCommand::List { directory_id }) => {
            if store.get_directory(&directory_id).await?.is_none() {
                return Err(anyhow!("directory {directory_id} not found"));
            }
            let tokens = store.list_scim_tokens(&directory_id).await?;
            out.table(
                &tokens,
                &["id", "suffix", "status", "created", "last_used"],
                |t| {
                    vec![
                        t.id.clone(),
                        t.suffix.clone(),
                        format!("{:?}", t.status).to_lowercase(),
                        t.created_at.to_rfc3339(),
                        opt(&t.last_used_at.map(|x| x.to_rfc3339())),
                    ]
                },
            );
        }
    }
    Ok(())
}

pub async fn admin_key(store: &Store, out: Output, command: AdminKeyCommand) -> Result<()> {
    match command {
        AdminKeyCommand::Create {
            name,
            organization_id,
        } => {
            let (key, secret) = store
                .create_admin_key(&name, organization_id.as_deref())
                .await?;
            let json = serde_json::json!({"key": &key, "secret": &secret});
            out.item(&json, || {
                let scope = key.organization_id.as_deref().unwrap_or("global");
                format!(
                    "Created admin key {} ({scope}):\n  {secret}\n  (shown only now)",
                    key.id
                )
            });
        }
        AdminKeyCommand::List => {
            let keys = store.list_admin_keys(None).await?;
            out.table(
                &keys,
                &["id", "name", "scope", "suffix", "created", "revoked"],
                |k| {
                    vec![
                        k.id.clone(),
                        k.name.clone(),
                        k.organization_id.clone().unwrap_or_else(|| "global".into()),
                        k.suffix.clone(),
                        k.created_at.to_rfc3339(),
                        opt(&k.revoked_at.map(|x| x.to_rfc3339())),
                    ]
                },
            );
        }
        AdminKeyCommand::Revoke { id } => {
            let key = store.revoke_admin_key(&id).await?;
            out.item(&key, || {
                format!("Revoked admin key {} ({})", key.id, key.name)
            });
        }
    }
    Ok(())
}
