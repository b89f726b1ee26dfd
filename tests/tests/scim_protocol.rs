//! RFC 7643/7644 behaviour of the SCIM service provider over HTTP:
//! discovery, `/Me`, filters, pagination, sorting, projections, ETags,
//! uniqueness, isolation, `.search`, Bulk, errors, the request log, custom
//! extension schemas and SCIM 1.1. On both backends.

use std::time::Duration;

use axum::http::Method;
use rollcall_tests::scim::{
    BULK_REQUEST, ENTERPRISE, GROUP_SCHEMA, LIST_RESPONSE, OKTA_UA, PATCH_OP, SEARCH_REQUEST,
    ScimClient, USER_SCHEMA, assert_scim_error, enc, member_values,
};
use rollcall_tests::{Backend, TestApp, both_backends};
use serde_json::{Value, json};

fn user(user_name: &str) -> Value {
    json!({"schemas": [USER_SCHEMA], "userName": user_name})
}

fn ops(operations: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": operations})
}

fn ids_of(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no Resources in {list}"))
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn user_names(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no Resources in {list}"))
        .iter()
        .map(|r| r["userName"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[track_caller]
fn assert_meta(resource: &Value, resource_type: &str, location_suffix: &str) {
    assert_eq!(
        resource["meta"]["resourceType"], resource_type,
        "{resource}"
    );
    let location = resource["meta"]["location"].as_str().unwrap_or_default();
    assert!(
        location.starts_with("http") && location.ends_with(location_suffix),
        "location {location:?} should end with {location_suffix:?}"
    );
}

// ---------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------

async fn discovery_is_well_formed(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "generic-scim-v2", None).await;

    let r = c.get("/ServiceProviderConfig").await;
    let spc = r.expect(200).clone();
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/scim+json")
    );
    assert_eq!(
        spc["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"])
    );
    assert_meta(&spc, "ServiceProviderConfig", "/ServiceProviderConfig");
    assert_eq!(spc["patch"]["supported"], json!(true));
    assert_eq!(spc["bulk"]["supported"], json!(true));
    assert_eq!(spc["bulk"]["maxOperations"], json!(1000));
    assert!(spc["bulk"]["maxPayloadSize"].is_u64());
    assert_eq!(spc["filter"]["supported"], json!(true));
    assert_eq!(spc["filter"]["maxResults"], json!(1000));
    assert_eq!(spc["sort"]["supported"], json!(true));
    assert_eq!(spc["etag"]["supported"], json!(true));
    assert_eq!(spc["changePassword"]["supported"], json!(false));
    assert!(
        !spc["authenticationSchemes"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );

    let r = c.get("/ResourceTypes").await;
    let list = r.expect(200).clone();
    assert_eq!(list["schemas"], json!([LIST_RESPONSE]));
    assert_eq!(list["totalResults"], json!(2));
    for rt in list["Resources"].as_array().unwrap() {
        assert_eq!(
            rt["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:ResourceType"])
        );
        let id = rt["id"].as_str().unwrap();
        assert_meta(rt, "ResourceType", &format!("/ResourceTypes/{id}"));
    }
    let r = c.get("/ResourceTypes/User").await;
    let rt = r.expect(200).clone();
    assert_eq!(rt["endpoint"], "/Users");
    assert_eq!(rt["schema"], USER_SCHEMA);
    assert!(
        rt["schemaExtensions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["schema"] == ENTERPRISE),
        "{rt}"
    );
    assert_eq!(
        c.get("/ResourceTypes/Group").await.expect(200)["endpoint"],
        "/Groups"
    );
    c.get("/ResourceTypes/Nope").await.expect_error(404, None);

    let r = c.get("/Schemas").await;
    let list = r.expect(200).clone();
    let schemas = list["Resources"].as_array().unwrap();
    assert!(schemas.len() >= 3);
    for s in schemas {
        assert_eq!(
            s["schemas"],
            json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"])
        );
        let id = s["id"].as_str().unwrap();
        assert_meta(s, "Schema", &format!("/Schemas/{id}"));
        assert!(s["attributes"].is_array());
    }
    let r = c.get(&format!("/Schemas/{USER_SCHEMA}")).await;
    let us = r.expect(200).clone();
    let password = us["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "password")
        .expect("password attribute");
    assert_eq!(password["returned"], "never");
    assert_eq!(password["mutability"], "writeOnly");
    c.get(&format!("/Schemas/{ENTERPRISE}")).await.expect(200);
    c.get(&format!("/Schemas/{GROUP_SCHEMA}")).await.expect(200);
}

async fn me_and_unknown_endpoints(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "generic-scim-v2", None).await;
    c.get("/Me").await.expect_error(501, None);
    c.post("/Me", user("me@x.com"))
        .await
        .expect_error(501, None);
    // Unknown endpoints and methods under the SCIM base answer SCIM errors
    // (RFC 7644 §3.12), not the management API's error JSON.
    c.get("/0b7e4f5c-4d61-4b1e-9f0e-2f1d3c4b5a69")
        .await
        .expect_error(404, None);
    c.get("/Users/x/y").await.expect_error(404, None);
    c.send(Method::PUT, "/Users", Some(&user("put@x.com")), &[])
        .await
        .expect_error(405, None);
    let r = app.get("/api/v1/no-such-endpoint").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["code"], "not_found");
}

/// A PATCH whose path is an extension's URN sets that extension's
/// attributes from an object, which may carry the extension's own
/// `schemas` (as SCIM libraries serialize extension objects).
async fn patch_whole_extension(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "generic-scim-v2", None).await;
    let id = c.post("/Users", user("ext@x.com")).await.id();
    for (op, number) in [("add", "1"), ("replace", "2")] {
        let body = c
            .patch(
                &format!("/Users/{id}"),
                ScimClient::patch_op(json!([{"op": op, "path": ENTERPRISE,
                    "value": {"schemas": [ENTERPRISE], "employeeNumber": number,
                              "department": "Sales"}}])),
            )
            .await
            .expect(200)
            .clone();
        assert_eq!(body[ENTERPRISE]["employeeNumber"], number, "{body}");
        assert_eq!(body[ENTERPRISE]["department"], "Sales");
    }
    // Unknown keys inside the extension object are still refused.
    c.patch(
        &format!("/Users/{id}"),
        ScimClient::patch_op(json!([{"op": "add", "path": ENTERPRISE,
            "value": {"nickname": "x"}}])),
    )
    .await
    .expect_error(400, Some("invalidPath"));
}

// ---------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------

async fn seed_filter_users(c: &ScimClient<'_>) -> Vec<String> {
    let bodies = [
        json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "alice@x.com", "externalId": "e-alice", "title": "Engineer",
               "name": {"givenName": "Alice", "familyName": "Archer"}, "active": true,
               "emails": [{"value": "alice@x.com", "type": "work", "primary": true}, {"value": "alice@home.org", "type": "home"}],
               ENTERPRISE: {"department": "Sales"}}),
        json!({"schemas": [USER_SCHEMA], "userName": "bob@y.com", "externalId": "e-bob", "title": "Manager",
               "name": {"givenName": "Bob", "familyName": "Baker"}, "active": false,
               "emails": [{"value": "bob@y.com", "type": "work"}]}),
        json!({"schemas": [USER_SCHEMA, ENTERPRISE], "userName": "carol@x.com", "title": "engineer",
               "name": {"givenName": "Carol", "familyName": "Cole"}, "active": true,
               "emails": [{"value": "carol@home.org", "type": "home"}],
               ENTERPRISE: {"department": "Engineering"}}),
        json!({"schemas": [USER_SCHEMA], "userName": "dave@z.com", "active": true}),
    ];
    let mut ids = Vec::new();
    for b in bodies {
        let r = c.post("/Users", b).await;
        r.expect(201);
        ids.push(r.id());
    }
    ids
}

async fn filters(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "generic-scim-v2", None).await;
    let ids = seed_filter_users(&c).await;
    let (alice, bob, carol, dave) = (&ids[0], &ids[1], &ids[2], &ids[3]);
    let cases: Vec<(&str, Vec<&String>)> = vec![
        ("userName eq \"alice@x.com\"", vec![alice]),
        ("userName eq \"ALICE@X.COM\"", vec![alice]),
        ("USERNAME EQ \"alice@x.com\"", vec![alice]),
        ("username Eq \"alice@x.com\"", vec![alice]),
        (
            "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"bob@y.com\"",
            vec![bob],
        ),
        ("userName ne \"alice@x.com\"", vec![bob, carol, dave]),
        ("userName co \"@x.\"", vec![alice, carol]),
        ("userName sw \"CA\"", vec![carol]),
        ("userName ew \".com\"", vec![alice, bob, carol, dave]),
        ("userName gt \"bob@y.com\"", vec![carol, dave]),
        ("userName ge \"bob@y.com\"", vec![bob, carol, dave]),
        ("userName lt \"bob@y.com\"", vec![alice]),
        ("userName le \"bob@y.com\"", vec![alice, bob]),
        ("title pr", vec![alice, bob, carol]),
        ("not (title pr)", vec![dave]),
        ("title eq \"engineer\"", vec![alice, carol]),
        ("externalId eq \"e-bob\"", vec![bob]),
        ("active eq false", vec![bob]),
        ("active eq true and title pr", vec![alice, carol]),
        (
            "userName eq \"alice@x.com\" or userName eq \"dave@z.com\"",
            vec![alice, dave],
        ),
        (
            "(title eq \"Manager\" or title eq \"Engineer\") and not (active eq false)",
            vec![alice, carol],
        ),
        ("name.familyName eq \"Baker\"", vec![bob]),
        ("emails.value ew \".org\"", vec![alice, carol]),
        ("emails eq \"bob@y.com\"", vec![bob]),
        ("emails.value eq \"ALICE@home.org\"", vec![alice]),
        (
            "emails[type eq \"work\" and value co \"@x.com\"]",
            vec![alice],
        ),
        ("emails[type eq \"home\"]", vec![alice, carol]),
        ("emails[TYPE EQ \"work\"]", vec![alice, bob]),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"Sales\"",
            vec![alice],
        ),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department sw \"eng\"",
            vec![carol],
        ),
        (
            "meta.resourceType eq \"User\"",
            vec![alice, bob, carol, dave],
        ),
        (
            "meta.lastModified gt \"2000-01-01T00:00:00Z\"",
            vec![alice, bob, carol, dave],
        ),
        ("meta.lastModified lt \"2000-01-01T00:00:00Z\"", vec![]),
        (
            "meta.created ge \"2000-01-01T00:00:00+01:00\"",
            vec![alice, bob, carol, dave],
        ),
        (
            &*Box::leak(format!("id eq \"{carol}\"").into_boxed_str()),
            vec![carol],
        ),
    ];
    for (filter, expected) in cases {
        let r = c.filter("Users", filter, "count=100").await;
        let body = r.expect(200);
        let mut got = ids_of(body);
        got.sort();
        let mut want: Vec<String> = expected.into_iter().cloned().collect();
        want.sort();
        assert_eq!(got, want, "filter {filter}: {body}");
        assert_eq!(body["totalResults"], json!(want.len()), "filter {filter}");
    }

    // meta.lastModified against a real instant: everything changed after a
    // point in time, with the instant in another zone.
    // (dave was created last.)
    let before = c.get(&format!("/Users/{dave}")).await.body["meta"]["lastModified"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(Duration::from_millis(20)).await;
    c.patch(
        &format!("/Users/{bob}"),
        ops(json!([{"op": "replace", "path": "title", "value": "Director"}])),
    )
    .await
    .expect(200);
    let r = c
        .filter("Users", &format!("meta.lastModified gt \"{before}\""), "")
        .await;
    assert_eq!(ids_of(r.expect(200)), vec![bob.clone()], "{}", r.body);

    // Groups: displayName and members.value.
    let g = c
        .post(
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Sales Team", "members": [{"value": alice}, {"value": bob}]}),
        )
        .await
        .id();
    let g2 = c
        .post(
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "displayName": "Support", "members": [{"value": bob}]}),
        )
        .await
        .id();
    for (filter, expected) in [
        ("displayName eq \"sales team\"", vec![g.clone()]),
        ("displayName sw \"S\"", vec![g.clone(), g2.clone()]),
        (&*format!("members.value eq \"{alice}\""), vec![g.clone()]),
        (
            &*format!("members[value eq \"{bob}\"]"),
            vec![g.clone(), g2.clone()],
        ),
        (
            &*format!("members.value eq \"{bob}\" and displayName co \"port\""),
            vec![g2.clone()],
        ),
    ] {
        let r = c.filter("Groups", filter, "").await;
        let mut got = ids_of(r.expect(200));
        got.sort();
        let mut want = expected;
        want.sort();
        assert_eq!(got, want, "group filter {filter}: {}", r.body);
    }
    // A user's groups.
    let r = c
        .filter("Users", &format!("groups.value eq \"{g2}\""), "")
        .await;
    assert_eq!(ids_of(r.expect(200)), vec![bob.clone()]);

    // Invalid filters: 400 invalidFilter.
    for bad in [
        "userName eq",
        "userName zz \"x\"",
        "(userName eq \"a\"",
        "userName eq \"a\" and",
        "emails[type eq \"work\"",
        "userName eq 'a'",
        "\"x\" eq userName",
        "userName pr \"x\"",
    ] {
        c.filter("Users", bad, "")
            .await
            .expect_error(400, Some("invalidFilter"));
    }
}

// ---------------------------------------------------------------------------
// Pagination, sorting, projections
// ---------------------------------------------------------------------------

async fn pagination_and_sorting(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "generic-scim-v2", None).await;
    let names = ["g", "c", "a", "e", "b", "f", "d"];
    for n in names {
        let mut b = user(&format!("{n}@p.com"));
        b["title"] = json!(if n < "d" { "low" } else { "high" });
        c.post("/Users", b).await.expect(201);
    }
    let r = c.get("/Users?startIndex=1&count=3&sortBy=userName").await;
    let body = r.expect(200).clone();
    assert_eq!(body["schemas"], json!([LIST_RESPONSE]));
    assert_eq!(body["totalResults"], json!(7));
    assert_eq!(body["startIndex"], json!(1));
    assert_eq!(body["itemsPerPage"], json!(3));
    assert_eq!(user_names(&body), ["a@p.com", "b@p.com", "c@p.com"]);
    let r = c.get("/Users?startIndex=4&count=3&sortBy=userName").await;
    assert_eq!(user_names(r.expect(200)), ["d@p.com", "e@p.com", "f@p.com"]);
    let r = c.get("/Users?startIndex=7&count=3&sortBy=userName").await;
    let body = r.expect(200);
    assert_eq!(user_names(body), ["g@p.com"]);
    assert_eq!(body["totalResults"], json!(7));
    let r = c.get("/Users?startIndex=10&count=3").await;
    let body = r.expect(200);
    assert_eq!(body["totalResults"], json!(7));
    assert_eq!(body["Resources"].as_array().map_or(0, Vec::len), 0);
    let r = c.get("/Users?count=0").await;
    let body = r.expect(200);
    assert_eq!(body["totalResults"], json!(7));
    assert_eq!(body["Resources"].as_array().map_or(0, Vec::len), 0);
    // startIndex < 1 is 1.
    let r = c.get("/Users?startIndex=0&count=2&sortBy=userName").await;
    assert_eq!(user_names(r.expect(200)), ["a@p.com", "b@p.com"]);
    // Descending, case-insensitive parameter values.
    let r = c
        .get("/Users?sortBy=username&sortOrder=DESCENDING&count=2")
        .await;
    assert_eq!(user_names(r.expect(200)), ["g@p.com", "f@p.com"]);
    // A filter on a non-indexed attribute with paging: exact totals.
    let r = c
        .filter(
            "Users",
            "title eq \"high\"",
            "startIndex=2&count=2&sortBy=userName",
        )
        .await;
    let body = r.expect(200);
    assert_eq!(body["totalResults"], json!(4), "{body}");
    assert_eq!(user_names(body), ["e@p.com", "f@p.com"]);
    let r = c
        .filter(
            "Users",
            "title eq \"low\"",
            "startIndex=3&count=5&sortBy=userName&sortOrder=descending",
        )
        .await;
    let body = r.expect(200);
    assert_eq!(body["totalResults"], json!(3));
    assert_eq!(user_names(body), ["a@p.com"]);
    // Bad parameters.
    c.get("/Users?count=abc")
        .await
        .expect_error(400, Some("invalidValue"));
    c.get("/Users?sortOrder=sideways")
        .await
        .expect_error(400, None);
    // Any attribute can be the sort key: title (low/high), then users
    // without a title sort last.
    let mut untitled = user("z@p.com");
    untitled.as_object_mut().unwrap().remove("title");
    c.post("/Users", untitled).await.expect(201);
    let r = c.get("/Users?sortBy=title&count=20").await;
    let body = r.expect(200);
    let titles: Vec<Value> = body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["title"].clone())
        .collect();
    assert_eq!(titles.iter().filter(|t| **t == json!("high")).count(), 4);
    assert_eq!(
        titles[..4],
        [json!("high"), json!("high"), json!("high"), json!("high")]
    );
    assert_eq!(titles[4..7], [json!("low"), json!("low"), json!("low")]);
    assert_eq!(titles[7], Value::Null, "users without a title sort last");
    let r = c
        .get("/Users?sortBy=name.givenName&sortOrder=descending&count=1&filter=title%20pr")
        .await;
    assert_eq!(r.expect(200)["totalResults"], json!(7));
}

async fn attribute_projection(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "generic-scim-v2", None).await;
    let mut body = user("proj@x.com");
    body["name"] = json!({"givenName": "Pro", "familyName": "Jection"});
    body["emails"] = json!([{"value": "proj@x.com", "type": "work"}]);
    body["title"] = json!("T");
    body["password"] = json!("pw-123456");
    let r = c.post("/Users?attributes=userName", body).await;
    let created = r.expect(201).clone();
    let id = r.id();
    assert_eq!(created["userName"], "proj@x.com");
    assert!(created.get("name").is_none(), "{created}");
    assert!(created.get("password").is_none());

    let r = c
        .get(&format!("/Users/{id}?attributes=userName,name.givenName"))
        .await;
    let got = r.expect(200).clone();
    assert_eq!(got["id"], json!(id), "id is always returned");
    assert_eq!(got["userName"], "proj@x.com");
    assert_eq!(got["name"], json!({"givenName": "Pro"}));
    assert!(
        got.get("emails").is_none() && got.get("title").is_none(),
        "{got}"
    );

    let r = c
        .get(&format!("/Users/{id}?excludedAttributes=emails,name,id"))
        .await;
    let got = r.expect(200).clone();
    assert!(got.get("emails").is_none() && got.get("name").is_none());
    assert_eq!(got["id"], json!(id), "id cannot be excluded");
    assert_eq!(got["title"], "T");

    let r = c.get(&format!("/Users/{id}?attributes=password")).await;
    assert!(r.expect(200).get("password").is_none());

    let r = c.get("/Users?attributes=emails.value").await;
    let list = r.expect(200);
    assert_eq!(
        list["Resources"][0]["emails"],
        json!([{"value": "proj@x.com"}])
    );
    assert!(list["Resources"][0].get("userName").is_none());

    // PATCH answers 200 with the resource, projected.
    let r = c
        .patch(
            &format!("/Users/{id}?attributes=title"),
            ops(json!([{"op": "replace", "path": "title", "value": "U"}])),
        )
        .await;
    let got = r.expect(200);
    assert_eq!(got["title"], "U");
    assert!(got.get("userName").is_none());
}

// ---------------------------------------------------------------------------
// ETags, uniqueness, isolation
// ---------------------------------------------------------------------------

async fn etags_and_preconditions(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "generic-scim-v2", None).await;
    let r = c.post("/Users", user("etag@x.com")).await;
    r.expect(201);
    let id = r.id();
    let etag = r.header("etag").expect("ETag on create");
    assert_eq!(r.body["meta"]["version"], json!(etag));

    let r = c.get(&format!("/Users/{id}")).await;
    assert_eq!(r.header("etag").as_deref(), Some(etag.as_str()));
    let path = format!("/Users/{id}");
    let r = c
        .send(Method::GET, &path, None, &[("if-none-match", &etag)])
        .await;
    assert_eq!(r.status.as_u16(), 304);
    let patch = ops(json!([{"op": "replace", "path": "title", "value": "X"}]));
    let r = c
        .send(
            Method::PATCH,
            &path,
            Some(&patch),
            &[("if-match", "W/\"999\"")],
        )
        .await;
    r.expect_error(412, None);
    let r = c
        .send(Method::PATCH, &path, Some(&patch), &[("if-match", &etag)])
        .await;
    let new_etag = r.header("etag").expect("etag");
    assert_ne!(r.expect(200)["meta"]["version"], json!(etag));
    assert_ne!(new_etag, etag);
    // The old tag is stale now: 412 for PUT and DELETE, 200 for GET.
    let r = c
        .send(
            Method::PUT,
            &path,
            Some(&user("etag@x.com")),
            &[("if-match", &etag)],
        )
        .await;
    r.expect_error(412, None);
    let r = c
        .send(Method::DELETE, &path, None, &[("if-match", &etag)])
        .await;
    r.expect_error(412, None);
    let r = c
        .send(Method::GET, &path, None, &[("if-none-match", &etag)])
        .await;
    r.expect(200);
    // Groups too.
    let r = c
        .post(
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "displayName": "E"}),
        )
        .await;
    let gpath = format!("/Groups/{}", r.id());
    let getag = r.header("etag").expect("group etag");
    let r = c
        .send(Method::GET, &gpath, None, &[("if-none-match", &getag)])
        .await;
    assert_eq!(r.status.as_u16(), 304);
}

async fn username_uniqueness(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "generic-scim-v2", None).await;
    c.post("/Users", user("Alice@Example.com"))
        .await
        .expect(201);
    c.post("/Users", user("alice@example.COM"))
        .await
        .expect_error(409, Some("uniqueness"));
    let other = c.post("/Users", user("other@example.com")).await.id();
    c.put(&format!("/Users/{other}"), user("ALICE@example.com"))
        .await
        .expect_error(409, Some("uniqueness"));
    c.patch(
        &format!("/Users/{other}"),
        ops(json!([{"op": "replace", "path": "userName", "value": "alice@EXAMPLE.com"}])),
    )
    .await
    .expect_error(409, Some("uniqueness"));
    // Changing one's own userName's case is fine.
    let r = c
        .patch(
            &format!("/Users/{other}"),
            ops(json!([{"op": "replace", "path": "userName", "value": "OTHER@example.com"}])),
        )
        .await;
    assert_eq!(r.expect(200)["userName"], "OTHER@example.com");
    // Another directory may reuse the name.
    let c2 = ScimClient::for_new_directory(&app, &c.org, "generic-scim-v2", None).await;
    c2.post("/Users", user("alice@example.com"))
        .await
        .expect(201);
}

async fn ids_are_scoped_to_their_directory(backend: Backend) {
    let app = TestApp::new(backend).await;
    let a = ScimClient::setup(&app, "generic-scim-v2", None).await;
    let b = ScimClient::setup(&app, "okta-scim-v2", Some(OKTA_UA)).await;
    let ua = a.post("/Users", user("a@a.com")).await.id();
    let ga = a
        .post(
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "displayName": "A"}),
        )
        .await
        .id();
    let ub = b.post("/Users", user("b@b.com")).await.id();

    // Unknown ids and another directory's ids: 404.
    for path in [
        format!("/Users/{ua}"),
        format!("/Groups/{ga}"),
        "/Users/directory_user_01J00000000000000000000000".to_owned(),
        "/Groups/nope".to_owned(),
    ] {
        b.get(&path).await.expect_error(404, None);
        b.delete(&path).await.expect_error(404, None);
        b.patch(
            &path,
            ops(json!([{"op": "replace", "path": "displayName", "value": "x"}])),
        )
        .await
        .expect_error(404, None);
    }
    b.put(&format!("/Users/{ua}"), user("x@b.com"))
        .await
        .expect_error(404, None);
    // A group of B may not reference A's user.
    let r = b
        .post(
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "displayName": "B", "members": [{"value": ua}]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    // A filter by another directory's id finds nothing.
    let r = b.filter("Users", &format!("id eq \"{ua}\""), "").await;
    assert_eq!(r.expect(200)["totalResults"], json!(0));

    // Another directory's token on this directory's path: 401.
    let r = a
        .send_raw(
            Method::GET,
            &format!("/Users/{ua}"),
            Some(&b.token),
            None,
            vec![],
            &[],
        )
        .await;
    r.expect_error(401, None);
    assert!(r.header("www-authenticate").is_some());
    let r = a
        .send_raw(Method::GET, "/Users", None, None, vec![], &[])
        .await;
    r.expect_error(401, None);
    let r = a
        .send_raw(
            Method::GET,
            "/Users",
            Some("not-a-token"),
            None,
            vec![],
            &[],
        )
        .await;
    r.expect_error(401, None);
    // The admin key is not a SCIM token.
    let admin = app.admin_key.clone();
    let r = a
        .send_raw(Method::GET, "/Users", Some(&admin), None, vec![], &[])
        .await;
    r.expect_error(401, None);
    // B's own user is fine.
    b.get(&format!("/Users/{ub}")).await.expect(200);
}

/// Authentication answers are cached; every change made through this
/// process must still apply to the very next request.
async fn token_and_directory_changes_apply_at_once(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "generic-scim-v2", None).await;
    let as_token = |token: String| {
        let c = &c;
        async move {
            c.send_raw(Method::GET, "/Users", Some(&token), None, vec![], &[])
                .await
        }
    };
    as_token(c.token.clone()).await.expect(200);

    // Deactivating the directory closes it at once; activating reopens it.
    let dir_path = format!("/api/v1/directories/{}", c.dir);
    let r = app
        .admin(Method::PATCH, &dir_path, Some(json!({"state": "inactive"})))
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    as_token(c.token.clone()).await.expect_error(403, None);
    let r = app
        .admin(Method::PATCH, &dir_path, Some(json!({"state": "active"})))
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    as_token(c.token.clone()).await.expect(200);

    // Rotation without grace: the old token is refused at once.
    let r = app
        .admin(Method::POST, &format!("{dir_path}/tokens"), None)
        .await;
    assert_eq!(r.status.as_u16(), 201, "{:?}", r.body);
    let second = r.body["token"].as_str().unwrap().to_owned();
    let second_id = r.body["id"].as_str().unwrap().to_owned();
    as_token(c.token.clone()).await.expect_error(401, None);
    as_token(second.clone()).await.expect(200);

    // Revocation too.
    let r = app
        .admin(
            Method::DELETE,
            &format!("{dir_path}/tokens/{second_id}"),
            None,
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{:?}", r.body);
    as_token(second.clone()).await.expect_error(401, None);

    // A deleted directory's tokens open nothing.
    let r = app
        .admin(Method::POST, &format!("{dir_path}/tokens"), None)
        .await;
    let third = r.body["token"].as_str().unwrap().to_owned();
    as_token(third.clone()).await.expect(200);
    let r = app.admin(Method::DELETE, &dir_path, None).await;
    assert!(r.status.is_success(), "{:?}", r.body);
    as_token(third).await.expect_error(401, None);
}

// ---------------------------------------------------------------------------
// .search, Bulk
// ---------------------------------------------------------------------------

async fn search_requests(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "generic-scim-v2", None).await;
    let ids = seed_filter_users(&c).await;
    let g = c
        .post("/Groups", json!({"schemas": [GROUP_SCHEMA], "displayName": "Searchers", "members": [{"value": ids[0]}]}))
        .await
        .id();

    let r = c
        .post(
            "/Users/.search",
            json!({"schemas": [SEARCH_REQUEST], "filter": "userName co \"@x.com\"", "attributes": ["userName"],
                   "sortBy": "userName", "sortOrder": "descending", "startIndex": 1, "count": 10}),
        )
        .await;
    let body = r.expect(200).clone();
    assert_eq!(body["schemas"], json!([LIST_RESPONSE]));
    assert_eq!(body["totalResults"], json!(2));
    assert_eq!(user_names(&body), ["carol@x.com", "alice@x.com"]);
    assert!(body["Resources"][0].get("emails").is_none());

    let r = c
        .post(
            "/Groups/.search",
            json!({"schemas": [SEARCH_REQUEST], "filter": "displayName eq \"Searchers\"", "excludedAttributes": ["members"]}),
        )
        .await;
    let body = r.expect(200);
    assert_eq!(ids_of(body), vec![g.clone()]);
    assert!(body["Resources"][0].get("members").is_none());

    // Root search spans both resource types.
    let r = c
        .post(
            "/.search",
            json!({"schemas": [SEARCH_REQUEST], "filter": "meta.resourceType eq \"Group\" or userName eq \"dave@z.com\""}),
        )
        .await;
    let body = r.expect(200).clone();
    assert_eq!(body["totalResults"], json!(2), "{body}");
    let mut got = ids_of(&body);
    got.sort();
    let mut want = vec![ids[3].clone(), g.clone()];
    want.sort();
    assert_eq!(got, want);
    let r = c
        .post(
            "/.search",
            json!({"schemas": [SEARCH_REQUEST], "startIndex": 4, "count": 2}),
        )
        .await;
    let body = r.expect(200);
    assert_eq!(body["totalResults"], json!(5));
    assert_eq!(ids_of(body).len(), 2, "{body}");
    assert_eq!(body["Resources"][1]["id"], json!(g));

    c.post(
        "/Users/.search",
        json!({"schemas": [SEARCH_REQUEST], "filter": "userName eq"}),
    )
    .await
    .expect_error(400, Some("invalidFilter"));
}

async fn bulk_with_bulk_ids(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "generic-scim-v2", None).await;
    let r = c
        .post(
            "/Bulk",
            json!({
                "schemas": [BULK_REQUEST],
                "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"schemas": [USER_SCHEMA], "userName": "bulk1@x.com"}},
                    {"method": "POST", "path": "/Groups", "bulkId": "g1",
                     "data": {"schemas": [GROUP_SCHEMA], "displayName": "Bulk Group", "members": [{"type": "User", "value": "bulkId:u1"}]}},
                    {"method": "PATCH", "path": "/Users/bulkId:u1",
                     "data": {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Bulked"}]}},
                    {"method": "POST", "path": "/Users", "bulkId": "u2", "data": {"schemas": [USER_SCHEMA], "userName": "bulk1@X.com"}},
                    {"method": "DELETE", "path": "/Groups/nope"}
                ]
            }),
        )
        .await;
    let body = r.expect(200).clone();
    assert_eq!(
        body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:BulkResponse"])
    );
    let results = body["Operations"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    let statuses: Vec<&str> = results
        .iter()
        .map(|o| o["status"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(statuses, ["201", "201", "200", "409", "404"], "{body}");
    assert_eq!(results[0]["bulkId"], "u1");
    let loc = results[0]["location"].as_str().unwrap();
    let uid = loc.rsplit('/').next().unwrap().to_owned();
    let gid = results[1]["location"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert_scim_error(&results[3]["response"], 409, Some("uniqueness"));
    assert_eq!(c.member_ids(&gid).await, vec![uid.clone()]);
    assert_eq!(
        c.get(&format!("/Users/{uid}")).await.body["title"],
        "Bulked"
    );
    let types = c.new_event_types().await;
    assert_eq!(
        types,
        [
            "dsync.user.created",
            "dsync.group.created",
            "dsync.group.user_added",
            "dsync.user.updated"
        ]
    );

    // failOnErrors: stop after the first failure.
    let r = c
        .post(
            "/Bulk",
            json!({
                "schemas": [BULK_REQUEST],
                "failOnErrors": 1,
                "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "x", "data": {"schemas": [USER_SCHEMA]}},
                    {"method": "POST", "path": "/Users", "bulkId": "y", "data": {"schemas": [USER_SCHEMA], "userName": "never@x.com"}}
                ]
            }),
        )
        .await;
    let body = r.expect(200).clone();
    assert_eq!(body["Operations"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["Operations"][0]["status"], "400");
    let r = c.filter("Users", "userName eq \"never@x.com\"", "").await;
    assert_eq!(r.expect(200)["totalResults"], json!(0));

    // A reference to a failed operation fails too.
    let r = c
        .post(
            "/Bulk",
            json!({
                "schemas": [BULK_REQUEST],
                "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"schemas": [USER_SCHEMA]}},
                    {"method": "POST", "path": "/Groups", "bulkId": "g",
                     "data": {"schemas": [GROUP_SCHEMA], "displayName": "G2", "members": [{"value": "bulkId:bad"}]}}
                ]
            }),
        )
        .await;
    let body = r.expect(200);
    assert_eq!(body["Operations"][1]["status"], "409", "{body}");

    // Too many operations: 413.
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/u{i}")}))
        .collect();
    let r = c
        .post(
            "/Bulk",
            json!({"schemas": [BULK_REQUEST], "Operations": many}),
        )
        .await;
    r.expect_error(413, None);
    // Missing BulkRequest schema.
    c.post("/Bulk", json!({"Operations": []}))
        .await
        .expect_error(400, Some("invalidSyntax"));
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

async fn errors_are_scim_errors(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "generic-scim-v2", None).await;
    let id = c.post("/Users", user("err@x.com")).await.id();
    let path = format!("/Users/{id}");

    // Malformed JSON and non-objects.
    for bytes in [&b"{\"userName\":"[..], b"[1,2]", b"not json"] {
        let r = c
            .send_raw(
                Method::POST,
                "/Users",
                Some(&c.token),
                Some("application/scim+json"),
                bytes.to_vec(),
                &[],
            )
            .await;
        r.expect_error(400, Some("invalidSyntax"));
        let r = c
            .send_raw(
                Method::PATCH,
                &path,
                Some(&c.token),
                Some("application/json"),
                bytes.to_vec(),
                &[],
            )
            .await;
        r.expect_error(400, Some("invalidSyntax"));
    }
    // application/json is accepted; the response is application/scim+json.
    let r = c
        .send_raw(
            Method::POST,
            "/Users",
            Some(&c.token),
            Some("application/json"),
            serde_json::to_vec(&user("json@x.com")).unwrap(),
            &[],
        )
        .await;
    r.expect(201);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/scim+json")
    );

    // Missing userName.
    c.post("/Users", json!({"schemas": [USER_SCHEMA]}))
        .await
        .expect_error(400, Some("invalidValue"));
    // Wrong type that cannot be coerced.
    c.post(
        "/Users",
        json!({"schemas": [USER_SCHEMA], "userName": {"a": 1}}),
    )
    .await
    .expect_error(400, Some("invalidValue"));
    // PATCH errors.
    c.patch(
        &path,
        json!({"Operations": [{"op": "replace", "path": "title", "value": "x"}]}),
    )
    .await
    .expect_error(400, Some("invalidSyntax"));
    c.patch(
        &path,
        ops(json!([{"op": "explode", "path": "title", "value": "x"}])),
    )
    .await
    .expect_error(400, Some("invalidSyntax"));
    c.patch(
        &path,
        ops(json!([{"op": "replace", "path": "emails[type eq", "value": "x"}])),
    )
    .await
    .expect_error(400, None); // invalidPath or invalidFilter
    c.patch(
        &path,
        ops(json!([{"op": "replace", "path": "noSuchAttribute", "value": "x"}])),
    )
    .await
    .expect_error(400, Some("invalidPath"));
    c.patch(&path, ops(json!([{"op": "remove"}])))
        .await
        .expect_error(400, Some("noTarget"));
    c.patch(
        &path,
        ops(json!([{"op": "replace", "path": "id", "value": "x"}])),
    )
    .await
    .expect_error(400, Some("mutability"));
    c.patch(
        &path,
        ops(json!([{"op": "replace", "path": "active", "value": "maybe"}])),
    )
    .await
    .expect_error(400, Some("invalidValue"));
    // Atomic: the first operation is not applied when the second fails.
    c.mark_events().await;
    c.patch(
        &path,
        ops(json!([
            {"op": "replace", "path": "title", "value": "Applied?"},
            {"op": "replace", "path": "id", "value": "x"}
        ])),
    )
    .await
    .expect_error(400, None);
    assert!(c.get(&path).await.body.get("title").is_none());
    assert!(c.new_events().await.is_empty());

    // Unknown member ids.
    c.post(
        "/Groups",
        json!({"schemas": [GROUP_SCHEMA], "displayName": "G", "members": [{"value": "nobody"}]}),
    )
    .await
    .expect_error(400, Some("invalidValue"));
    // Unknown endpoint under a valid directory and an unsupported method.
    let r = c
        .send(Method::POST, &path, Some(&user("x@x.com")), &[])
        .await;
    assert!(r.status.is_client_error(), "{:?}", r.status);
}

// ---------------------------------------------------------------------------
// Request log
// ---------------------------------------------------------------------------

async fn request_log_is_redacted(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "okta-scim-v2", Some(OKTA_UA)).await;
    let mut body = user("logged@x.com");
    body["password"] = json!("hunter2-create");
    let id = c.post("/Users", body).await.id();
    c.patch(
        &format!("/Users/{id}"),
        ops(json!([{"op": "replace", "value": {"password": "hunter2-pathless"}}])),
    )
    .await
    .expect(200);
    c.patch(
        &format!("/Users/{id}"),
        ops(json!([{"op": "replace", "path": "password", "value": "hunter2-path"}])),
    )
    .await
    .expect(200);
    c.get("/Users/nope").await.expect_error(404, None);

    let mut entries = Vec::new();
    for _ in 0..40 {
        let r = app
            .get(&format!(
                "/api/v1/directories/{}/scim_requests?limit=100",
                c.dir
            ))
            .await;
        assert_eq!(r.status.as_u16(), 200, "{}", r.body);
        entries = r.body["data"].as_array().cloned().unwrap_or_default();
        if entries.len() >= 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(entries.len(), 4, "{entries:#?}");
    let text = Value::Array(entries.clone()).to_string();
    assert!(
        !text.contains("hunter2"),
        "a password reached the log: {text}"
    );
    assert!(!text.contains(&c.token), "the token reached the log");
    // Newest first.
    assert_eq!(entries[0]["status"], json!(404));
    assert_eq!(entries[0]["method"], "GET");
    assert_eq!(entries[3]["method"], "POST");
    assert_eq!(entries[3]["status"], json!(201));
    assert_eq!(entries[3]["user_agent"], OKTA_UA);
}

async fn request_log_redacts_patch_password_value(backend: Backend) {
    // A PATCH whose path is `password` carries the secret in `value`
    // (was logged in clear: redaction only looked at key names).
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "generic-scim-v2", None).await;
    let id = c.post("/Users", user("p@x.com")).await.id();
    c.patch(
        &format!("/Users/{id}"),
        ops(json!([{"op": "replace", "path": "password", "value": "s3cret-by-path"}])),
    )
    .await
    .expect(200);
    let mut text = String::new();
    for _ in 0..40 {
        let r = app
            .get(&format!("/api/v1/directories/{}/scim_requests", c.dir))
            .await;
        if r.body["data"].as_array().is_some_and(|d| d.len() >= 2) {
            text = r.body.to_string();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!text.is_empty(), "request log never filled");
    assert!(!text.contains("s3cret-by-path"), "{text}");
}

/// A Group's representation includes `members`, so adding a member must
/// change its version (`ETag`, `meta.version`) and `meta.lastModified`.
/// The store's membership writes (`Writer::membership` / `set_members` in
/// host/store/src/directory_state/members.rs) leave the group row alone, so
/// a client holding the old ETag gets 304 for a changed group and
/// `meta.lastModified gt` filters miss membership changes.
async fn group_version_follows_membership(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "generic-scim-v2", None).await;
    let u = c.post("/Users", user("m@x.com")).await.id();
    let r = c
        .post(
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "displayName": "V"}),
        )
        .await;
    let g = r.id();
    let etag = r.header("etag").expect("etag");
    let modified = r.body["meta"]["lastModified"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(20)).await;
    c.patch(
        &format!("/Groups/{g}"),
        ops(json!([{"op": "add", "path": "members", "value": [{"value": u}]}])),
    )
    .await
    .expect(200);
    let path = format!("/Groups/{g}");
    let r = c
        .send(Method::GET, &path, None, &[("if-none-match", &etag)])
        .await;
    assert_eq!(
        r.status.as_u16(),
        200,
        "the group changed (a member was added) but If-None-Match with the old ETag {etag} answered {}",
        r.status
    );
    assert_ne!(r.body["meta"]["version"], json!(etag));
    let r = c
        .filter(
            "Groups",
            &format!("meta.lastModified gt \"{modified}\""),
            "",
        )
        .await;
    assert_eq!(ids_of(r.expect(200)), vec![g.clone()]);
}

/// `members[].display` comes back as the client sent it; a member without
/// one shows its userName. Labels change the group's version but never
/// emit membership events.
async fn member_labels_round_trip(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "generic-scim-v2", None).await;
    let a = c.post("/Users", user("a@x.com")).await.id();
    let b = c.post("/Users", user("b@x.com")).await.id();
    let displays = |group: &Value| -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = group["members"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                (
                    m["value"].as_str().unwrap().to_owned(),
                    m["display"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        out.sort();
        out
    };
    let pair = |id: &str, d: &str| (id.to_owned(), d.to_owned());
    let mut want = vec![pair(&a, "Ada L."), pair(&b, "b@x.com")];
    want.sort();
    let g = c
        .post(
            "/Groups",
            json!({"schemas": [GROUP_SCHEMA], "displayName": "L",
                   "members": [{"value": a, "display": "Ada L."}, {"value": b}]}),
        )
        .await;
    assert_eq!(displays(g.expect(201)), want);
    let g = g.id();
    let path = format!("/Groups/{g}");
    assert_eq!(displays(c.get(&path).await.expect(200)), want);

    // PATCH add relabels an existing member and emits no event.
    c.mark_events().await;
    let before = c.get(&path).await.expect(200)["meta"]["version"].clone();
    let body = c
        .patch(
            &path,
            ops(json!([{"op": "add", "path": "members", "value": [{"value": b, "display": "Bea"}]}])),
        )
        .await
        .expect(200)
        .clone();
    let mut want = vec![pair(&a, "Ada L."), pair(&b, "Bea")];
    want.sort();
    assert_eq!(displays(&body), want);
    assert_ne!(
        body["meta"]["version"], before,
        "a new label is a new version"
    );
    assert!(c.new_event_types().await.is_empty());

    // A PUT of the same list changes nothing; one without labels forgets them.
    let put =
        |members: Value| json!({"schemas": [GROUP_SCHEMA], "displayName": "L", "members": members});
    let same = c
        .put(
            &path,
            put(json!([{"value": a, "display": "Ada L."}, {"value": b, "display": "Bea"}])),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(same["meta"]["version"], body["meta"]["version"]);
    let bare = c
        .put(&path, put(json!([{"value": a}, {"value": b}])))
        .await
        .expect(200)
        .clone();
    let mut want = vec![pair(&a, "a@x.com"), pair(&b, "b@x.com")];
    want.sort();
    assert_eq!(displays(&bare), want);
    assert!(c.new_event_types().await.is_empty());

    // A label is a string (numbers are taken as their text, as elsewhere).
    c.patch(
        &path,
        ops(
            json!([{"op": "add", "path": "members", "value": [{"value": a, "display": {"x": 1}}]}]),
        ),
    )
    .await
    .expect_error(400, Some("invalidValue"));
}

// ---------------------------------------------------------------------------
// Custom extension schemas
// ---------------------------------------------------------------------------

const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";

async fn custom_extension_round_trips(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "okta-scim-v2", Some(OKTA_UA)).await;
    // Prime the schema cache before the schema exists.
    c.get("/Schemas").await.expect(200);
    c.post("/Users", user("before@x.com")).await.expect(201);

    let r = app
        .post(
            &format!("/api/v1/directories/{}/scim_schemas", c.dir),
            json!({"resource_type": "User", "schema": {
                "id": CUSTOM, "name": "AcmeUser", "description": "Acme custom attributes",
                "attributes": [
                    {"name": "badgeNumber", "type": "string", "multiValued": false, "required": false,
                     "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none"},
                    {"name": "clearance", "type": "integer", "multiValued": false, "required": false,
                     "mutability": "readWrite", "returned": "default", "uniqueness": "none"}
                ]
            }}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);

    let r = c
        .post(
            "/Users",
            json!({"schemas": [USER_SCHEMA, CUSTOM], "userName": "custom@x.com",
                   CUSTOM: {"badgeNumber": "B-7", "clearance": 3}}),
        )
        .await;
    let created = r.expect(201).clone();
    let id = r.id();
    assert_eq!(created[CUSTOM]["badgeNumber"], "B-7", "{created}");
    assert!(
        created["schemas"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == CUSTOM)
    );
    let got = c.get(&format!("/Users/{id}")).await.body;
    assert_eq!(got[CUSTOM], json!({"badgeNumber": "B-7", "clearance": 3}));
    let du = c.directory_user(&id).await;
    assert_eq!(du["custom_attributes"]["badgeNumber"], "B-7", "{du}");
    // Filter on it, PATCH it by URN path.
    let r = c
        .filter("Users", &format!("{CUSTOM}:badgeNumber eq \"b-7\""), "")
        .await;
    assert_eq!(ids_of(r.expect(200)), vec![id.clone()]);
    let r = c
        .patch(
            &format!("/Users/{id}"),
            ops(json!([{"op": "replace", "path": format!("{CUSTOM}:clearance"), "value": 5}])),
        )
        .await;
    assert_eq!(r.expect(200)[CUSTOM]["clearance"], json!(5));
    // Wrong type is refused.
    c.patch(
        &format!("/Users/{id}"),
        ops(json!([{"op": "replace", "path": format!("{CUSTOM}:clearance"), "value": "high"}])),
    )
    .await
    .expect_error(400, Some("invalidValue"));
    // Discovery lists it.
    c.get(&format!("/Schemas/{CUSTOM}")).await.expect(200);
    let rt = c.get("/ResourceTypes/User").await.body;
    assert!(
        rt["schemaExtensions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["schema"] == CUSTOM),
        "{rt}"
    );
}

// ---------------------------------------------------------------------------
// SCIM 1.1
// ---------------------------------------------------------------------------

async fn scim_v1_basics(backend: Backend) {
    let app = TestApp::new(backend).await;
    let c = ScimClient::setup(&app, "generic-scim-v1", None).await;
    assert!(c.base.starts_with("/scim/v1/"));
    let r = c.get("/ServiceProviderConfigs").await;
    let spc = r.expect(200).clone();
    assert!(
        spc["schemas"]
            .to_string()
            .contains("urn:scim:schemas:core:1.0"),
        "{spc}"
    );
    // Bulk is a SCIM 2.0 feature here, and the 1.1 document says so.
    assert_eq!(spc["bulk"]["supported"], false, "{spc}");
    let r = c
        .post(
            "/Bulk",
            json!({"schemas": ["urn:scim:schemas:core:1.0"], "Operations": []}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 501, "{}", r.body);
    assert_eq!(r.body["Errors"][0]["code"], "501", "{}", r.body);
    let r = c.get("/NoSuchEndpoint").await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);
    assert_eq!(r.body["Errors"][0]["code"], "404", "{}", r.body);

    let r = c
        .post(
            "/Users",
            json!({"schemas": ["urn:scim:schemas:core:1.0"], "userName": "v1@x.com", "externalId": "v1-ext",
                   "name": {"givenName": "Vee", "familyName": "One"},
                   "emails": [{"value": "v1@x.com", "type": "work", "primary": true}, {"value": "v1@home.org", "type": "home"}],
                   "title": "Old", "active": true}),
        )
        .await;
    let created = r.expect(201).clone();
    let id = r.id();
    assert!(
        created["schemas"]
            .to_string()
            .contains("urn:scim:schemas:core:1.0")
    );
    assert!(!created["schemas"].to_string().contains("2.0"), "{created}");
    let r = c
        .get(&format!(
            "/Users?filter={}",
            enc("userName eq \"v1@x.com\"")
        ))
        .await;
    let list = r.expect(200).clone();
    assert_eq!(list["totalResults"], json!(1), "{list}");
    assert_eq!(list["Resources"][0]["id"], json!(id));

    // 1.1 PATCH: meta.attributes removes, operation:delete removes an element.
    let r = c
        .patch(
            &format!("/Users/{id}"),
            json!({"schemas": ["urn:scim:schemas:core:1.0"],
                   "emails": [{"value": "v1@home.org", "operation": "delete"}],
                   "meta": {"attributes": ["title"]},
                   "name": {"givenName": "Vera"}}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    let got = c.get(&format!("/Users/{id}")).await.body;
    assert!(got.get("title").is_none(), "{got}");
    assert_eq!(got["emails"].as_array().map(Vec::len), Some(1), "{got}");
    assert_eq!(got["name"]["givenName"], "Vera");
    assert_eq!(got["name"]["familyName"], "One");

    // Groups with members; 1.1 member delete.
    let u2 = c
        .post(
            "/Users",
            json!({"schemas": ["urn:scim:schemas:core:1.0"], "userName": "v1b@x.com"}),
        )
        .await
        .id();
    let r = c
        .post(
            "/Groups",
            json!({"schemas": ["urn:scim:schemas:core:1.0"], "displayName": "V1 Group",
                   "members": [{"value": id}, {"value": u2}]}),
        )
        .await;
    r.expect(201);
    let g = r.id();
    let r = c
        .patch(
            &format!("/Groups/{g}"),
            json!({"schemas": ["urn:scim:schemas:core:1.0"], "members": [{"value": id, "operation": "delete"}]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    assert_eq!(
        member_values(&c.get(&format!("/Groups/{g}")).await.body),
        vec![u2.clone()]
    );

    // Deactivate via PUT.
    let r = c
        .put(
            &format!("/Users/{u2}"),
            json!({"schemas": ["urn:scim:schemas:core:1.0"], "userName": "v1b@x.com", "active": false}),
        )
        .await;
    assert_eq!(r.expect(200)["active"], json!(false));
    assert_eq!(c.directory_user(&u2).await["state"], "inactive");

    // 1.1 error body.
    let r = c.get("/Users/nope").await;
    assert_eq!(r.status.as_u16(), 404);
    assert!(r.body["Errors"].is_array(), "1.1 error shape: {}", r.body);
    // The 2.0 path of a 1.1 directory is not where it lives... and v1 for a
    // 2.0 directory is refused.
    let c2 = ScimClient::setup(&app, "generic-scim-v2", None).await;
    let r = c2
        .send_raw(Method::GET, "/Users", Some(&c2.token), None, vec![], &[])
        .await;
    r.expect(200);
    let v1_path = format!("/scim/v1/{}/Users", c2.dir);
    let r = app.call(Method::GET, &v1_path, Some(&c2.token), None).await;
    assert_eq!(r.status.as_u16(), 404, "{}", r.body);
}

both_backends!(
    discovery_is_well_formed,
    me_and_unknown_endpoints,
    patch_whole_extension,
    filters,
    pagination_and_sorting,
    attribute_projection,
    etags_and_preconditions,
    username_uniqueness,
    ids_are_scoped_to_their_directory,
    token_and_directory_changes_apply_at_once,
    search_requests,
    bulk_with_bulk_ids,
    errors_are_scim_errors,
    request_log_is_redacted,
    request_log_redacts_patch_password_value,
    group_version_follows_membership,
    member_labels_round_trip,
    custom_extension_round_trips,
    scim_v1_basics,
);
