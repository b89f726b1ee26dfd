//! The directory-state service: rows and events are written together, and
//! a failing batch leaves neither behind. Runs on SQLite and PostgreSQL.

use rollcall_core::directory::{DirectoryType, NewDirectory};
use rollcall_core::directory_group::GroupInput;
use rollcall_core::directory_user::{UserInput, UserState};
use rollcall_core::event::{Event, EventType};
use rollcall_core::organization::NewOrganization;
use rollcall_store::directory_state::{Change, Outcome, Ref};
use rollcall_store::{EventFilter, GroupFilter, PageRequest, Store, StoreError, UserFilter};
use rollcall_tests::{Backend, TestDb, both_backends};
use serde_json::{Map, json};

async fn directory(store: &Store) -> (String, String) {
    let org = store
        .create_organization(NewOrganization {
            name: "Acme".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let dir = store
        .create_directory(NewDirectory {
            organization_id: org.id.clone(),
            name: "Okta".into(),
            directory_type: DirectoryType::OktaScimV2,
            domain: None,
            settings: Map::new(),
            secrets: Map::new(),
        })
        .await
        .unwrap();
    (org.id, dir.directory.id)
}

fn user(idp: &str, email: &str) -> UserInput {
    UserInput {
        idp_id: idp.into(),
        email: Some(email.into()),
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        username: Some(email.into()),
        state: UserState::Active,
        roles: vec![],
        custom_attributes: Map::new(),
        raw_attributes: Map::new(),
    }
}

fn group(idp: &str, name: &str) -> GroupInput {
    GroupInput {
        idp_id: idp.into(),
        name: name.into(),
        raw_attributes: Map::new(),
    }
}

/// Events of a directory, oldest first, excluding directory bookkeeping.
async fn events(store: &Store, directory_id: &str) -> Vec<Event> {
    store
        .list_events(&EventFilter {
            directory_id: Some(directory_id.into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            !matches!(
                e.event,
                EventType::DirectoryActivated | EventType::TokenCreated
            )
        })
        .collect()
}

fn types(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.event.as_str()).collect()
}

async fn user_lifecycle_writes_rows_and_events(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = &db.store;
    let (org, dir) = directory(store).await;

    let created = store
        .apply_change(&dir, Change::UpsertUser(user("u1", "ada@acme.com")))
        .await
        .unwrap();
    let Outcome::UserCreated(u) = created else {
        panic!("expected create, got {created:?}")
    };
    assert!(u.id.starts_with("directory_user_"));
    assert_eq!(u.organization_id, org);

    // Same content: no write, no event.
    let again = store
        .apply_change(&dir, Change::UpsertUser(user("u1", "ada@acme.com")))
        .await
        .unwrap();
    assert!(matches!(again, Outcome::UserUnchanged(_)));

    // Change email, add a custom attribute, deactivate.
    let mut changed = user("u1", "ada@lovelace.org");
    changed.state = UserState::Inactive;
    changed
        .custom_attributes
        .insert("department".into(), json!("Engineering"));
    let updated = store
        .apply_change(&dir, Change::UpsertUser(changed))
        .await
        .unwrap();
    let Outcome::UserUpdated(after) = updated else {
        panic!("expected update")
    };
    assert_eq!(after.id, u.id);
    assert_eq!(after.state, UserState::Inactive);
    assert_eq!(after.version, 2);

    let stored = store.get_user(&u.id).await.unwrap().unwrap();
    assert_eq!(stored.email.as_deref(), Some("ada@lovelace.org"));
    assert_eq!(stored.custom_attributes["department"], json!("Engineering"));

    let evs = events(store, &dir).await;
    assert_eq!(types(&evs), ["dsync.user.created", "dsync.user.updated"]);
    assert_eq!(evs[0].data["email"], json!("ada@acme.com"));
    assert_eq!(evs[0].data["id"], json!(u.id));
    let update = &evs[1].data;
    assert_eq!(update["email"], json!("ada@lovelace.org"));
    assert_eq!(
        update["previous_attributes"],
        json!({"email": "ada@acme.com", "username": "ada@acme.com", "state": "active",
               "custom_attributes": {"department": null}})
    );
    assert!(evs[0].seq < evs[1].seq);
    assert!(
        evs.iter()
            .all(|e| e.organization_id == org && e.directory_id.as_deref() == Some(dir.as_str()))
    );
}

async fn batch_is_all_or_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = &db.store;
    let (_, dir) = directory(store).await;
    let err = store
        .apply_changes(
            &dir,
            vec![
                Change::UpsertUser(user("u1", "a@acme.com")),
                Change::UpsertGroup(group("g1", "Engineering")),
                Change::AddMember {
                    group: Ref::IdpId("g1".into()),
                    user: Ref::IdpId("nobody".into()),
                },
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound("user")), "{err:?}");
    let users = store
        .list_users(
            &UserFilter {
                directory_id: Some(dir.clone()),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert!(users.data.is_empty(), "no user may survive a failed batch");
    let groups = store
        .list_groups(
            &GroupFilter {
                directory_id: Some(dir.clone()),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert!(groups.data.is_empty());
    assert!(
        events(store, &dir).await.is_empty(),
        "no event without its change"
    );

    // Invalid input fails the batch too, naming the problem.
    let err = store
        .apply_change(&dir, Change::UpsertUser(user("  ", "x@acme.com")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("idp_id")),
        "{err:?}"
    );
}

async fn groups_and_memberships(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = &db.store;
    let (_, dir) = directory(store).await;
    let outcomes = store
        .apply_changes(
            &dir,
            vec![
                Change::UpsertUser(user("u1", "a@acme.com")),
                Change::UpsertUser(user("u2", "b@acme.com")),
                Change::UpsertGroup(group("g1", "Engineering")),
                Change::AddMember {
                    group: Ref::IdpId("g1".into()),
                    user: Ref::IdpId("u1".into()),
                },
                Change::AddMember {
                    group: Ref::IdpId("g1".into()),
                    user: Ref::IdpId("u2".into()),
                },
                Change::AddMember {
                    group: Ref::IdpId("g1".into()),
                    user: Ref::IdpId("u2".into()),
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(outcomes[3], Outcome::MemberAdded);
    assert_eq!(outcomes[5], Outcome::MemberUnchanged);
    let Outcome::GroupCreated(g) = &outcomes[2] else {
        panic!()
    };
    let Outcome::UserCreated(u1) = &outcomes[0] else {
        panic!()
    };

    let members = store
        .list_users(
            &UserFilter {
                group_id: Some(g.id.clone()),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(members.data.len(), 2);
    assert!(
        members
            .data
            .iter()
            .all(|u| u.groups.as_ref().unwrap()[0].id == g.id)
    );
    let of_user = store
        .list_groups(
            &GroupFilter {
                user_id: Some(u1.id.clone()),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        of_user
            .data
            .iter()
            .map(|g| g.name.as_str())
            .collect::<Vec<_>>(),
        ["Engineering"]
    );

    // Rename the group: updated with previous name.
    store
        .apply_change(&dir, Change::UpsertGroup(group("g1", "Platform")))
        .await
        .unwrap();
    // Deleting a user removes its memberships first, with events.
    store
        .apply_change(&dir, Change::DeleteUser(Ref::Id(u1.id.clone())))
        .await
        .unwrap();
    assert!(store.get_user(&u1.id).await.unwrap().is_none());
    // Remove the other membership, then the group.
    let removed = store
        .apply_change(
            &dir,
            Change::RemoveMember {
                group: Ref::Id(g.id.clone()),
                user: Ref::IdpId("u2".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(removed, Outcome::MemberRemoved);
    store
        .apply_change(&dir, Change::DeleteGroup(Ref::IdpId("g1".into())))
        .await
        .unwrap();
    assert!(store.get_group(&g.id).await.unwrap().is_none());

    let evs = events(store, &dir).await;
    assert_eq!(
        types(&evs),
        [
            "dsync.user.created",
            "dsync.user.created",
            "dsync.group.created",
            "dsync.group.user_added",
            "dsync.group.user_added",
            "dsync.group.updated",
            "dsync.group.user_removed",
            "dsync.user.deleted",
            "dsync.group.user_removed",
            "dsync.group.deleted",
        ]
    );
    let added = &evs[3].data;
    assert_eq!(added["directory_id"], json!(dir));
    assert_eq!(added["user"]["idp_id"], json!("u1"));
    assert_eq!(added["group"]["name"], json!("Engineering"));
    assert_eq!(
        evs[5].data["previous_attributes"],
        json!({"name": "Engineering"})
    );
    assert_eq!(evs[6].data["user"]["id"], json!(u1.id));
    assert_eq!(evs[7].data["id"], json!(u1.id));
}

async fn update_by_id_can_change_idp_id_but_not_collide(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = &db.store;
    let (_, dir) = directory(store).await;
    let outs = store
        .apply_changes(
            &dir,
            vec![
                Change::UpsertUser(user("u1", "a@acme.com")),
                Change::UpsertUser(user("u2", "b@acme.com")),
            ],
        )
        .await
        .unwrap();
    let Outcome::UserCreated(u1) = &outs[0] else {
        panic!()
    };
    let renamed = store
        .apply_change(
            &dir,
            Change::UpdateUser {
                id: u1.id.clone(),
                input: user("u1-new", "a@acme.com"),
                expected_version: None,
            },
        )
        .await
        .unwrap();
    assert!(matches!(renamed, Outcome::UserUpdated(ref u) if u.idp_id == "u1-new"));
    let err = store
        .apply_change(
            &dir,
            Change::UpdateUser {
                id: u1.id.clone(),
                input: user("u2", "a@acme.com"),
                expected_version: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = store
        .apply_change(
            &dir,
            Change::UpdateUser {
                id: "directory_user_nope".into(),
                input: user("x", "x@acme.com"),
                expected_version: None,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound("user")));
}

async fn directories_are_isolated(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = &db.store;
    let (_, a) = directory(store).await;
    let (_, b) = directory(store).await;
    let Outcome::UserCreated(ua) = store
        .apply_change(&a, Change::UpsertUser(user("u1", "a@acme.com")))
        .await
        .unwrap()
    else {
        panic!()
    };
    // The same idp id in another directory is another user.
    let Outcome::UserCreated(ub) = store
        .apply_change(&b, Change::UpsertUser(user("u1", "a@acme.com")))
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_ne!(ua.id, ub.id);
    // A change through directory b cannot reach a's user by id.
    let err = store
        .apply_change(&b, Change::DeleteUser(Ref::Id(ua.id.clone())))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound("user")));
    assert!(store.get_user(&ua.id).await.unwrap().is_some());
}

async fn deleting_a_directory_emits_only_dsync_deleted(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = &db.store;
    let (_, dir) = directory(store).await;
    store
        .apply_changes(
            &dir,
            vec![
                Change::UpsertUser(user("u1", "a@acme.com")),
                Change::UpsertGroup(group("g1", "Eng")),
                Change::AddMember {
                    group: Ref::IdpId("g1".into()),
                    user: Ref::IdpId("u1".into()),
                },
            ],
        )
        .await
        .unwrap();
    let before = events(store, &dir).await.len();
    store.delete_directory(&dir).await.unwrap();
    let evs = events(store, &dir).await;
    assert_eq!(evs.len(), before + 1);
    let last = evs.last().unwrap();
    assert_eq!(last.event, EventType::DirectoryDeleted);
    assert_eq!(last.data["id"], json!(dir));
    assert_eq!(last.data["state"], json!("deleting"));
    assert!(store.get_directory(&dir).await.unwrap().is_none());
    let users = store
        .list_users(
            &UserFilter {
                directory_id: Some(dir.clone()),
                ..Default::default()
            },
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert!(users.data.is_empty());
    // Writing to a deleted directory is a clean not-found.
    let err = store
        .apply_change(&dir, Change::UpsertUser(user("u2", "b@acme.com")))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound("directory")));
}

async fn concurrent_writers_keep_a_gapless_event_order(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store.clone();
    let (_, dir) = directory(&store).await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        let dir = dir.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                store
                    .apply_change(
                        &dir,
                        Change::UpsertUser(user(
                            &format!("u{w}-{i}"),
                            &format!("u{w}-{i}@acme.com"),
                        )),
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let evs = events(&store, &dir).await;
    assert_eq!(evs.len(), 80);
    assert!(evs.windows(2).all(|w| w[0].seq < w[1].seq));
    // Reading with the cursor in small steps sees every event exactly once.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_events(&EventFilter {
                directory_id: Some(dir.clone()),
                types: vec![EventType::UserCreated],
                after: after.clone(),
                limit: 7,
                ..Default::default()
            })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|e| e.id.clone());
        seen.extend(page.into_iter().map(|e| e.id));
    }
    assert_eq!(seen.len(), 80);
    seen.dedup();
    assert_eq!(seen.len(), 80);
}

/// Group commit: jobs that fail (after writing part of their changes)
/// leave nothing behind, and the jobs committed with them are unaffected.
async fn failing_jobs_in_a_shared_commit_are_isolated(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store.clone();
    let (_, dir) = directory(&store).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let store = store.clone();
        let dir = dir.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("u{i}");
            let mut changes = vec![Change::UpsertUser(user(&name, &format!("{name}@acme.com")))];
            if i % 2 == 1 {
                // Its first change succeeds inside the transaction, then it fails.
                changes.push(Change::DeleteUser(Ref::Id("directory_user_missing".into())));
            }
            (i, store.apply_changes(&dir, changes).await)
        }));
    }
    for t in tasks {
        let (i, result) = t.await.unwrap();
        if i % 2 == 1 {
            assert!(
                matches!(result, Err(StoreError::NotFound("user"))),
                "job {i}: {result:?}"
            );
        } else {
            assert!(
                matches!(result.as_deref(), Ok([Outcome::UserCreated(_)])),
                "job {i}: {result:?}"
            );
        }
    }
    let evs = events(&store, &dir).await;
    let mut created: Vec<String> = evs
        .iter()
        .filter(|e| e.event == EventType::UserCreated)
        .map(|e| e.data["idp_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    created.sort();
    let mut expected: Vec<String> = (0..40).step_by(2).map(|i| format!("u{i}")).collect();
    expected.sort();
    assert_eq!(created, expected);
    let stored = store
        .list_users(
            &UserFilter {
                directory_id: Some(dir.clone()),
                ..Default::default()
            },
            &PageRequest {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(stored.data.len(), 20);
}

async fn versions_usernames_and_member_sets(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = &db.store;
    let (_, dir) = directory(store).await;
    let outs = store
        .apply_changes(
            &dir,
            vec![
                Change::CreateUser {
                    id: None,
                    input: user("u1", "Ada@Acme.com"),
                },
                Change::CreateUser {
                    id: None,
                    input: user("u2", "bob@acme.com"),
                },
                Change::CreateUser {
                    id: None,
                    input: user("u3", "cy@acme.com"),
                },
                Change::CreateGroup {
                    id: None,
                    input: group("g1", "Eng"),
                },
            ],
        )
        .await
        .unwrap();
    let Outcome::UserCreated(u1) = &outs[0] else {
        panic!()
    };
    // A second user whose username differs only in case is a conflict.
    let err = store
        .apply_change(
            &dir,
            Change::CreateUser {
                id: None,
                input: user("u9", "ADA@acme.com"),
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("userName")),
        "{err:?}"
    );
    // CreateUser refuses an existing idp_id instead of updating it.
    let err = store
        .apply_change(
            &dir,
            Change::CreateUser {
                id: None,
                input: user("u1", "other@acme.com"),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // Optimistic concurrency.
    let err = store
        .apply_change(
            &dir,
            Change::UpdateUser {
                id: u1.id.clone(),
                input: user("u1", "new@acme.com"),
                expected_version: Some(7),
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::VersionMismatch {
                expected: 7,
                actual: 1
            }
        ),
        "{err:?}"
    );
    store
        .apply_change(
            &dir,
            Change::UpdateUser {
                id: u1.id.clone(),
                input: user("u1", "new@acme.com"),
                expected_version: Some(1),
            },
        )
        .await
        .unwrap();
    // Set members exactly: {u1,u2} then {u2,u3}.
    let g = Ref::IdpId("g1".into());
    let set = |ids: &[&str]| Change::SetMembers {
        group: g.clone(),
        users: ids.iter().map(|i| Ref::IdpId((*i).into())).collect(),
    };
    assert_eq!(
        store
            .apply_change(&dir, set(&["u1", "u2", "u2"]))
            .await
            .unwrap(),
        Outcome::MembersSet {
            added: 2,
            removed: 0
        }
    );
    assert_eq!(
        store.apply_change(&dir, set(&["u2", "u3"])).await.unwrap(),
        Outcome::MembersSet {
            added: 1,
            removed: 1
        }
    );
    assert_eq!(
        store.apply_change(&dir, set(&["u2", "u3"])).await.unwrap(),
        Outcome::MembersSet {
            added: 0,
            removed: 0
        }
    );
    let err = store
        .apply_change(&dir, set(&["u2", "ghost"]))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound("user")));
    let evs = events(store, &dir).await;
    let membership: Vec<(&str, &str)> = evs
        .iter()
        .filter(|e| {
            matches!(
                e.event,
                EventType::GroupUserAdded | EventType::GroupUserRemoved
            )
        })
        .map(|e| (e.event.as_str(), e.data["user"]["idp_id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        membership,
        [
            ("dsync.group.user_added", "u1"),
            ("dsync.group.user_added", "u2"),
            ("dsync.group.user_removed", "u1"),
            ("dsync.group.user_added", "u3"),
        ]
    );
}

both_backends!(
    versions_usernames_and_member_sets,
    user_lifecycle_writes_rows_and_events,
    batch_is_all_or_nothing,
    groups_and_memberships,
    update_by_id_can_change_idp_id_but_not_collide,
    directories_are_isolated,
    deleting_a_directory_emits_only_dsync_deleted,
    concurrent_writers_keep_a_gapless_event_order,
    failing_jobs_in_a_shared_commit_are_isolated,
);
