//! Request sequences shaped like each identity provider's documented SCIM
//! traffic (Microsoft Entra ID with and without `aadOptscim062020`, Okta,
//! OneLogin, JumpCloud): connection test, lookups, create, update,
//! deactivate, reactivate, group membership every way, delete. Each step
//! asserts the final state through SCIM GETs and the Directory API, and the
//! exact events it emitted. On both backends.

use rollcall_tests::scim::{
    ENTERPRISE, ENTRA_UA, GROUP_SCHEMA, JUMPCLOUD_UA, LIST_RESPONSE, OKTA_UA, ONELOGIN_UA,
    ScimClient, USER_SCHEMA, member_values, sorted,
};
use rollcall_tests::{Backend, TestApp, both_backends};
use serde_json::{Value, json};

fn ops(operations: Value) -> Value {
    ScimClient::patch_op(operations)
}

/// Entra's patch bodies: Entra sends the PatchOp URN too.
fn entra_patch(operations: Value) -> Value {
    ops(operations)
}

fn find_event<'e>(events: &'e [Value], kind: &str) -> &'e Value {
    events
        .iter()
        .find(|e| e["event"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {events:#?}"))
}

#[track_caller]
fn assert_types(actual: &[String], expected: &[&str]) {
    let actual: Vec<&str> = actual.iter().map(String::as_str).collect();
    assert_eq!(actual, expected, "event types");
}

#[track_caller]
fn assert_type_set(actual: &[String], expected: &[&str]) {
    let mut a: Vec<&str> = actual.iter().map(String::as_str).collect();
    let mut e = expected.to_vec();
    a.sort();
    e.sort();
    assert_eq!(a, e, "event types (any order)");
}

fn entra_user(user_name: &str, external_id: &str, given: &str, family: &str) -> Value {
    // Shape of "Create User" in Entra's "Develop a SCIM endpoint" request examples.
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": external_id,
        "userName": user_name,
        "active": "True",
        "displayName": format!("{given} {family}"),
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": format!("{given} {family}"), "familyName": family, "givenName": given},
        "roles": [],
        ENTERPRISE: {"employeeNumber": "701984", "department": "Sales"}
    })
}

// ---------------------------------------------------------------------------
// Microsoft Entra ID
// ---------------------------------------------------------------------------

async fn entra_user_lifecycle(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "azure-scim-v2", Some(ENTRA_UA)).await;

    // Connection test: a random GUID userName must give an empty list.
    let r = c
        .filter(
            "Users",
            "userName eq \"8c6e4f0a-3b1e-4b8f-9a52-0f3f2b6f1d2e\"",
            "",
        )
        .await;
    let body = r.expect(200);
    assert_eq!(body["schemas"], json!([LIST_RESPONSE]));
    assert_eq!(body["totalResults"], json!(0));
    assert_eq!(body["Resources"].as_array().map(Vec::len).unwrap_or(0), 0);

    // Lookup before create: nothing.
    let r = c
        .filter("Users", "userName eq \"jdoe@contoso.com\"", "")
        .await;
    assert_eq!(r.expect(200)["totalResults"], json!(0));

    // Create, with the enterprise extension and "True" as a string.
    let r = c
        .post(
            "/Users",
            entra_user(
                "jdoe@contoso.com",
                "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                "John",
                "Doe",
            ),
        )
        .await;
    let created = r.expect(201).clone();
    let id = r.id();
    assert_eq!(created["active"], json!(true), "active must be a boolean");
    assert_eq!(created["userName"], "jdoe@contoso.com");
    assert_eq!(created[ENTERPRISE]["department"], "Sales");
    assert!(r.header("location").is_some_and(|l| l.ends_with(&id)));
    assert!(r.header("etag").is_some());
    assert_types(&c.new_event_types().await, &["dsync.user.created"]);
    let du = c.directory_user(&id).await;
    assert_eq!(du["email"], "jdoe@contoso.com");
    assert_eq!(du["first_name"], "John");
    assert_eq!(du["last_name"], "Doe");
    assert_eq!(du["state"], "active");
    assert_eq!(du["idp_id"], "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
    assert_eq!(du["custom_attributes"]["department"], "Sales");

    // Lookups Entra does afterwards: userName (any case) and externalId.
    let r = c
        .filter("Users", "userName eq \"JDoe@Contoso.com\"", "")
        .await;
    let body = r.expect(200);
    assert_eq!(body["totalResults"], json!(1), "{body}");
    assert_eq!(body["Resources"][0]["id"], json!(id));
    let r = c
        .filter(
            "Users",
            "externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"",
            "",
        )
        .await;
    assert_eq!(r.expect(200)["totalResults"], json!(1));
    // Exact: another userName does not match.
    let r = c
        .filter("Users", "userName eq \"jdoe@contoso.co\"", "")
        .await;
    assert_eq!(r.expect(200)["totalResults"], json!(0));

    // A second user, without any email, who becomes the manager.
    let r = c
        .post(
            "/Users",
            json!({
                "schemas": [USER_SCHEMA],
                "externalId": "mgr-1",
                "userName": "Boss_Test_User",
                "active": "True",
                "name": {"givenName": "Big", "familyName": "Boss"},
            }),
        )
        .await;
    r.expect(201);
    let mgr = r.id();
    c.mark_events().await;

    // PATCH "Update User [Multi-valued properties]": capitalized ops.
    let r = c
        .patch(
            &format!("/Users/{id}"),
            entra_patch(json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@contoso.com"},
                {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
            ])),
        )
        .await;
    let body = r.expect(200).clone();
    assert_eq!(body["emails"][0]["value"], "updatedEmail@contoso.com");
    assert_eq!(body["emails"].as_array().unwrap().len(), 1);
    assert_eq!(body["name"]["familyName"], "updatedFamilyName");
    let events = c.new_events().await;
    assert_types(
        &rollcall_tests::scim::event_types(&events),
        &["dsync.user.updated"],
    );
    let prev = &find_event(&events, "dsync.user.updated")["data"]["previous_attributes"];
    assert_eq!(prev["last_name"], "Doe", "{prev}");
    assert_eq!(prev["email"], "jdoe@contoso.com", "{prev}");

    // "Update User [Single-valued properties]".
    let r = c
        .patch(
            &format!("/Users/{id}"),
            entra_patch(
                json!([{"op": "Replace", "path": "userName", "value": "john.doe@contoso.com"}]),
            ),
        )
        .await;
    assert_eq!(r.expect(200)["userName"], "john.doe@contoso.com");
    assert_types(&c.new_event_types().await, &["dsync.user.updated"]);

    // Path-less replace with dotted and URN-qualified keys; manager as a bare id.
    let r = c
        .patch(
            &format!("/Users/{id}"),
            entra_patch(json!([{
                "op": "Replace",
                "value": {
                    "displayName": "Johnny Doe",
                    "name.givenName": "Johnny",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Marketing",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": mgr,
                }
            }])),
        )
        .await;
    let body = r.expect(200).clone();
    assert_eq!(body["displayName"], "Johnny Doe");
    assert_eq!(body["name"]["givenName"], "Johnny");
    assert_eq!(body["name"]["familyName"], "updatedFamilyName");
    assert_eq!(body[ENTERPRISE]["department"], "Marketing");
    assert_eq!(body[ENTERPRISE]["employeeNumber"], "701984");
    assert_eq!(body[ENTERPRISE]["manager"]["value"], json!(mgr), "{body}");
    assert!(
        body.get("name.givenName").is_none(),
        "dotted keys must not be stored: {body}"
    );
    assert_types(&c.new_event_types().await, &["dsync.user.updated"]);
    let du = c.directory_user(&id).await;
    assert_eq!(du["first_name"], "Johnny");
    assert_eq!(du["custom_attributes"]["department"], "Marketing");
    assert_eq!(du["custom_attributes"]["manager_id"], json!(mgr));

    // Manager by path, as a bare string ("Add"), then nickName.
    let r = c
        .patch(
            &format!("/Users/{id}"),
            entra_patch(json!([
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": mgr},
                {"op": "Add", "path": "nickName", "value": "Babs"}
            ])),
        )
        .await;
    let body = r.expect(200).clone();
    assert_eq!(body[ENTERPRISE]["manager"]["value"], json!(mgr));
    assert_eq!(body["nickName"], "Babs");
    assert_types(&c.new_event_types().await, &["dsync.user.updated"]);

    // A work email on a user who has none: the filtered path creates it.
    let r = c
        .patch(
            &format!("/Users/{mgr}"),
            entra_patch(json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "boss@contoso.com"}])),
        )
        .await;
    let body = r.expect(200).clone();
    assert_eq!(
        body["emails"],
        json!([{"type": "work", "value": "boss@contoso.com"}]),
        "{body}"
    );
    assert_types(&c.new_event_types().await, &["dsync.user.updated"]);
    assert_eq!(c.directory_user(&mgr).await["email"], "boss@contoso.com");

    // Disable: "Replace" active "False".
    let r = c
        .patch(
            &format!("/Users/{id}"),
            entra_patch(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        )
        .await;
    assert_eq!(r.expect(200)["active"], json!(false));
    let events = c.new_events().await;
    assert_types(
        &rollcall_tests::scim::event_types(&events),
        &["dsync.user.updated"],
    );
    let data = &events[0]["data"];
    assert_eq!(data["state"], "inactive");
    assert_eq!(data["previous_attributes"]["state"], "active", "{data}");
    assert_eq!(c.directory_user(&id).await["state"], "inactive");
    let r = c.get(&format!("/Users/{id}")).await;
    assert_eq!(r.expect(200)["active"], json!(false));

    // Reactivate.
    let r = c
        .patch(
            &format!("/Users/{id}"),
            entra_patch(json!([{"op": "Replace", "path": "active", "value": "True"}])),
        )
        .await;
    assert_eq!(r.expect(200)["active"], json!(true));
    let events = c.new_events().await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(
        events[0]["data"]["previous_attributes"]["state"],
        "inactive"
    );
    assert_eq!(c.directory_user(&id).await["state"], "active");

    // Delete.
    c.delete(&format!("/Users/{id}")).await.expect(204);
    assert_types(&c.new_event_types().await, &["dsync.user.deleted"]);
    c.get(&format!("/Users/{id}")).await.expect_error(404, None);
    let r = c
        .filter("Users", "userName eq \"john.doe@contoso.com\"", "")
        .await;
    assert_eq!(r.expect(200)["totalResults"], json!(0));
}

async fn entra_group_lifecycle(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "azure-scim-v2", Some(ENTRA_UA)).await;
    let a = c
        .post("/Users", entra_user("a@contoso.com", "ext-a", "Ann", "A"))
        .await
        .id();
    let b = c
        .post("/Users", entra_user("b@contoso.com", "ext-b", "Bob", "B"))
        .await
        .id();
    c.mark_events().await;

    // Lookup by displayName, excluding members: nothing yet.
    let r = c
        .filter(
            "Groups",
            "displayName eq \"Sales Group\"",
            "excludedAttributes=members",
        )
        .await;
    assert_eq!(r.expect(200)["totalResults"], json!(0));

    // Create, with Entra's extra schema URN.
    let r = c
        .post(
            "/Groups",
            json!({
                "schemas": [GROUP_SCHEMA, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
                "displayName": "Sales Group",
                "meta": {"resourceType": "Group"}
            }),
        )
        .await;
    let body = r.expect(201).clone();
    let g = r.id();
    assert_eq!(body["schemas"], json!([GROUP_SCHEMA]));
    assert_eq!(body["displayName"], "Sales Group");
    assert_types(&c.new_event_types().await, &["dsync.group.created"]);
    assert_eq!(c.directory_group(&g).await["name"], "Sales Group");

    // Lookups: externalId and displayName, members excluded.
    for filter in [
        "externalId eq \"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159\"",
        "displayName eq \"Sales Group\"",
    ] {
        let r = c
            .filter("Groups", filter, "excludedAttributes=members")
            .await;
        let body = r.expect(200);
        assert_eq!(body["totalResults"], json!(1), "{filter}: {body}");
        assert_eq!(body["Resources"][0]["id"], json!(g));
        assert!(body["Resources"][0].get("members").is_none(), "{body}");
    }

    // Add members, one PATCH each (Entra's "Update Group [Add Members]").
    for user in [&a, &b] {
        let r = c
            .patch(
                &format!("/Groups/{g}"),
                entra_patch(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": user}]}])),
            )
            .await;
        r.expect(200);
        let events = c.new_events().await;
        assert_types(
            &rollcall_tests::scim::event_types(&events),
            &["dsync.group.user_added"],
        );
    }
    assert_eq!(c.member_ids(&g).await, sorted(vec![a.clone(), b.clone()]));
    // The user's groups show it.
    let r = c.get(&format!("/Users/{a}")).await;
    assert_eq!(r.expect(200)["groups"][0]["value"], json!(g));
    // So does a filtered lookup, which reads them in the same query.
    let r = c.filter("Users", &format!("id eq \"{a}\""), "").await;
    let found = &r.expect(200)["Resources"][0];
    assert_eq!(found["groups"][0]["value"], json!(g), "{found}");
    assert!(found["groups"][0]["display"].is_string(), "{found}");
    assert_eq!(found["groups"].as_array().map(Vec::len), Some(1), "{found}");

    // GET with excludedAttributes=members.
    let r = c
        .get(&format!("/Groups/{g}?excludedAttributes=members"))
        .await;
    let body = r.expect(200);
    assert!(body.get("members").is_none(), "{body}");
    assert_eq!(body["displayName"], "Sales Group");
    assert_eq!(body["id"], json!(g));

    // Remove a member with a value list ("Update Group [Remove Members]").
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            entra_patch(
                json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": a}]}]),
            ),
        )
        .await;
    r.expect(200);
    assert_types(&c.new_event_types().await, &["dsync.group.user_removed"]);
    assert_eq!(c.member_ids(&g).await, vec![b.clone()]);

    // Rename.
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            entra_patch(json!([{"op": "Replace", "path": "displayName", "value": "Sales Team"}])),
        )
        .await;
    assert_eq!(r.expect(200)["displayName"], "Sales Team");
    let events = c.new_events().await;
    assert_types(
        &rollcall_tests::scim::event_types(&events),
        &["dsync.group.updated"],
    );
    assert_eq!(
        events[0]["data"]["previous_attributes"]["name"],
        "Sales Group"
    );
    assert_eq!(
        c.member_ids(&g).await,
        vec![b.clone()],
        "rename kept members"
    );

    // Deleting a member user: user_removed, then user.deleted.
    c.delete(&format!("/Users/{b}")).await.expect(204);
    assert_types(
        &c.new_event_types().await,
        &["dsync.group.user_removed", "dsync.user.deleted"],
    );
    assert!(c.member_ids(&g).await.is_empty());

    // Delete the group.
    c.delete(&format!("/Groups/{g}")).await.expect(204);
    assert_types(&c.new_event_types().await, &["dsync.group.deleted"]);
    c.get(&format!("/Groups/{g}")).await.expect_error(404, None);
}

/// Entra with `aadOptscim062020` on the tenant URL: lowercase ops, real
/// booleans, path-less replace with a filtered key, `members[value eq]` remove.
async fn entra_aadoptscim062020(backend: Backend) {
    let app = TestApp::new(backend).await;
    let mut c = ScimClient::setup(&app, "azure-scim-v2", Some(ENTRA_UA)).await;
    c.extra_query = Some("aadOptscim062020".into());

    let r = c
        .filter(
            "Users",
            "userName eq \"e7c2ab31-5a6d-4d0c-9a4f-6a0b2b1fb3a1\"",
            "",
        )
        .await;
    assert_eq!(r.expect(200)["totalResults"], json!(0));
    let mut body = entra_user("kim@contoso.com", "ext-kim", "Kim", "Lee");
    body["active"] = json!(true);
    let r = c.post("/Users", body).await;
    r.expect(201);
    let u = r.id();
    let v = c
        .post(
            "/Users",
            entra_user("val@contoso.com", "ext-val", "Val", "Ng"),
        )
        .await
        .id();
    c.mark_events().await;

    // Path-less replace, the documented post-flag shape.
    let r = c
        .patch(
            &format!("/Users/{u}"),
            ops(json!([{
                "op": "replace",
                "value": {
                    "displayName": "Pvlo",
                    "emails[type eq \"work\"].value": "TestBcwqnm@test.contoso.com",
                    "name.givenName": "Gtfd",
                    "name.familyName": "Pkqf",
                    "externalId": "Eqpj",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Eqpj",
                    "active": false
                }
            }])),
        )
        .await;
    let body = r.expect(200).clone();
    assert_eq!(body["displayName"], "Pvlo");
    assert_eq!(
        body["emails"],
        json!([{"primary": true, "type": "work", "value": "TestBcwqnm@test.contoso.com"}]),
        "{body}"
    );
    assert_eq!(body["name"]["givenName"], "Gtfd");
    assert_eq!(body["name"]["familyName"], "Pkqf");
    assert_eq!(body["externalId"], "Eqpj");
    assert_eq!(body[ENTERPRISE]["employeeNumber"], "Eqpj");
    assert_eq!(body["active"], json!(false));
    assert_types(&c.new_event_types().await, &["dsync.user.updated"]);
    let du = c.directory_user(&u).await;
    assert_eq!(du["state"], "inactive");
    assert_eq!(du["idp_id"], "Eqpj");
    assert_eq!(du["email"], "TestBcwqnm@test.contoso.com");

    // Group with members via lowercase add; remove by value filter.
    let g = c
        .post(
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "externalId": "grp-1", "displayName": "Flagged"}),
        )
        .await
        .id();
    c.mark_events().await;
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "add", "path": "members", "value": [{"value": u}, {"value": v}]}])),
        )
        .await;
    r.expect(200);
    assert_types(
        &c.new_event_types().await,
        &["dsync.group.user_added", "dsync.group.user_added"],
    );
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "remove", "path": format!("members[value eq \"{u}\"]")}])),
        )
        .await;
    r.expect(200);
    assert_types(&c.new_event_types().await, &["dsync.group.user_removed"]);
    assert_eq!(c.member_ids(&g).await, vec![v.clone()]);

    // Reactivate with a boolean.
    let r = c
        .patch(
            &format!("/Users/{u}"),
            ops(json!([{"op": "replace", "path": "active", "value": true}])),
        )
        .await;
    assert_eq!(r.expect(200)["active"], json!(true));
    assert_eq!(c.directory_user(&u).await["state"], "active");
}

/// Less common but documented Entra shapes: multi-valued adds with
/// `"primary": "True"`, filtered paths creating absent elements, manager
/// removal, custom-extension URNs the directory does not define,
/// form-encoded filters, a single member object instead of a list, and a
/// duplicate externalId.
async fn entra_more_shapes(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "azure-scim-v2", Some(ENTRA_UA)).await;
    let mut body = entra_user("x+tag@contoso.com", "ext-x", "Xa", "Vier");
    body["schemas"] = json!([
        USER_SCHEMA,
        ENTERPRISE,
        "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
    ]);
    body["urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"] =
        json!({"CustomAttribute": "x"});
    body["emails"] = json!([{"primary": "True", "type": "work", "value": "x+tag@contoso.com"}]);
    let r = c.post("/Users", body).await;
    let created = r.expect(201).clone();
    let u = r.id();
    assert_eq!(created["emails"][0]["primary"], json!(true));
    let m = c
        .post(
            "/Users",
            entra_user("m@contoso.com", "ext-m", "Ma", "Nager"),
        )
        .await
        .id();
    c.mark_events().await;

    // Form-encoded filter (`+` for spaces, `%2B` for a plus in the value).
    let r = c
        .get("/Users?filter=userName+eq+%22x%2Btag%40contoso.com%22")
        .await;
    assert_eq!(r.expect(200)["totalResults"], json!(1), "{}", r.body);

    // Add a second email with "primary": "True" inside the value list.
    let r = c
        .patch(
            &format!("/Users/{u}"),
            ops(json!([{"op": "Add", "path": "emails", "value": [
                {"value": "x@personal.example", "type": "other", "primary": "True"}
            ]}])),
        )
        .await;
    let body = r.expect(200).clone();
    let emails = body["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 2, "{body}");
    assert_eq!(
        emails
            .iter()
            .filter(|e| e["primary"] == json!(true))
            .count(),
        1,
        "at most one primary: {body}"
    );
    assert!(
        emails
            .iter()
            .all(|e| e["primary"].is_boolean() || e["primary"].is_null())
    );
    c.mark_events().await;

    // Filtered paths on absent elements create them.
    let r = c
        .patch(
            &format!("/Users/{u}"),
            ops(json!([
                {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Microsoft Way"},
                {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Redmond"},
                {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 425 555 0100"}
            ])),
        )
        .await;
    let body = r.expect(200).clone();
    assert_eq!(
        body["addresses"],
        json!([{"type": "work", "streetAddress": "1 Microsoft Way", "locality": "Redmond"}]),
        "{body}"
    );
    assert_eq!(
        body["phoneNumbers"],
        json!([{"type": "mobile", "value": "+1 425 555 0100"}])
    );
    assert_types(&c.new_event_types().await, &["dsync.user.updated"]);

    // Manager set, then removed.
    let mpath = format!("{ENTERPRISE}:manager");
    c.patch(
        &format!("/Users/{u}"),
        ops(json!([{"op": "Add", "path": mpath, "value": m}])),
    )
    .await
    .expect(200);
    assert_eq!(
        c.directory_user(&u).await["custom_attributes"]["manager_id"],
        json!(m)
    );
    let r = c
        .patch(
            &format!("/Users/{u}"),
            ops(json!([{"op": "Remove", "path": mpath}])),
        )
        .await;
    let body = r.expect(200).clone();
    assert!(
        body[ENTERPRISE].get("manager").is_none(),
        "manager removed: {body}"
    );
    assert!(
        c.directory_user(&u).await["custom_attributes"]
            .get("manager_id")
            .is_none()
    );

    // Group member add with a single object instead of a list.
    let g = c
        .post(
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "externalId": "g-more", "displayName": "More"}),
        )
        .await
        .id();
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "Add", "path": "members", "value": {"value": u}}])),
        )
        .await;
    r.expect(200);
    assert_eq!(c.member_ids(&g).await, vec![u.clone()]);

    // A second user with the same externalId: 409 uniqueness.
    c.post("/Users", entra_user("dup@contoso.com", "ext-x", "Du", "P"))
        .await
        .expect_error(409, Some("uniqueness"));
    // A second group with the same externalId too.
    c.post(
        "/Groups",
        json!({"schemas": [GROUP_SCHEMA], "externalId": "g-more", "displayName": "More 2"}),
    )
    .await
    .expect_error(409, Some("uniqueness"));
}

// ---------------------------------------------------------------------------
// Okta
// ---------------------------------------------------------------------------

fn okta_user(user_name: &str, given: &str, family: &str, external_id: &str) -> Value {
    // "Create the User" in Okta's SCIM 2.0 protocol reference.
    json!({
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": format!("{given} {family}"),
        "locale": "en-US",
        "externalId": external_id,
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

async fn okta_user_lifecycle(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "okta-scim-v2", Some(OKTA_UA)).await;

    // Connection test and the lookup before create.
    let r = c.get("/Users?startIndex=1&count=2").await;
    assert_eq!(r.expect(200)["totalResults"], json!(0));
    let r = c
        .filter(
            "Users",
            "userName eq \"test.user@okta.local\"",
            "startIndex=1&count=100",
        )
        .await;
    let body = r.expect(200);
    assert_eq!(body["totalResults"], json!(0));
    assert_eq!(body["startIndex"], json!(1));

    let r = c
        .post(
            "/Users",
            okta_user(
                "test.user@okta.local",
                "Test",
                "User",
                "00ujl29u0le5T6Aj10h7",
            ),
        )
        .await;
    let created = r.expect(201).clone();
    let id = r.id();
    assert!(created.get("password").is_none(), "{created}");
    let events = c.new_events().await;
    assert_types(
        &rollcall_tests::scim::event_types(&events),
        &["dsync.user.created"],
    );
    assert!(
        !events[0].to_string().contains("1mz050nq"),
        "password leaked into the event: {}",
        events[0]
    );
    let du = c.directory_user(&id).await;
    assert!(!du.to_string().contains("1mz050nq"), "{du}");
    assert_eq!(du["email"], "test.user@okta.local");
    assert_eq!(du["custom_attributes"]["locale"], "en-US");

    // The same lookup now finds it; GET by id has no password.
    let r = c
        .filter(
            "Users",
            "userName eq \"test.user@okta.local\"",
            "startIndex=1&count=100",
        )
        .await;
    assert_eq!(r.expect(200)["Resources"][0]["id"], json!(id));
    let r = c.get(&format!("/Users/{id}")).await;
    let current = r.expect(200).clone();
    assert!(current.get("password").is_none());

    // PUT the full user with a new family name.
    let mut full = current.clone();
    full["name"]["familyName"] = json!("Updated");
    full["password"] = json!("s3cr3t-new");
    let r = c.put(&format!("/Users/{id}"), full.clone()).await;
    let body = r.expect(200).clone();
    assert_eq!(body["name"]["familyName"], "Updated");
    assert!(body.get("password").is_none());
    let events = c.new_events().await;
    assert_types(
        &rollcall_tests::scim::event_types(&events),
        &["dsync.user.updated"],
    );
    assert!(!events[0].to_string().contains("s3cr3t-new"));

    // Deactivate with PUT active:false.
    full["active"] = json!(false);
    let r = c.put(&format!("/Users/{id}"), full.clone()).await;
    assert_eq!(r.expect(200)["active"], json!(false));
    let events = c.new_events().await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["data"]["previous_attributes"]["state"], "active");
    assert_eq!(c.directory_user(&id).await["state"], "inactive");

    // Reactivate, then deactivate with path-less PATCH.
    let r = c
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "replace", "value": {"active": true}}])),
        )
        .await;
    assert_eq!(r.expect(200)["active"], json!(true));
    assert_types(&c.new_event_types().await, &["dsync.user.updated"]);
    let r = c
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert_eq!(r.expect(200)["active"], json!(false));
    assert_types(&c.new_event_types().await, &["dsync.user.updated"]);
    assert_eq!(c.directory_user(&id).await["state"], "inactive");

    // Okta's password sync is a path-less PATCH: stored nowhere, no event.
    let r = c
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "replace", "value": {"password": "another-pw-9"}}])),
        )
        .await;
    let body = r.expect(200).clone();
    assert!(!body.to_string().contains("another-pw-9"));
    assert!(c.new_events().await.is_empty());
    let du = c.directory_user(&id).await;
    assert!(!du.to_string().contains("another-pw-9"), "{du}");

    // Profile update by PATCH with a path.
    let r = c
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "replace", "path": "name.givenName", "value": "Tess"}])),
        )
        .await;
    assert_eq!(r.expect(200)["name"]["givenName"], "Tess");
    assert_eq!(c.directory_user(&id).await["first_name"], "Tess");
}

async fn okta_group_lifecycle(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "okta-scim-v2", Some(OKTA_UA)).await;
    let mut ids = Vec::new();
    for (i, name) in ["ann", "bob", "cat", "dan"].iter().enumerate() {
        let r = c
            .post(
                "/Users",
                okta_user(&format!("{name}@okta.local"), name, "X", &format!("00u{i}")),
            )
            .await;
        r.expect(201);
        ids.push(r.id());
    }
    let (a, b, cc, d) = (&ids[0], &ids[1], &ids[2], &ids[3]);
    c.mark_events().await;

    // Push group: lookup, then POST with members.
    let r = c
        .filter(
            "Groups",
            "displayName eq \"Test SCIMv2\"",
            "startIndex=1&count=100",
        )
        .await;
    assert_eq!(r.expect(200)["totalResults"], json!(0));
    let r = c
        .post(
            "/Groups",
            json!({
                "schemas": [GROUP_SCHEMA],
                "displayName": "Test SCIMv2",
                "members": [{"value": a, "display": "ann@okta.local"}]
            }),
        )
        .await;
    let body = r.expect(201).clone();
    let g = r.id();
    assert_eq!(member_values(&body), vec![a.clone()]);
    assert_types(
        &c.new_event_types().await,
        &["dsync.group.created", "dsync.group.user_added"],
    );

    // PATCH add a list.
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "add", "path": "members", "value": [
                {"value": b, "display": "bob@okta.local"},
                {"value": cc, "display": "cat@okta.local"}
            ]}])),
        )
        .await;
    r.expect(200);
    assert_types(
        &c.new_event_types().await,
        &["dsync.group.user_added", "dsync.group.user_added"],
    );
    assert_eq!(
        c.member_ids(&g).await,
        sorted(vec![a.clone(), b.clone(), cc.clone()])
    );

    // Remove by value filter.
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "remove", "path": format!("members[value eq \"{b}\"]")}])),
        )
        .await;
    r.expect(200);
    assert_types(&c.new_event_types().await, &["dsync.group.user_removed"]);

    // Remove a list.
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "remove", "path": "members", "value": [{"value": cc}]}])),
        )
        .await;
    r.expect(200);
    assert_types(&c.new_event_types().await, &["dsync.group.user_removed"]);
    assert_eq!(c.member_ids(&g).await, vec![a.clone()]);

    // Full member-list PUT: membership is exactly the list afterwards.
    let r = c
        .put(
            &format!("/Groups/{g}"),
            json!({
                "schemas": [GROUP_SCHEMA],
                "id": g,
                "displayName": "Test SCIMv2",
                "members": [{"value": b, "display": "bob@okta.local"}, {"value": d, "display": "dan@okta.local"}]
            }),
        )
        .await;
    let body = r.expect(200).clone();
    assert_eq!(member_values(&body), sorted(vec![b.clone(), d.clone()]));
    assert_type_set(
        &c.new_event_types().await,
        &[
            "dsync.group.user_removed",
            "dsync.group.user_added",
            "dsync.group.user_added",
        ],
    );
    assert_eq!(c.member_ids(&g).await, sorted(vec![b.clone(), d.clone()]));

    // Rename via path-less PATCH carrying the id.
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "replace", "value": {"id": g, "displayName": "Renamed SCIMv2"}}])),
        )
        .await;
    let body = r.expect(200).clone();
    assert_eq!(body["displayName"], "Renamed SCIMv2");
    assert_eq!(body["id"], json!(g));
    let events = c.new_events().await;
    assert_types(
        &rollcall_tests::scim::event_types(&events),
        &["dsync.group.updated"],
    );
    assert_eq!(
        events[0]["data"]["previous_attributes"]["name"],
        "Test SCIMv2"
    );
    assert_eq!(c.member_ids(&g).await, sorted(vec![b.clone(), d.clone()]));
    assert_eq!(c.directory_group(&g).await["name"], "Renamed SCIMv2");

    // Delete the group.
    c.delete(&format!("/Groups/{g}")).await.expect(204);
    let types = c.new_event_types().await;
    assert_eq!(
        types.last().map(String::as_str),
        Some("dsync.group.deleted"),
        "{types:?}"
    );
    c.get(&format!("/Groups/{g}")).await.expect_error(404, None);
    let r = c.get(&format!("/Users/{b}")).await;
    assert!(
        r.expect(200).get("groups").is_none()
            || r.body["groups"].as_array().is_some_and(Vec::is_empty)
    );
}

// ---------------------------------------------------------------------------
// OneLogin
// ---------------------------------------------------------------------------

async fn onelogin_lifecycle(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "onelogin-scim-v2", Some(ONELOGIN_UA)).await;

    let r = c
        .filter("Users", "userName eq \"maria@onelogin.test\"", "")
        .await;
    assert_eq!(r.expect(200)["totalResults"], json!(0));
    let user = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": "maria@onelogin.test",
        "externalId": "148563845",
        "name": {"givenName": "Maria", "familyName": "Garcia"},
        "displayName": "Maria Garcia",
        "title": "Engineer",
        "emails": [{"value": "maria@onelogin.test", "primary": true, "type": "work"}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        "active": true,
        ENTERPRISE: {"department": "R&D", "organization": "Acme"}
    });
    let r = c.post("/Users", user.clone()).await;
    r.expect(201);
    let u = r.id();
    let other = c
        .post(
            "/Users",
            json!({"schemas": [USER_SCHEMA], "userName": "li@onelogin.test", "externalId": "148563846",
                   "name": {"givenName": "Li", "familyName": "Wei"},
                   "emails": [{"value": "li@onelogin.test", "primary": true}], "active": true}),
        )
        .await
        .id();
    assert_types(
        &c.new_event_types().await,
        &["dsync.user.created", "dsync.user.created"],
    );
    let du = c.directory_user(&u).await;
    assert_eq!(du["custom_attributes"]["job_title"], "Engineer");
    assert_eq!(du["custom_attributes"]["organization"], "Acme");

    // Updates are full PUTs.
    let mut put = user.clone();
    put["title"] = json!("Senior Engineer");
    put[ENTERPRISE]["department"] = json!("Platform");
    let r = c.put(&format!("/Users/{u}"), put.clone()).await;
    let body = r.expect(200).clone();
    assert_eq!(body["title"], "Senior Engineer");
    assert_eq!(body[ENTERPRISE]["department"], "Platform");
    assert_types(&c.new_event_types().await, &["dsync.user.updated"]);

    // Groups (OneLogin "roles" pushed as groups): create, add, remove.
    let g = c
        .post(
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Engineering", "members": []}),
        )
        .await;
    g.expect(201);
    let g = g.id();
    assert_types(&c.new_event_types().await, &["dsync.group.created"]);
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "add", "path": "members", "value": [{"value": u}, {"value": other}]}])),
        )
        .await;
    r.expect(200);
    assert_types(
        &c.new_event_types().await,
        &["dsync.group.user_added", "dsync.group.user_added"],
    );
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "remove", "path": format!("members[value eq \"{other}\"]")}])),
        )
        .await;
    r.expect(200);
    assert_types(&c.new_event_types().await, &["dsync.group.user_removed"]);
    assert_eq!(c.member_ids(&g).await, vec![u.clone()]);
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "replace", "path": "displayName", "value": "Eng"}])),
        )
        .await;
    assert_eq!(r.expect(200)["displayName"], "Eng");
    assert_types(&c.new_event_types().await, &["dsync.group.updated"]);

    // Deactivate by PUT active:false, then by PATCH, reactivate by PUT.
    put["active"] = json!(false);
    let r = c.put(&format!("/Users/{u}"), put.clone()).await;
    assert_eq!(r.expect(200)["active"], json!(false));
    let events = c.new_events().await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["data"]["previous_attributes"]["state"], "active");
    put["active"] = json!(true);
    c.put(&format!("/Users/{u}"), put.clone()).await.expect(200);
    let r = c
        .patch(
            &format!("/Users/{u}"),
            ops(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(r.expect(200)["active"], json!(false));
    assert_eq!(c.directory_user(&u).await["state"], "inactive");
    c.mark_events().await;

    // Delete user (member of the group), then the group.
    c.delete(&format!("/Users/{u}")).await.expect(204);
    assert_types(
        &c.new_event_types().await,
        &["dsync.group.user_removed", "dsync.user.deleted"],
    );
    c.delete(&format!("/Groups/{g}")).await.expect(204);
    assert_types(&c.new_event_types().await, &["dsync.group.deleted"]);
}

// ---------------------------------------------------------------------------
// JumpCloud
// ---------------------------------------------------------------------------

async fn jumpcloud_lifecycle(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "jumpcloud-scim-v2", Some(JUMPCLOUD_UA)).await;

    // "Test Connection" creates a test user and a test group, then deletes them.
    let tu = c
        .post(
            "/Users",
            json!({"schemas": [USER_SCHEMA], "userName": "jctest@jumpcloud.test", "externalId": "jc-test",
                   "name": {"givenName": "JumpCloud", "familyName": "Test"},
                   "emails": [{"value": "jctest@jumpcloud.test", "type": "work", "primary": true}], "active": true}),
        )
        .await;
    tu.expect(201);
    let tg = c
        .post(
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "displayName": "JumpCloud Test Group"}),
        )
        .await;
    tg.expect(201);
    c.delete(&format!("/Users/{}", tu.id())).await.expect(204);
    c.delete(&format!("/Groups/{}", tg.id())).await.expect(204);
    assert_types(
        &c.new_event_types().await,
        &[
            "dsync.user.created",
            "dsync.group.created",
            "dsync.user.deleted",
            "dsync.group.deleted",
        ],
    );

    let user = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": "sam@jumpcloud.test",
        "externalId": "5f3c0a1e9b2d4c0012345678",
        "name": {"givenName": "Sam", "familyName": "Jones", "formatted": "Sam Jones"},
        "displayName": "Sam Jones",
        "title": "Analyst",
        "emails": [{"value": "sam@jumpcloud.test", "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "555-0101", "type": "work"}],
        "addresses": [{"type": "work", "streetAddress": "1 Main St", "locality": "Boulder", "region": "CO", "postalCode": "80301", "country": "US"}],
        "active": true,
        ENTERPRISE: {"employeeNumber": "42", "department": "Finance", "costCenter": "CC1"}
    });
    let r = c.post("/Users", user.clone()).await;
    let created = r.expect(201).clone();
    let u = r.id();
    assert_eq!(created["addresses"][0]["locality"], "Boulder");
    let u2 = c
        .post(
            "/Users",
            json!({"schemas": [USER_SCHEMA], "userName": "lee@jumpcloud.test", "externalId": "5f3c0a1e9b2d4c0012345679",
                   "name": {"givenName": "Lee", "familyName": "Kay"},
                   "emails": [{"value": "lee@jumpcloud.test", "type": "work", "primary": true}], "active": true}),
        )
        .await
        .id();
    c.mark_events().await;
    let du = c.directory_user(&u).await;
    assert_eq!(du["custom_attributes"]["cost_center"], "CC1");
    assert_eq!(du["custom_attributes"]["employee_number"], "42");

    // Update by full PUT.
    let mut put = user.clone();
    put["name"]["familyName"] = json!("Jones-Smith");
    let r = c.put(&format!("/Users/{u}"), put.clone()).await;
    assert_eq!(r.expect(200)["name"]["familyName"], "Jones-Smith");
    assert_types(&c.new_event_types().await, &["dsync.user.updated"]);
    assert_eq!(c.directory_user(&u).await["last_name"], "Jones-Smith");

    // Group: create, add members with a value list, remove with a value list.
    let g = c
        .post(
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Finance"}),
        )
        .await
        .id();
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "add", "path": "members", "value": [{"value": u}, {"value": u2}]}])),
        )
        .await;
    r.expect(200);
    assert_types(
        &c.new_event_types().await,
        &[
            "dsync.group.created",
            "dsync.group.user_added",
            "dsync.group.user_added",
        ],
    );
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "remove", "path": "members", "value": [{"value": u2}]}])),
        )
        .await;
    r.expect(200);
    assert_types(&c.new_event_types().await, &["dsync.group.user_removed"]);
    assert_eq!(c.member_ids(&g).await, vec![u.clone()]);
    // Rename with PATCH replace.
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "replace", "path": "displayName", "value": "Finance Team"}])),
        )
        .await;
    assert_eq!(r.expect(200)["displayName"], "Finance Team");
    assert_types(&c.new_event_types().await, &["dsync.group.updated"]);

    // Deactivate (PATCH active false), reactivate (PUT active true).
    let r = c
        .patch(
            &format!("/Users/{u}"),
            ops(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(r.expect(200)["active"], json!(false));
    let events = c.new_events().await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["data"]["previous_attributes"]["state"], "active");
    let r = c.put(&format!("/Users/{u}"), put.clone()).await;
    assert_eq!(r.expect(200)["active"], json!(true));
    assert_eq!(c.directory_user(&u).await["state"], "active");
    c.mark_events().await;

    // Delete.
    c.delete(&format!("/Users/{u}")).await.expect(204);
    assert_types(
        &c.new_event_types().await,
        &["dsync.group.user_removed", "dsync.user.deleted"],
    );
    assert!(c.member_ids(&g).await.is_empty());
}

// ---------------------------------------------------------------------------
// No-op writes
// ---------------------------------------------------------------------------

async fn noop_writes_emit_nothing(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "azure-scim-v2", Some(ENTRA_UA)).await;
    let user = entra_user("noop@contoso.com", "ext-noop", "No", "Op");
    let r = c.post("/Users", user.clone()).await;
    r.expect(201);
    let u = r.id();
    let g = c
        .post(
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Noop", "externalId": "g-noop"}),
        )
        .await
        .id();
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "Add", "path": "members", "value": [{"value": u}]}])),
        )
        .await;
    r.expect(200);
    c.mark_events().await;
    let version = c.get(&format!("/Users/{u}")).await.header("etag");

    // PUT of the same user.
    c.put(&format!("/Users/{u}"), user.clone())
        .await
        .expect(200);
    assert!(c.new_events().await.is_empty(), "identical PUT");
    // PATCH replacing with equal values ("True" for an active user too).
    let r = c
        .patch(
            &format!("/Users/{u}"),
            ops(json!([
                {"op": "Replace", "path": "active", "value": "True"},
                {"op": "Replace", "path": "name.givenName", "value": "No"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "noop@contoso.com"}
            ])),
        )
        .await;
    r.expect(200);
    assert!(c.new_events().await.is_empty(), "equal-value PATCH");
    assert_eq!(
        c.get(&format!("/Users/{u}")).await.header("etag"),
        version,
        "a no-op must not bump the version"
    );
    // Repeated member add, and removing a non-member.
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "Add", "path": "members", "value": [{"value": u}]}])),
        )
        .await;
    r.expect(200);
    assert!(c.new_events().await.is_empty(), "repeated member add");
    let other = c
        .post(
            "/Users",
            entra_user("other@contoso.com", "ext-other", "Ot", "Her"),
        )
        .await
        .id();
    c.mark_events().await;
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "Remove", "path": "members", "value": [{"value": other}]}])),
        )
        .await;
    r.expect(200);
    assert!(c.new_events().await.is_empty(), "removing a non-member");
    // Group PUT with the same name and members; group PATCH same name.
    let r = c
        .put(
            &format!("/Groups/{g}"),
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Noop", "externalId": "g-noop", "members": [{"value": u}]}),
        )
        .await;
    r.expect(200);
    assert!(c.new_events().await.is_empty(), "identical group PUT");
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            ops(json!([{"op": "Replace", "path": "displayName", "value": "Noop"}])),
        )
        .await;
    r.expect(200);
    assert!(c.new_events().await.is_empty(), "equal group rename");
    assert_eq!(c.member_ids(&g).await, vec![u.clone()]);
}

both_backends!(
    entra_user_lifecycle,
    entra_group_lifecycle,
    entra_aadoptscim062020,
    entra_more_shapes,
    okta_user_lifecycle,
    okta_group_lifecycle,
    onelogin_lifecycle,
    jumpcloud_lifecycle,
    noop_writes_emit_nothing,
);
