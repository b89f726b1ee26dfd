//! The built-in `azure-graph` connector through the real runtime against
//! the fake Microsoft Graph (`rollcall_tests::fake_graph`): installed as a
//! built-in, bound to an `azure-graph` directory with an
//! `oauth2-client-credentials` credential the host exchanges at the fake
//! token endpoint. Full paging and mapping, delta rounds over several
//! pages (each page on a fresh instance, as after a restart), partial
//! delta objects, expiry, throttling, refused credentials and missing
//! permissions.

use std::sync::OnceLock;

use rollcall_core::directory_user::{UserInput, UserState};
use rollcall_runtime::registry::{
    self, InstallationRequest, create_installation, install_builtins,
};
use rollcall_runtime::{Change, ChangePage, ConnectorInstance, InvokeError, PluginError, Runtime};
use rollcall_tests::fake_directory::{FakeDirectory, SharedDirectory};
use rollcall_tests::fake_graph::{CLIENT_SECRET, FakeGraph};
use rollcall_tests::{Backend, TestApp, both_backends, guests};
use serde_json::{Value, json};

/// Loopback and plain HTTP allowed (the fake is http://127.0.0.1).
fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| guests::runtime(guests::permissive()))
}

/// An organization, an `azure-graph` directory and the connector bound to it.
struct Bound {
    app: TestApp,
    installation: String,
}

impl Bound {
    async fn new(backend: Backend, fake: &FakeGraph, config: Value, secret: &str) -> Bound {
        let app = TestApp::new(backend).await;
        let org = app.create_org("Contoso").await;
        let dir = app.create_directory(&org, "azure-graph").await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        install_builtins(runtime(), &app.db.store).await.unwrap();
        let mut config = config.as_object().cloned().unwrap_or_default();
        config.insert("api_base".into(), json!(fake.base_url));
        let installation = create_installation(
            &app.db.store,
            InstallationRequest {
                plugin: "azure-graph@0.1.0".into(),
                organization_id: org,
                directory_id: Some(dir),
                config,
                grants: serde_json::from_value(json!({"hosts": ["127.0.0.1"]})).unwrap(),
                credentials: json!({"graph": fake.credential(secret)})
                    .as_object()
                    .cloned()
                    .unwrap(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        Bound {
            app,
            installation: installation.id,
        }
    }

    /// A fresh connector instance, as a new sync run (or a restarted process) gets.
    async fn connector(&self) -> ConnectorInstance {
        let store = &self.app.db.store;
        let installation = store
            .get_plugin_installation(&self.installation)
            .await
            .unwrap()
            .unwrap();
        let (loaded, ctx) = registry::prepare_installation(runtime(), store, &installation)
            .await
            .unwrap();
        runtime().connector(&loaded, ctx).await.unwrap()
    }
}

async fn setup(directory: FakeDirectory, config: Value) -> (SharedDirectory, FakeGraph, Bound) {
    let shared = SharedDirectory::new(directory);
    let fake = FakeGraph::start(shared.clone()).await;
    let bound = Bound::new(Backend::Sqlite, &fake, config, CLIENT_SECRET).await;
    (shared, fake, bound)
}

fn plugin_error(e: InvokeError) -> PluginError {
    match e {
        InvokeError::Plugin(p) => p,
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

/// Every user, one page per fresh instance (cursors survive restarts).
async fn all_users(bound: &Bound) -> (Vec<UserInput>, usize) {
    let (mut users, mut pages, mut cursor) = (Vec::new(), 0, None);
    loop {
        let page = bound
            .connector()
            .await
            .list_users(cursor, 500)
            .await
            .unwrap();
        users.extend(page.items);
        pages += 1;
        cursor = page.next_cursor;
        if cursor.is_none() {
            return (users, pages);
        }
    }
}

/// One delta round from `checkpoint`, each page on a fresh instance.
async fn round(bound: &Bound, checkpoint: &str) -> (Vec<Change>, String, usize) {
    let (mut changes, mut cp, mut calls) = (Vec::new(), checkpoint.to_owned(), 0);
    loop {
        let ChangePage {
            changes: page,
            checkpoint,
            has_more,
        } = bound.connector().await.changes(Some(&cp)).await.unwrap();
        changes.extend(page);
        cp = checkpoint;
        calls += 1;
        assert!(cp.len() < 8 * 1024, "checkpoint too large: {}", cp.len());
        if !has_more {
            return (changes, cp, calls);
        }
    }
}

async fn full_pass_pages_and_maps_users_groups_and_members(backend: Backend) {
    let mut directory = FakeDirectory::generate(2100, 12, 600);
    directory.update_user("u000020", |u| u.suspended = true);
    let shared = SharedDirectory::new(directory);
    let fake = FakeGraph::start(shared.clone()).await;
    let config = json!({"extra_attributes": ["onPremisesSamAccountName"]});
    let bound = Bound::new(backend, &fake, config, CLIENT_SECRET).await;

    let (users, pages) = all_users(&bound).await;
    assert_eq!(pages, 3, "999 users a page");
    let ids: Vec<&str> = users.iter().map(|u| u.idp_id.as_str()).collect();
    let expected: Vec<String> = shared.lock().users.keys().cloned().collect();
    assert_eq!(ids, expected);
    let u = users.iter().find(|u| u.idp_id == "u000020").unwrap();
    let fake_user = shared.lock().users["u000020"].clone();
    assert_eq!(u.email.as_deref(), Some("user20@example.com"));
    assert_eq!(u.username.as_deref(), Some("user20@example.com"));
    assert_eq!(u.first_name.as_deref(), Some(fake_user.given_name.as_str()));
    assert_eq!(u.last_name.as_deref(), Some(fake_user.family_name.as_str()));
    assert_eq!(u.state, UserState::Inactive);
    let dept = &fake_user.department;
    assert_eq!(
        Value::Object(u.custom_attributes.clone()),
        json!({"job_title": fake_user.title, "department": dept, "employee_number": "E0000020",
            "employee_type": "Employee", "organization": "Contoso",
            "display_name": format!("{} {}", fake_user.given_name, fake_user.family_name),
            "preferred_language": "en-US", "cost_center": format!("CC-{dept}"),
            "division": format!("{dept} Division"), "manager_id": fake_user.manager_id.unwrap(),
            "onPremisesSamAccountName": "user20"})
    );
    assert_eq!(u.raw_attributes["accountEnabled"], false);
    assert_eq!(
        u.raw_attributes["manager"]["id"],
        u.custom_attributes["manager_id"]
    );
    assert!(
        users
            .iter()
            .filter(|u| u.idp_id != "u000020")
            .all(|u| u.state == UserState::Active)
    );
    let first = &fake.seen()[0];
    assert_eq!(first.path, "/v1.0/users");
    assert!(
        first.query.contains("$top=999") && first.query.contains("$expand=manager($select=id)"),
        "{first:?}"
    );
    assert_eq!(fake.token_requests(), 1, "the host caches the access token");

    let mut connector = bound.connector().await;
    let groups = connector.list_groups(None, 500).await.unwrap();
    assert_eq!(groups.items.len(), 12);
    assert_eq!(groups.next_cursor, None);
    assert_eq!(groups.items[0].idp_id, "g00001");
    assert_eq!(groups.items[0].name, "Group 1");
    assert_eq!(groups.items[0].raw_attributes["mail"], "group1@example.com");
    for group in &groups.items {
        let members = connector
            .list_members(&group.idp_id, None, 500)
            .await
            .unwrap();
        assert_eq!(members.next_cursor, None);
        let got: Vec<&str> = members
            .items
            .iter()
            .map(|m| m.user_idp_id.as_str())
            .collect();
        let want: Vec<String> = shared.lock().members[&group.idp_id]
            .iter()
            .cloned()
            .collect();
        assert_eq!(got, want, "members of {}", group.idp_id);
        assert!(members.items.iter().all(|m| m.group_idp_id == group.idp_id));
    }
    assert_eq!(
        fake.requests("/groups/g00001/members/microsoft.graph.user"),
        1
    );
}

both_backends!(full_pass_pages_and_maps_users_groups_and_members);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_and_groups_page_with_next_links() {
    let (_, fake, bound) =
        setup(FakeDirectory::generate(40, 7, 120), json!({"page_size": 3})).await;
    let mut connector = bound.connector().await;
    let (mut groups, mut cursor) = (Vec::new(), None);
    loop {
        let page = connector.list_groups(cursor, 500).await.unwrap();
        groups.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(groups.len(), 7);
    assert_eq!(fake.requests("/groups"), 3);
    let first = connector.list_members("g00001", None, 500).await.unwrap();
    assert_eq!(first.items.len(), 3);
    let cursor = first.next_cursor.unwrap();
    assert!(cursor.starts_with(&fake.base_url), "{cursor}");
    let second = bound
        .connector()
        .await
        .list_members("g00001", Some(cursor), 500)
        .await
        .unwrap();
    assert!(second.items[0].user_idp_id > first.items[2].user_idp_id);
}

fn user_upsert<'a>(changes: &'a [Change], id: &str) -> &'a UserInput {
    changes
        .iter()
        .rev()
        .find_map(|c| match c {
            Change::UserUpserted(u) if u.idp_id == id => Some(u),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no upsert of {id} in {changes:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_rounds_report_every_kind_of_change() {
    let (shared, fake, bound) =
        setup(FakeDirectory::generate(50, 5, 100), json!({"page_size": 2})).await;
    let start = bound.connector().await.changes(None).await.unwrap();
    assert!(start.changes.is_empty() && !start.has_more);
    assert_eq!(fake.requests("/users/delta"), 1);
    assert_eq!(fake.requests("/groups/delta"), 1);
    let cp: Value = serde_json::from_str(&start.checkpoint).unwrap();
    assert_eq!(cp["phase"], "users");

    let (new_user, gone_member) = {
        let mut d = shared.lock();
        let new_user = d.add_user("new@example.com", "Nia", "New");
        d.update_user("u000003", |u| u.title = "Chief".into());
        d.update_user("u000004", |u| u.suspended = true);
        d.remove_user("u000005");
        d.rename_group("g00002", "Platform");
        d.remove_group("g00003");
        d.add_member("g00001", &new_user);
        let gone_member = d.members["g00004"]
            .iter()
            .find(|u| *u != "u000005")
            .unwrap()
            .clone();
        d.remove_member("g00004", &gone_member);
        (new_user, gone_member)
    };
    let removed_from: Vec<String> = {
        let d = shared.lock();
        d.log
            .iter()
            .filter_map(|(_, c)| match c {
                rollcall_tests::fake_directory::FakeChange::MemberRemoved { group, user }
                    if user == "u000005" =>
                {
                    Some(group.clone())
                }
                _ => None,
            })
            .collect()
    };

    let (changes, cp, calls) = round(&bound, &start.checkpoint).await;
    assert!(calls >= 4, "several delta pages: {calls}");
    assert_eq!(
        user_upsert(&changes, &new_user).email.as_deref(),
        Some("new@example.com")
    );
    assert_eq!(
        user_upsert(&changes, "u000003").custom_attributes["job_title"],
        "Chief"
    );
    assert_eq!(
        user_upsert(&changes, "u000003").email.as_deref(),
        Some("user3@example.com")
    );
    assert_eq!(user_upsert(&changes, "u000004").state, UserState::Inactive);
    assert!(changes.contains(&Change::UserDeleted("u000005".into())));
    assert!(changes.iter().any(
        |c| matches!(c, Change::GroupUpserted(g) if g.idp_id == "g00002" && g.name == "Platform")
    ));
    assert!(changes.contains(&Change::GroupDeleted("g00003".into())));
    let membership = |g: &str, u: &str| rollcall_runtime::Membership {
        group_idp_id: g.into(),
        user_idp_id: u.into(),
    };
    assert!(changes.contains(&Change::MemberAdded(membership("g00001", &new_user))));
    assert!(changes.contains(&Change::MemberRemoved(membership("g00004", &gone_member))));
    for g in removed_from.iter().filter(|g| *g != "g00003") {
        assert!(
            changes.contains(&Change::MemberRemoved(membership(g, "u000005"))),
            "{g}"
        );
    }
    let group_upserts = changes
        .iter()
        .filter(|c| matches!(c, Change::GroupUpserted(_)))
        .count();
    assert_eq!(
        group_upserts, 1,
        "membership-only deltas do not upsert the group: {changes:#?}"
    );
    let user_position = changes
        .iter()
        .position(|c| matches!(c, Change::UserDeleted(_)))
        .unwrap();
    let group_position = changes
        .iter()
        .position(|c| matches!(c, Change::GroupDeleted(_)))
        .unwrap();
    assert!(user_position < group_position, "users first, then groups");
    assert_eq!(
        fake.requests("/users/u"),
        0,
        "complete delta objects need no extra reads"
    );

    let (again, cp2, calls) = round(&bound, &cp).await;
    assert!(again.is_empty(), "{again:#?}");
    assert_eq!(calls, 2, "one users page, one groups page");
    assert_ne!(cp2, start.checkpoint);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_delta_users_are_read_whole() {
    let (shared, fake, bound) = setup(FakeDirectory::generate(20, 2, 20), json!({})).await;
    let start = bound.connector().await.changes(None).await.unwrap();
    fake.partial_updates(true);
    shared
        .lock()
        .update_user("u000007", |u| u.title = "Director II".into());
    let (changes, _, _) = round(&bound, &start.checkpoint).await;
    assert_eq!(changes.len(), 1, "{changes:#?}");
    let u = user_upsert(&changes, "u000007");
    assert_eq!(u.email.as_deref(), Some("user7@example.com"));
    assert_eq!(u.custom_attributes["job_title"], "Director II");
    assert!(u.custom_attributes.contains_key("department"));
    assert!(u.raw_attributes.contains_key("userPrincipalName"));
    assert_eq!(fake.requests("/users/u000007"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_delta_token_asks_for_a_full_pass() {
    let (shared, _fake, bound) = setup(FakeDirectory::generate(10, 2, 10), json!({})).await;
    let start = bound.connector().await.changes(None).await.unwrap();
    shared
        .lock()
        .update_user("u000001", |u| u.title = "X".into());
    shared.lock().expire_log();
    let e = plugin_error(
        bound
            .connector()
            .await
            .changes(Some(&start.checkpoint))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(&e, PluginError::NotFound(m) if m.contains("410") && m.contains("syncStateNotFound")),
        "{e:?}"
    );
    let e = plugin_error(
        bound
            .connector()
            .await
            .changes(Some("{}"))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(e, PluginError::NotFound(_)),
        "an unreadable checkpoint also means a full pass"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_missing_permissions_are_reported() {
    let (_, fake, bound) = setup(FakeDirectory::generate(10, 2, 10), json!({})).await;
    let mut connector = bound.connector().await;
    fake.throttle_next(1, 17);
    let e = plugin_error(connector.list_users(None, 500).await.unwrap_err());
    assert!(
        matches!(&e, PluginError::RateLimited { retry_after_seconds: 17, message } if message.contains("TooManyRequests")),
        "{e:?}"
    );
    assert_eq!(
        connector.list_users(None, 500).await.unwrap().items.len(),
        10
    );
    fake.deny_next(1);
    let e = plugin_error(connector.list_groups(None, 500).await.unwrap_err());
    assert!(
        matches!(&e, PluginError::Unauthorized(m) if m.contains("Authorization_RequestDenied") && m.contains("GroupMember.Read.All")),
        "{e:?}"
    );
    connector.validate_config().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_secret_is_unauthorized() {
    let shared = SharedDirectory::new(FakeDirectory::generate(5, 1, 5));
    let fake = FakeGraph::start(shared).await;
    let bound = Bound::new(Backend::Sqlite, &fake, json!({}), "not-the-secret").await;
    let mut connector = bound.connector().await;
    let e = plugin_error(connector.validate_config().await.unwrap_err());
    assert!(
        matches!(&e, PluginError::Unauthorized(m) if m.contains("invalid_client")),
        "{e:?}"
    );
    let e = plugin_error(connector.changes(None).await.unwrap_err());
    assert!(matches!(e, PluginError::Unauthorized(_)), "{e:?}");
    assert_eq!(
        fake.requests("/"),
        0,
        "nothing reaches Graph without a token"
    );
}
