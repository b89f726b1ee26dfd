//! Organizations: create, read, list, update, delete (with their directories).

use rollcall_core::Timestamp;
use rollcall_core::ids::{IdKind, new_id};
use rollcall_core::organization::{
    MAX_DOMAINS, MAX_NAME_LEN, NewOrganization, Organization, OrganizationUpdate, is_valid_domain,
};
use sqlx::AssertSqlSafe;
use sqlx::types::Json;

use crate::backend::Store;
use crate::error::StoreError;
use crate::page::{Page, PageRequest};
use crate::rows::OrganizationRow;
use crate::sql::{Arg, Sql};

const COLUMNS: &str = "id, name, external_id, domains, created_at, updated_at";

fn check_name(field: &str, value: &str) -> Result<String, StoreError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(StoreError::Invalid(format!("{field} must not be empty")));
    }
    if value.len() > MAX_NAME_LEN {
        return Err(StoreError::Invalid(format!(
            "{field} is longer than {MAX_NAME_LEN} characters"
        )));
    }
    Ok(value.to_owned())
}

fn check_domains(domains: Vec<String>) -> Result<Vec<String>, StoreError> {
    if domains.len() > MAX_DOMAINS {
        return Err(StoreError::Invalid(format!(
            "at most {MAX_DOMAINS} domains"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(domains.len());
    for d in domains {
        let d = d.trim().to_ascii_lowercase();
        if !is_valid_domain(&d) {
            return Err(StoreError::Invalid(format!(
                "domains: '{}' is not a valid domain name",
                d.chars().take(80).collect::<String>()
            )));
        }
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

impl Store {
    pub async fn create_organization(
        &self,
        new: NewOrganization,
    ) -> Result<Organization, StoreError> {
        let name = check_name("name", &new.name)?;
        let external_id = new
            .external_id
            .map(|e| check_name("external_id", &e))
            .transpose()?;
        let domains = check_domains(new.domains)?;
        let id = new_id(IdKind::Organization);
        let now = Timestamp::now().as_micros();
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "INSERT INTO organizations (id, name, external_id, domains, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(&id)
            .bind(&name)
            .bind(&external_id)
            .bind(Json(&domains))
            .bind(now)
            .execute(&mut *conn)
            .await?;
        });
        tx.commit().await?;
        self.get_organization(&id)
            .await?
            .ok_or(StoreError::NotFound("organization"))
    }

    pub async fn get_organization(&self, id: &str) -> Result<Option<Organization>, StoreError> {
        let row: Option<OrganizationRow> = on_read!(self, |pool| {
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM organizations WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(Organization::from))
    }

    /// Lists organizations; `only` restricts the list to one organization
    /// (an organization-scoped key sees just its own).
    pub async fn list_organizations(
        &self,
        only: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Organization>, StoreError> {
        let mut sql = Sql::new(&format!("SELECT {COLUMNS} FROM organizations WHERE 1=1"));
        if let Some(id) = only {
            sql.and("id", "=", Arg::Text(id.to_owned()));
        }
        page.apply(&mut sql, "id");
        let rows: Vec<OrganizationRow> = on_read!(self, |pool| {
            bind_args!(sqlx::query_as(AssertSqlSafe(sql.text)), sql.args)
                .fetch_all(pool)
                .await?
        });
        Ok(page.finish(rows, |r| &r.id).map(Organization::from))
    }

    pub async fn update_organization(
        &self,
        id: &str,
        update: OrganizationUpdate,
    ) -> Result<Organization, StoreError> {
        let current = self
            .get_organization(id)
            .await?
            .ok_or(StoreError::NotFound("organization"))?;
        let name = match update.name {
            Some(n) => check_name("name", &n)?,
            None => current.name,
        };
        let external_id = match update.external_id {
            Some(Some(e)) => Some(check_name("external_id", &e)?),
            Some(None) => None,
            None => current.external_id,
        };
        let domains = match update.domains {
            Some(d) => check_domains(d)?,
            None => current.domains,
        };
        let mut tx = self.begin().await?;
        let done = on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE organizations SET name = $2, external_id = $3, domains = $4, updated_at = $5 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(&name)
            .bind(&external_id)
            .bind(Json(&domains))
            .bind(Timestamp::now().as_micros())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        if done == 0 {
            return Err(StoreError::NotFound("organization"));
        }
        tx.commit().await?;
        self.get_organization(id)
            .await?
            .ok_or(StoreError::NotFound("organization"))
    }

    /// Deletes an organization, its directories (each emitting `dsync.deleted`),
    /// their users, groups and tokens, and its scoped admin keys, atomically.
    pub async fn delete_organization(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let exists: Option<String> = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar("SELECT id FROM organizations WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
        });
        if exists.is_none() {
            return Err(StoreError::NotFound("organization"));
        }
        let directory_ids: Vec<String> = on_tx!(&mut tx, |conn| {
            sqlx::query_scalar("SELECT id FROM directories WHERE organization_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(&mut *conn)
                .await?
        });
        for directory_id in directory_ids {
            crate::directories::delete_in_tx(&mut tx, &directory_id).await?;
        }
        on_tx!(&mut tx, |conn| {
            sqlx::query("DELETE FROM admin_keys WHERE organization_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM organizations WHERE id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
        });
        tx.commit().await?;
        self.forget_scim_auth();
        Ok(())
    }
}
