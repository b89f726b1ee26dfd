//! The `google-workspace` built-in connector through the real runtime
//! against the fake Admin SDK (`rollcall_tests::fake_google`): installed
//! and bound like an operator would (a `google-workspace` directory, the
//! host `127.0.0.1` granted, a service-account or refresh-token
//! credential), then paged: users with Google's mapping, suspended users
//! inactive, groups, user members only, a group allow-list, throttling →
//! rate-limited, refused credentials → unauthorized, cursors resumed in a
//! fresh instance, and no incremental mode.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use rollcall_core::directory::{DirectoryType, NewDirectory};
use rollcall_core::directory_user::{UserInput, UserState};
use rollcall_core::organization::NewOrganization;
use rollcall_runtime::registry::{self, InstallationRequest};
use rollcall_runtime::{
    ConnectorInstance, InvocationContext, InvokeError, LoadedPlugin, PluginError, Runtime,
};
use rollcall_tests::fake_directory::{FakeDirectory, SharedDirectory};
use rollcall_tests::fake_google::{FakeGoogle, Throttle};
use rollcall_tests::{Backend, TestDb, both_backends, guests};
use serde_json::{Map, Value, json};

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| guests::runtime(guests::permissive()))
}

/// A bound installation of the built-in against a running fake.
struct Bound {
    fake: FakeGoogle,
    directory: SharedDirectory,
    plugin: LoadedPlugin,
    ctx: InvocationContext,
    _db: TestDb,
}

impl Bound {
    async fn instance(&self) -> ConnectorInstance {
        runtime()
            .connector(&self.plugin, self.ctx.clone())
            .await
            .unwrap()
    }
}

fn fake_directory() -> FakeDirectory {
    let mut d = FakeDirectory::generate(23, 5, 60);
    d.update_user("u000004", |u| u.suspended = true);
    d
}

/// Creates the organization, the directory and the installation, with
/// `credential(fake)` in the `google` slot.
async fn bind(
    backend: Backend,
    directory: FakeDirectory,
    config: Value,
    credential: impl FnOnce(&FakeGoogle) -> Value,
) -> Bound {
    let db = TestDb::new(backend).await;
    let directory = SharedDirectory::new(directory);
    let fake = FakeGoogle::start(directory.clone()).await;
    registry::install_builtins(runtime(), &db.store)
        .await
        .unwrap();
    let org = db
        .store
        .create_organization(NewOrganization {
            name: "Example".into(),
            external_id: None,
            domains: vec![],
        })
        .await
        .unwrap();
    let dir = db
        .store
        .create_directory(NewDirectory {
            organization_id: org.id.clone(),
            name: "Google".into(),
            directory_type: DirectoryType::GoogleWorkspace,
            domain: None,
            settings: Map::new(),
            secrets: Map::new(),
        })
        .await
        .unwrap()
        .directory;
    let mut config = config.as_object().cloned().unwrap();
    config.insert("api_base".into(), fake.base_url.clone().into());
    let installation = registry::create_installation(
        &db.store,
        InstallationRequest {
            plugin: "google-workspace@0.1.0".into(),
            organization_id: org.id,
            directory_id: Some(dir.id),
            config,
            grants: serde_json::from_value(json!({"hosts": ["127.0.0.1"]})).unwrap(),
            credentials: json!({"google": credential(&fake)})
                .as_object()
                .cloned()
                .unwrap(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (plugin, ctx) = registry::prepare_installation(runtime(), &db.store, &installation)
        .await
        .unwrap();
    Bound {
        fake,
        directory,
        plugin,
        ctx,
        _db: db,
    }
}

/// Every user, paging with `limit`; the number of pages.
async fn all_users(c: &mut ConnectorInstance, limit: u32) -> (Vec<UserInput>, usize) {
    let (mut users, mut cursor, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = c.list_users(cursor, limit).await.unwrap();
        pages += 1;
        users.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (users, pages),
        }
    }
}

/// Every (group id, group name) and the members of each, sorted.
async fn all_groups(c: &mut ConnectorInstance, limit: u32) -> Vec<(String, String, Vec<String>)> {
    let (mut groups, mut cursor) = (Vec::new(), None);
    loop {
        let page = c.list_groups(cursor, limit).await.unwrap();
        groups.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut out = Vec::new();
    for g in groups {
        let (mut members, mut cursor) = (Vec::new(), None);
        loop {
            let page = c.list_members(&g.idp_id, cursor, limit).await.unwrap();
            members.extend(page.items.into_iter().map(|m| m.user_idp_id));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        members.sort();
        out.push((g.idp_id, g.name, members));
    }
    out
}

/// Builds a credential for a fake.
type MakeCredential = fn(&FakeGoogle) -> Value;

fn plugin_error(result: Result<impl std::fmt::Debug, InvokeError>) -> PluginError {
    match result {
        Err(InvokeError::Plugin(e)) => e,
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

/// Checks the Google mapping of `user12` and the suspended `user4`, and
/// answers the groups with their members as the fake holds them.
fn check_mapping(users: &[UserInput], d: &FakeDirectory) -> Vec<(String, String, Vec<String>)> {
    let u = &users[11];
    let fake = &d.users["u000012"];
    let manager = &d.users[fake.manager_id.as_ref().unwrap()];
    assert_eq!(u.email.as_deref(), Some("user12@example.com"));
    assert_eq!(u.username.as_deref(), Some("user12@example.com"));
    assert_eq!(u.first_name.as_deref(), Some(fake.given_name.as_str()));
    assert_eq!(u.last_name.as_deref(), Some(fake.family_name.as_str()));
    assert_eq!(u.state, UserState::Active);
    assert_eq!(
        Value::Object(u.custom_attributes.clone()),
        json!({"display_name": format!("{} {}", fake.given_name, fake.family_name),
               "job_title": fake.title, "department": fake.department,
               "cost_center": format!("CC-{}", fake.department.len()),
               "employee_number": "E0000012", "manager_email": manager.email,
               "org_unit_path": "/", "is_admin": false})
    );
    assert_eq!(u.raw_attributes["kind"], "admin#directory#user");
    assert_eq!(u.raw_attributes["primaryEmail"], "user12@example.com");
    assert_eq!(users[3].state, UserState::Inactive, "suspended");
    assert_eq!(users[3].raw_attributes["suspensionReason"], "ADMIN");
    d.groups
        .values()
        .map(|g| {
            (
                g.id.clone(),
                g.name.clone(),
                d.members[&g.id].iter().cloned().collect(),
            )
        })
        .collect()
}

async fn a_full_pass_reads_every_page_with_google_mapping(backend: Backend) {
    let bound = bind(
        backend,
        fake_directory(),
        json!({}),
        FakeGoogle::jwt_credential,
    )
    .await;
    let mut c = bound.instance().await;
    let (users, pages) = all_users(&mut c, 5).await;
    assert_eq!(pages, 5, "23 users in pages of 5");
    let ids: Vec<&str> = users.iter().map(|u| u.idp_id.as_str()).collect();
    let expected: Vec<String> = bound.directory.lock().users.keys().cloned().collect();
    assert_eq!(ids, expected);

    let expected = check_mapping(&users, &bound.directory.lock());
    let groups = all_groups(&mut c, 2).await;
    assert_eq!(groups, expected);
    assert_eq!(
        bound.fake.requests("groups.list"),
        3,
        "5 groups in pages of 2"
    );
    assert_eq!(bound.fake.requests("token"), 1, "one token serves the pass");
    let grant = &bound.fake.grants()[0];
    assert_eq!(
        grant[0],
        (
            "grant_type".into(),
            "urn:ietf:params:oauth:grant-type:jwt-bearer".into()
        )
    );

    for checkpoint in [None, Some("anything")] {
        assert_eq!(
            plugin_error(c.changes(checkpoint).await),
            PluginError::Permanent(
                "google-workspace has no incremental mode; every run is a full pass".into()
            )
        );
    }
}

async fn a_group_allow_list_limits_groups_and_users(backend: Backend) {
    let mut directory = fake_directory();
    // g00002 nests g00003: a member of type GROUP, not a user.
    directory.add_member("g00002", "g00003");
    let config = json!({"group_allow_list": ["group1@example.com", "g00002"]});
    let bound = bind(backend, directory, config, FakeGoogle::refresh_credential).await;
    let mut c = bound.instance().await;
    let (users, _) = all_users(&mut c, 500).await;
    let groups = all_groups(&mut c, 200).await;

    let d = bound.directory.lock();
    let allowed: BTreeSet<String> = ["g00001", "g00002"]
        .iter()
        .flat_map(|g| d.members[*g].iter().filter(|m| m.starts_with('u')).cloned())
        .collect();
    let ids: BTreeSet<String> = users.iter().map(|u| u.idp_id.clone()).collect();
    assert_eq!(ids, allowed);
    assert!(ids.len() < d.users.len());
    let names: Vec<(&str, &str)> = groups
        .iter()
        .map(|(id, name, _)| (id.as_str(), name.as_str()))
        .collect();
    assert_eq!(names, [("g00001", "Group 1"), ("g00002", "Group 2")]);
    assert!(
        groups[1].2.iter().all(|m| m.starts_with('u')),
        "the nested group is not listed as a member: {:?}",
        groups[1].2
    );
    assert_eq!(groups[1].2.len(), d.members["g00002"].len() - 1);
    drop(d);
    assert_eq!(bound.fake.requests("groups.list"), 0);
    assert_eq!(bound.fake.requests("groups.get"), 2);
    let grant = &bound.fake.grants()[0];
    assert_eq!(grant[0], ("grant_type".into(), "refresh_token".into()));
}

async fn cursors_resume_in_a_fresh_instance(backend: Backend) {
    let config = json!({"group_allow_list": ["g00001", "g00002", "g00003"]});
    let bound = bind(
        backend,
        FakeDirectory::generate(40, 5, 200),
        config,
        FakeGoogle::jwt_credential,
    )
    .await;
    let mut first = bound.instance().await;
    let page = first.list_users(None, 10).await.unwrap();
    let groups = first.list_groups(None, 2).await.unwrap();
    let members_before = bound.fake.requests("members.list");
    drop(first);

    let mut fresh = bound.instance().await;
    let mut ids: Vec<String> = page.items.iter().map(|u| u.idp_id.clone()).collect();
    let mut cursor = page.next_cursor;
    while let Some(c) = cursor {
        let page = fresh.list_users(Some(c), 10).await.unwrap();
        ids.extend(page.items.into_iter().map(|u| u.idp_id));
        cursor = page.next_cursor;
    }
    assert!(
        bound.fake.requests("members.list") > members_before,
        "the fresh instance fetched the allow-listed members again"
    );
    {
        let d = bound.directory.lock();
        let expected: BTreeSet<&String> = ["g00001", "g00002", "g00003"]
            .iter()
            .flat_map(|g| d.members[*g].iter())
            .collect();
        assert_eq!(ids.iter().collect::<BTreeSet<_>>(), expected);
        assert_eq!(ids.len(), expected.len(), "no user twice");
    }

    let rest = fresh.list_groups(groups.next_cursor, 2).await.unwrap();
    let names: Vec<&str> = groups
        .items
        .iter()
        .chain(&rest.items)
        .map(|g| g.idp_id.as_str())
        .collect();
    assert_eq!(names, ["g00001", "g00002", "g00003"]);
    assert_eq!(rest.next_cursor, None);
}

both_backends!(
    a_full_pass_reads_every_page_with_google_mapping,
    a_group_allow_list_limits_groups_and_users,
    cursors_resume_in_a_fresh_instance,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_rate_limited_with_googles_wait() {
    let bound = bind(
        Backend::Sqlite,
        fake_directory(),
        json!({}),
        FakeGoogle::jwt_credential,
    )
    .await;
    let mut c = bound.instance().await;
    let cases = [
        (Throttle::UserRateLimit, 10),
        (Throttle::QuotaExceeded(40), 40),
        (Throttle::TooManyRequests(25), 25),
    ];
    for (how, seconds) in cases {
        bound.fake.throttle_next(1, how);
        match plugin_error(c.list_users(None, 500).await) {
            PluginError::RateLimited {
                retry_after_seconds,
                ..
            } => {
                assert_eq!(retry_after_seconds, seconds, "{how:?}")
            }
            other => panic!("{how:?}: {other:?}"),
        }
    }
    bound.fake.throttle_next(1, Throttle::UserRateLimit);
    let err = plugin_error(c.list_members("g00001", None, 200).await);
    assert!(
        matches!(
            err,
            PluginError::RateLimited {
                retry_after_seconds: 10,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        c.list_users(None, 500).await.unwrap().items.len(),
        23,
        "then it answers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_are_unauthorized() {
    // The API refuses the token (revoked since it was issued).
    let bound = bind(
        Backend::Sqlite,
        fake_directory(),
        json!({}),
        FakeGoogle::refresh_credential,
    )
    .await;
    let mut c = bound.instance().await;
    c.list_users(None, 500).await.unwrap();
    bound.fake.revoke_access_tokens();
    let err = plugin_error(c.list_groups(None, 200).await);
    assert!(
        matches!(&err, PluginError::Unauthorized(m) if m.starts_with("HTTP 401: Request had invalid authentication credentials")),
        "{err:?}"
    );

    // The token endpoint refuses the credential.
    let cases: [(MakeCredential, &str); 3] = [
        (
            |f| {
                let mut c = f.refresh_credential();
                c["refresh_token"] = "1//revoked".into();
                c
            },
            "invalid_grant: Token has been expired or revoked.",
        ),
        (
            |f| {
                let mut c = f.refresh_credential();
                c["client_secret"] = "wrong".into();
                c
            },
            "invalid_client: The OAuth client was not found.",
        ),
        (
            |f| {
                let mut c = f.jwt_credential();
                c["subject"] = "someone@example.com".into();
                c
            },
            "unauthorized_client: Client is unauthorized",
        ),
    ];
    for (credential, reason) in cases {
        let bound = bind(Backend::Sqlite, fake_directory(), json!({}), credential).await;
        let mut c = bound.instance().await;
        let err = plugin_error(c.list_users(None, 500).await);
        assert!(
            matches!(&err, PluginError::Unauthorized(m) if m.starts_with("Google refused the credential: token endpoint answered HTTP 4") && m.contains(reason)),
            "{reason}: {err:?}"
        );
        assert_eq!(
            bound.fake.requests("users.list"),
            0,
            "nothing reached the API"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_customer_or_group_is_invalid_config() {
    let cases = [
        (
            json!({"customer": "C999"}),
            "HTTP 400: Bad Request (check config.customer",
        ),
        (
            json!({"domain": "other.example"}),
            "HTTP 400: Domain not found.",
        ),
        (
            json!({"group_allow_list": ["nope@example.com"]}),
            "config.group_allow_list: Google has no group 'nope@example.com'",
        ),
    ];
    for (config, expected) in cases {
        let bound = bind(
            Backend::Sqlite,
            fake_directory(),
            config.clone(),
            FakeGoogle::jwt_credential,
        )
        .await;
        let mut c = bound.instance().await;
        let err = plugin_error(c.list_users(None, 500).await);
        assert!(
            matches!(&err, PluginError::InvalidConfig(m) if m.starts_with(expected)),
            "{config}: {err:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_google_slot_takes_a_service_account_or_a_refresh_token_only() {
    let db = TestDb::new(Backend::Sqlite).await;
    registry::install_builtins(runtime(), &db.store)
        .await
        .unwrap();
    let org = db
        .store
        .create_organization(NewOrganization {
            name: "Example".into(),
            external_id: None,
            domains: vec![],
        })
        .await
        .unwrap();
    let dir = db
        .store
        .create_directory(NewDirectory {
            organization_id: org.id.clone(),
            name: "Google".into(),
            directory_type: DirectoryType::GoogleWorkspace,
            domain: None,
            settings: Map::new(),
            secrets: Map::new(),
        })
        .await
        .unwrap()
        .directory;
    let request = |credentials: Value| InstallationRequest {
        plugin: "google-workspace@0.1.0".into(),
        organization_id: org.id.clone(),
        directory_id: Some(dir.id.clone()),
        grants: serde_json::from_value(json!({"hosts": ["admin.googleapis.com"]})).unwrap(),
        credentials: credentials.as_object().cloned().unwrap(),
        ..Default::default()
    };
    let cases = [
        (
            json!({"google": {"kind": "bearer", "token": "x"}}),
            "credentials.google: the slot expects kind jwt-bearer or oauth2-refresh-token, got bearer",
        ),
        (json!({}), "credentials.google: required by the plugin"),
        (
            json!({"google": {"kind": "oauth2-refresh-token", "token_url": "https://oauth2.googleapis.com/token",
                   "client_id": "c", "client_secret": "s", "refresh_token": ""}}),
            "credentials.google: refresh_token must not be empty",
        ),
    ];
    for (credentials, expected) in cases {
        let err = registry::create_installation(&db.store, request(credentials))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
    let ok = json!({"google": {"kind": "oauth2-refresh-token", "token_url": "https://oauth2.googleapis.com/token",
                    "client_id": "c", "client_secret": "s", "refresh_token": "1//r"}});
    registry::create_installation(&db.store, request(ok))
        .await
        .unwrap();
}
