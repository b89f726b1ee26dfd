//! The built-in `okta-api` connector through the real runtime against the
//! fake Okta org (`rollcall_tests::fake_okta`): full passes paged by
//! `Link` headers, the user/group mapping and Okta statuses, incremental
//! rounds (users and groups by `lastUpdated`, memberships and deletions
//! from the System Log), expired checkpoints, rate limits, refused tokens,
//! the `SSWS` header the host injects, and cursors and checkpoints that a
//! fresh instance continues from.

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::Duration;

use rollcall_runtime::registry::{
    InstallationRequest, create_installation, install_builtins, prepare_installation,
};
use rollcall_runtime::{Change, ConnectorInstance, InvokeError, PluginError, Runtime};
use rollcall_store::PluginInstallation;
use rollcall_tests::fake_directory::{FakeDirectory, SharedDirectory};
use rollcall_tests::fake_okta::{EVERYONE, FakeOkta, RESET_SECONDS, TOKEN};
use rollcall_tests::{Backend, TestApp, both_backends, guests};
use serde_json::{Map, Value, json};

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| guests::runtime(guests::permissive()))
}

/// An org with an `okta-api` directory and a fake Okta org serving `d`.
struct Env {
    app: TestApp,
    fake: FakeOkta,
    dir: SharedDirectory,
    org: String,
    directory: String,
}

async fn env(backend: Backend, d: FakeDirectory) -> Env {
    let app = TestApp::new(backend).await;
    let dir = SharedDirectory::new(d);
    let fake = FakeOkta::start(dir.clone()).await;
    let org = app.create_org("Acme").await;
    let directory = app.create_directory(&org, "okta-api").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    install_builtins(runtime(), &app.db.store).await.unwrap();
    Env {
        app,
        fake,
        dir,
        org,
        directory,
    }
}

fn object(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

impl Env {
    /// Binds the connector with `config` (org_url added) and `credential`.
    async fn bind(&self, config: Value, credential: Value) -> PluginInstallation {
        let mut config = object(config);
        config.insert("org_url".into(), self.fake.base_url.clone().into());
        create_installation(
            &self.app.db.store,
            InstallationRequest {
                plugin: "okta-api@0.1.0".into(),
                organization_id: self.org.clone(),
                directory_id: Some(self.directory.clone()),
                config,
                grants: serde_json::from_value(json!({"hosts": ["127.0.0.1"]})).unwrap(),
                secrets: Map::new(),
                credentials: object(json!({"api_token": credential})),
                events: Vec::new(),
            },
        )
        .await
        .unwrap()
    }

    async fn install(&self, config: Value) -> PluginInstallation {
        self.bind(config, ssws(TOKEN)).await
    }

    /// A fresh instance of the installation, as one sync run gets.
    async fn connector(&self, installation: &PluginInstallation) -> ConnectorInstance {
        let (plugin, ctx) = prepare_installation(runtime(), &self.app.db.store, installation)
            .await
            .unwrap();
        runtime().connector(&plugin, ctx).await.unwrap()
    }
}

fn ssws(token: &str) -> Value {
    json!({"kind": "authorization", "scheme": "SSWS", "token": token})
}

/// Every user id of a full pass, and how many pages it took.
async fn all_users(
    c: &mut ConnectorInstance,
) -> (Vec<rollcall_core::directory_user::UserInput>, usize) {
    let (mut users, mut pages, mut cursor) = (Vec::new(), 0, None);
    loop {
        let page = c.list_users(cursor, 500).await.unwrap();
        users.extend(page.items);
        pages += 1;
        cursor = page.next_cursor;
        if cursor.is_none() {
            return (users, pages);
        }
    }
}

async fn all_groups(c: &mut ConnectorInstance) -> Vec<(String, String)> {
    let (mut groups, mut cursor) = (Vec::new(), None);
    loop {
        let page = c.list_groups(cursor, 500).await.unwrap();
        groups.extend(page.items.into_iter().map(|g| (g.idp_id, g.name)));
        cursor = page.next_cursor;
        if cursor.is_none() {
            return groups;
        }
    }
}

async fn all_members(c: &mut ConnectorInstance, group: &str) -> BTreeSet<String> {
    let (mut members, mut cursor) = (BTreeSet::new(), None);
    loop {
        let page = c.list_members(group, cursor, 500).await.unwrap();
        members.extend(page.items.into_iter().map(|m| {
            assert_eq!(m.group_idp_id, group);
            m.user_idp_id
        }));
        cursor = page.next_cursor;
        if cursor.is_none() {
            return members;
        }
    }
}

/// Every change of a round from `checkpoint`, and the final checkpoint.
async fn round(c: &mut ConnectorInstance, checkpoint: &str) -> (Vec<Change>, String) {
    let (mut changes, mut checkpoint) = (Vec::new(), checkpoint.to_owned());
    for _ in 0..100 {
        let page = c.changes(Some(&checkpoint)).await.unwrap();
        changes.extend(page.changes);
        checkpoint = page.checkpoint;
        if !page.has_more {
            return (changes, checkpoint);
        }
    }
    panic!("a round that never ends");
}

fn plugin_error(e: InvokeError) -> PluginError {
    match e {
        InvokeError::Plugin(p) => p,
        other => panic!("expected a plugin error, got {other}"),
    }
}

async fn full_pass_pages_maps_and_keeps_deactivated_users(backend: Backend) {
    let e = env(backend, FakeDirectory::generate(25, 5, 60)).await;
    for (user, status) in [
        ("u000003", "STAGED"),
        ("u000004", "LOCKED_OUT"),
        ("u000005", "DEPROVISIONED"),
        ("u000006", "SUSPENDED"),
        ("u000007", "PASSWORD_EXPIRED"),
    ] {
        e.fake.set_status(user, status);
    }
    let installation = e.install(json!({"page_size": 4})).await;
    let mut c = e.connector(&installation).await;

    let (users, pages) = all_users(&mut c).await;
    let ids: BTreeSet<&str> = users.iter().map(|u| u.idp_id.as_str()).collect();
    let expected: BTreeSet<String> = e.dir.lock().users.keys().cloned().collect();
    assert_eq!(ids, expected.iter().map(String::as_str).collect());
    assert_eq!(users.len(), 25, "nobody twice");
    assert_eq!(
        pages,
        6 + 1,
        "24 users by 4, then the deprovisioned listing"
    );
    assert_eq!(e.fake.requests("/api/v1/users"), 7);
    let deactivated = users.last().unwrap();
    assert_eq!(deactivated.idp_id, "u000005", "listed after the others");

    let state = |id: &str| format!("{:?}", users.iter().find(|u| u.idp_id == id).unwrap().state);
    for (id, expected) in [
        ("u000001", "Active"),
        ("u000003", "Inactive"),
        ("u000004", "Active"),
        ("u000005", "Inactive"),
        ("u000006", "Inactive"),
        ("u000007", "Active"),
    ] {
        assert_eq!(state(id), expected, "{id}");
    }

    let d = e.dir.lock().clone();
    let fake = &d.users["u000011"];
    let manager = &d.users[fake.manager_id.as_ref().unwrap()];
    let user = users.iter().find(|u| u.idp_id == "u000011").unwrap();
    assert_eq!(user.email.as_deref(), Some(fake.email.as_str()));
    assert_eq!(user.username.as_deref(), Some(fake.email.as_str()));
    assert_eq!(user.first_name.as_deref(), Some(fake.given_name.as_str()));
    assert_eq!(user.last_name.as_deref(), Some(fake.family_name.as_str()));
    assert_eq!(
        Value::Object(user.custom_attributes.clone()),
        json!({
            "job_title": fake.title,
            "department": fake.department,
            "employee_number": fake.employee_number,
            "employee_type": "Employee",
            "manager_id": manager.id,
            "manager_name": format!("{} {}", manager.given_name, manager.family_name),
            "display_name": format!("{} {}", fake.given_name, fake.family_name),
        })
    );
    assert_eq!(user.raw_attributes["status"], "ACTIVE");
    assert_eq!(user.raw_attributes["profile"]["login"], fake.email.as_str());
    assert!(
        !user.raw_attributes.contains_key("lastLogin")
            && !user.raw_attributes.contains_key("_links"),
        "volatile fields are left out: {:?}",
        user.raw_attributes.keys()
    );

    let groups = all_groups(&mut c).await;
    let expected: Vec<(String, String)> = d
        .groups
        .values()
        .map(|g| (g.id.clone(), g.name.clone()))
        .collect();
    assert_eq!(groups, expected, "OKTA_GROUPs, Everyone left out");
    assert_eq!(e.fake.requests("/api/v1/groups"), 2, "5 groups by 4");
    let seen = e.fake.seen();
    let groups_query = &seen
        .iter()
        .find(|s| s.path == "/api/v1/groups")
        .unwrap()
        .query;
    assert!(
        groups_query.contains("filter=type%20eq%20%22OKTA_GROUP%22"),
        "{groups_query}"
    );

    for (group, members) in &d.members {
        assert_eq!(&all_members(&mut c, group).await, members, "{group}");
    }
    let seen = e.fake.seen();
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some(format!("SSWS {TOKEN}").as_str())),
        "every request carries the token the host injected"
    );
    assert!(c.notes().is_empty(), "{:?}", c.notes());
}

both_backends!(full_pass_pages_maps_and_keeps_deactivated_users);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyone_is_synced_only_when_built_in_groups_are_asked_for() {
    let e = env(Backend::Sqlite, FakeDirectory::generate(9, 2, 4)).await;
    let installation = e
        .install(json!({"page_size": 4, "group_types": ["BUILT_IN", "OKTA_GROUP", "APP_GROUP"]}))
        .await;
    let mut c = e.connector(&installation).await;
    let groups = all_groups(&mut c).await;
    assert_eq!(
        groups[0],
        (EVERYONE.to_owned(), "Everyone".to_owned()),
        "{groups:?}"
    );
    assert_eq!(groups.len(), 3);
    let everyone = all_members(&mut c, EVERYONE).await;
    assert_eq!(everyone.len(), 9);
    assert!(
        e.fake
            .seen()
            .iter()
            .filter(|s| s.path == "/api/v1/groups")
            .all(|s| !s.query.contains("filter")),
        "no type filter when every type is wanted"
    );
    assert!(matches!(
        plugin_error(c.list_members("g-gone", None, 10).await.unwrap_err()),
        PluginError::NotFound(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_rounds_report_users_groups_and_memberships() {
    let e = env(Backend::Sqlite, FakeDirectory::generate(30, 4, 40)).await;
    let installation = e.install(json!({"page_size": 2})).await;
    let mut c = e.connector(&installation).await;
    let start = c.changes(None).await.unwrap();
    assert!(start.changes.is_empty() && !start.has_more);

    let (added, member_out, member_in, deleted) = {
        let mut d = e.dir.lock();
        let added = d.add_user("grace@example.com", "Grace", "Hopper");
        d.update_user("u000002", |u| u.title = "Chief Engineer".into());
        d.rename_group("g00001", "Platform");
        let member_out = d.members["g00002"].iter().next().unwrap().clone();
        d.remove_member("g00002", &member_out);
        d.add_member("g00003", &added);
        let deleted = "u000009".to_owned();
        d.remove_user(&deleted);
        d.remove_group("g00004");
        (added, member_out, "g00003", deleted)
    };
    e.fake.set_status("u000004", "DEPROVISIONED");

    let (changes, checkpoint) = round(&mut c, &start.checkpoint).await;
    let upserted: Vec<(&str, String)> = changes
        .iter()
        .filter_map(|c| match c {
            Change::UserUpserted(u) => Some((u.idp_id.as_str(), format!("{:?}", u.state))),
            _ => None,
        })
        .collect();
    assert_eq!(
        upserted,
        [
            ("u000002", "Active".to_owned()),
            ("u000004", "Inactive".to_owned()),
            (added.as_str(), "Active".to_owned())
        ],
        "changed users only, the deactivated one inactive"
    );
    let updated = changes
        .iter()
        .find_map(|c| match c {
            Change::UserUpserted(u) if u.idp_id == "u000002" => Some(u),
            _ => None,
        })
        .unwrap();
    assert_eq!(updated.custom_attributes["job_title"], "Chief Engineer");
    let rest: Vec<String> = changes
        .iter()
        .filter(|c| !matches!(c, Change::UserUpserted(_)))
        .map(|c| match c {
            Change::GroupUpserted(g) => format!("group {} {}", g.idp_id, g.name),
            Change::GroupDeleted(g) => format!("group deleted {g}"),
            Change::UserDeleted(u) => format!("user deleted {u}"),
            Change::MemberAdded(m) => format!("+ {} {}", m.group_idp_id, m.user_idp_id),
            Change::MemberRemoved(m) => format!("- {} {}", m.group_idp_id, m.user_idp_id),
            Change::UserUpserted(_) => unreachable!(),
        })
        .collect();
    let d = e.dir.lock().clone();
    let mut expected = vec!["group g00001 Platform".to_owned()];
    expected.push(format!("- g00002 {member_out}"));
    expected.push(format!("+ {member_in} {added}"));
    // Removing a user removes its memberships first, as the fake's log says.
    let removals: Vec<String> = d
        .log
        .iter()
        .filter_map(|(_, ch)| match ch {
            rollcall_tests::fake_directory::FakeChange::MemberRemoved { group, user }
                if *user == deleted =>
            {
                Some(format!("- {group} {user}"))
            }
            _ => None,
        })
        .collect();
    expected.extend(removals);
    expected.push(format!("user deleted {deleted}"));
    expected.push("group deleted g00004".to_owned());
    assert_eq!(rest, expected);
    assert!(e.fake.requests("/api/v1/logs") >= 1);

    // Nothing changed since: the next round is empty.
    let (again, _) = round(&mut c, &checkpoint).await;
    assert_eq!(again, [], "the overlap does not replay the last round");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deprovisioned_users_can_count_as_deleted() {
    let e = env(Backend::Sqlite, FakeDirectory::generate(6, 1, 6)).await;
    let installation = e.install(json!({"include_deprovisioned": false})).await;
    let mut c = e.connector(&installation).await;
    let start = c.changes(None).await.unwrap();
    e.fake.set_status("u000002", "DEPROVISIONED");
    let (users, pages) = all_users(&mut c).await;
    assert_eq!((users.len(), pages), (5, 1), "left out of full passes");
    let (changes, _) = round(&mut c, &start.checkpoint).await;
    assert_eq!(changes, [Change::UserDeleted("u000002".into())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_or_unusable_checkpoints_are_not_found() {
    let e = env(Backend::Sqlite, FakeDirectory::generate(5, 1, 5)).await;
    let installation = e.install(json!({})).await;
    let mut c = e.connector(&installation).await;
    let cp = c.changes(None).await.unwrap().checkpoint;

    e.fake.advance_clock(Duration::from_secs(100 * 86_400));
    let err = plugin_error(c.changes(Some(&cp)).await.unwrap_err());
    assert!(
        matches!(&err, PluginError::NotFound(m) if m.contains("90 days")),
        "{err:?}"
    );

    // A log the server no longer keeps (expired by the fake) fails in the
    // System Log phase of the round.
    let e = env(Backend::Sqlite, FakeDirectory::generate(5, 1, 5)).await;
    let installation = e.install(json!({})).await;
    let mut c = e.connector(&installation).await;
    let cp = c.changes(None).await.unwrap().checkpoint;
    {
        let mut d = e.dir.lock();
        d.add_member("g00001", "u000002");
        d.add_member("g00001", "u000003");
        d.expire_log();
    }
    let mut checkpoint = cp;
    let err = loop {
        match c.changes(Some(&checkpoint)).await {
            Ok(page) if page.has_more => checkpoint = page.checkpoint,
            Ok(page) => panic!("round ended without noticing: {page:?}"),
            Err(e) => break plugin_error(e),
        }
    };
    assert!(matches!(err, PluginError::NotFound(_)), "{err:?}");

    for garbage in ["", "not a checkpoint", r#"{"v":9,"since":0}"#] {
        assert!(matches!(
            plugin_error(c.changes(Some(garbage)).await.unwrap_err()),
            PluginError::NotFound(_)
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_become_what_the_host_acts_on() {
    let e = env(Backend::Sqlite, FakeDirectory::generate(5, 1, 5)).await;
    let installation = e.install(json!({})).await;
    let mut c = e.connector(&installation).await;

    e.fake.throttle_next(1);
    let err = plugin_error(c.list_users(None, 100).await.unwrap_err());
    assert!(
        matches!(err, PluginError::RateLimited { retry_after_seconds, .. } if retry_after_seconds == RESET_SECONDS as u32),
        "{err:?}"
    );
    assert_eq!(
        c.list_users(None, 100).await.unwrap().items.len(),
        5,
        "then it answers"
    );

    e.fake.throttle_next(1);
    assert!(matches!(
        plugin_error(c.changes(None).await.unwrap_err()),
        PluginError::RateLimited { .. }
    ));

    e.fake.fail_next(1, 403);
    let err = plugin_error(c.list_groups(None, 100).await.unwrap_err());
    assert!(
        matches!(&err, PluginError::Unauthorized(m) if m.contains("E0000006") && m.contains("Read-Only Administrator")),
        "{err:?}"
    );
    e.fake.fail_next(1, 503);
    assert!(matches!(
        plugin_error(c.list_users(None, 100).await.unwrap_err()),
        PluginError::Transient(_)
    ));
    e.fake.fail_next(1, 404);
    assert!(matches!(
        plugin_error(c.list_users(None, 100).await.unwrap_err()),
        PluginError::InvalidConfig(_)
    ));

    let wrong = e.bind(json!({}), ssws("00not-the-token")).await;
    let mut c = e.connector(&wrong).await;
    let err = plugin_error(c.validate_config().await.unwrap_err());
    assert!(
        matches!(&err, PluginError::Unauthorized(m) if m.contains("E0000011")),
        "{err:?}"
    );
    assert!(matches!(
        plugin_error(c.list_users(None, 100).await.unwrap_err()),
        PluginError::Unauthorized(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_injects_the_ssws_token_the_plugin_never_holds() {
    let e = env(Backend::Sqlite, FakeDirectory::generate(3, 1, 3)).await;
    let plugin = e
        .app
        .db
        .store
        .get_plugin("okta-api@0.1.0")
        .await
        .unwrap()
        .unwrap();
    let manifest = rollcall_runtime::registry::stored_manifest(&plugin).unwrap();
    assert!(
        manifest.capabilities.is_empty(),
        "no secrets capability: the token is unreachable"
    );
    let installation = e.install(json!({})).await;
    assert!(
        !installation
            .config
            .values()
            .any(|v| v.to_string().contains(TOKEN))
    );
    let mut c = e.connector(&installation).await;
    c.validate_config().await.unwrap();
    c.list_users(None, 100).await.unwrap();
    let auth: BTreeSet<Option<String>> =
        e.fake.seen().into_iter().map(|s| s.authorization).collect();
    assert_eq!(auth, BTreeSet::from([Some(format!("SSWS {TOKEN}"))]));

    // The slot takes only a well-formed `authorization` credential.
    for bad in [
        json!({"kind": "bearer", "token": TOKEN}),
        json!({"kind": "authorization", "scheme": "SS WS", "token": TOKEN}),
        json!({"kind": "authorization", "scheme": "SSWS", "token": "two words"}),
    ] {
        let mut config = Map::new();
        config.insert("org_url".into(), e.fake.base_url.clone().into());
        let refused = create_installation(
            &e.app.db.store,
            InstallationRequest {
                plugin: "okta-api@0.1.0".into(),
                organization_id: e.org.clone(),
                directory_id: Some(e.directory.clone()),
                config,
                grants: Default::default(),
                secrets: Map::new(),
                credentials: object(json!({"api_token": bad})),
                events: Vec::new(),
            },
        )
        .await;
        assert!(refused.is_err(), "{bad} accepted");
    }

    // A bad org URL is the config's fault.
    let bad = e.install(json!({})).await;
    let mut config = bad.config.clone();
    config.insert("org_url".into(), "http://acme.okta.com".into());
    let mut ctx = prepare_installation(runtime(), &e.app.db.store, &bad)
        .await
        .unwrap();
    ctx.1.config = config;
    let mut c = runtime().connector(&ctx.0, ctx.1).await.unwrap();
    assert!(matches!(
        plugin_error(c.validate_config().await.unwrap_err()),
        PluginError::InvalidConfig(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursors_and_checkpoints_resume_in_a_fresh_instance() {
    let e = env(Backend::Sqlite, FakeDirectory::generate(12, 3, 12)).await;
    let installation = e.install(json!({"page_size": 5})).await;
    let mut whole = e.connector(&installation).await;
    let (expected, _) = all_users(&mut whole).await;

    let mut first = e.connector(&installation).await;
    let page = first.list_users(None, 500).await.unwrap();
    let mut users = page.items;
    drop(first);
    let mut cursor = page.next_cursor;
    while let Some(c) = cursor {
        // A new instance per page: nothing but the cursor carries over.
        let mut fresh = e.connector(&installation).await;
        let page = fresh.list_users(Some(c), 500).await.unwrap();
        users.extend(page.items);
        cursor = page.next_cursor;
    }
    assert_eq!(users, expected);

    let mut c = e.connector(&installation).await;
    let start = c.changes(None).await.unwrap().checkpoint;
    {
        let mut d = e.dir.lock();
        for i in 0..7 {
            d.add_user(&format!("new{i}@example.com"), "New", "Hire");
        }
    }
    let (expected, _) = round(&mut c, &start).await;
    let mut changes = Vec::new();
    let mut checkpoint = start;
    loop {
        let mut fresh = e.connector(&installation).await;
        let page = fresh.changes(Some(&checkpoint)).await.unwrap();
        assert!(page.checkpoint.len() < 8192);
        changes.extend(page.changes);
        checkpoint = page.checkpoint;
        if !page.has_more {
            break;
        }
    }
    assert_eq!(changes, expected);
    assert_eq!(changes.len(), 7);
}
