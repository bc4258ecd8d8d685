//! The twin's embedded SCIM store over HTTP: auth, create/409, get/404,
//! filters, paging, attribute selection, PATCH in both Entra dialects, PUT,
//! DELETE, Bulk and discovery.

use scimshift::secret::Secret;
use scimshift::twin::scim_store::{self, ScimStore};
use serde_json::{Value, json};
use std::sync::Arc;

struct T {
    base: String,
    http: reqwest::Client,
    store: Arc<ScimStore>,
}

const TOKEN: &str = "store-test-token";

async fn serve() -> T {
    let store = Arc::new(ScimStore::default());
    let (base, _task) = scim_store::serve_loopback(store.clone(), Secret::new(TOKEN))
        .await
        .unwrap();
    T {
        base,
        http: reqwest::Client::new(),
        store,
    }
}

impl T {
    async fn req(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            rb = rb
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let r = rb.send().await.unwrap();
        let (s, h) = (r.status().as_u16(), r.headers().clone());
        (s, h, r.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        let (s, _, v) = self.req(reqwest::Method::GET, path, None).await;
        (s, v)
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let (s, _, v) = self.req(reqwest::Method::POST, path, Some(body)).await;
        (s, v)
    }
    async fn patch(&self, path: &str, ops: Value) -> u16 {
        self.req(reqwest::Method::PATCH, path, Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}))).await.0
    }
    async fn filter(&self, endpoint: &str, f: &str) -> Vec<String> {
        let url = format!(
            "/{endpoint}?filter={}",
            url::form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>()
        );
        let (s, v) = self.get(&url).await;
        assert_eq!(s, 200, "{f}: {v}");
        let mut out: Vec<String> = v["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.get("userName")
                    .or(r.get("displayName"))
                    .and_then(Value::as_str)
                    .unwrap()
                    .to_string()
            })
            .collect();
        out.sort();
        out
    }
}

fn user(name: &str, ext: &str, work: &str, dept: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
           "userName": name, "externalId": ext, "active": true, "name": {"givenName": "G", "familyName": "F"},
           "emails": [{"type": "work", "value": work, "primary": true}, {"type": "home", "value": format!("home-{work}")}],
           "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": dept}})
}

#[tokio::test]
async fn auth_create_conflict_get_delete() {
    let t = serve().await;
    let r = t
        .http
        .get(format!("{}/Users", t.base))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"SCIM\"");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(body["status"], "401");
    assert_eq!(
        t.http
            .get(format!("{}/Users", t.base))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Discovery needs no token.
    let spc: Value = t
        .http
        .get(format!("{}/ServiceProviderConfig", t.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"]["supported"], true);
    let rt: Value = t
        .http
        .get(format!("{}/ResourceTypes", t.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rt["totalResults"], 2);
    let sc: Value = t
        .http
        .get(format!("{}/Schemas", t.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sc["totalResults"], 3);

    let (s, h, created) = t
        .req(
            reqwest::Method::POST,
            "/Users",
            Some(user("Alice@X.com", "e1", "alice@x.com", "Sales")),
        )
        .await;
    assert_eq!(s, 201);
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        h["location"].to_str().unwrap(),
        format!("{}/Users/{id}", t.base)
    );
    assert_eq!(created["meta"]["resourceType"], "User");
    assert!(created["meta"]["created"].is_string() && created["meta"]["version"].is_string());
    let (s, dup) = t
        .post("/Users", user("alice@x.COM", "e2", "a2@x.com", "Sales"))
        .await;
    assert_eq!((s, dup["scimType"].as_str()), (409, Some("uniqueness")));
    let (s, bad) = t
        .post("/Users", json!({"displayName": "no userName"}))
        .await;
    assert_eq!((s, bad["scimType"].as_str()), (400, Some("invalidValue")));
    let (s, _, v) = t.req(reqwest::Method::POST, "/Users", None).await;
    assert_eq!((s, v["scimType"].as_str()), (400, Some("invalidSyntax")));

    let (s, got) = t.get(&format!("/Users/{id}")).await;
    assert_eq!((s, got["userName"].as_str()), (200, Some("Alice@X.com")));
    let (s, nf) = t.get("/Users/nope").await;
    assert_eq!((s, nf["status"].as_str()), (404, Some("404")));
    assert!(nf["detail"].as_str().unwrap().contains("nope"));

    // Groups: displayName unique, members kept, a deleted user leaves its groups.
    let (s, g) = t
        .post(
            "/Groups",
            json!({"displayName": "Eng", "members": [{"value": id}]}),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(
        t.post("/Groups", json!({"displayName": "ENG"})).await.0,
        409
    );
    let gid = g["id"].as_str().unwrap().to_string();
    let (s, _, _) = t
        .req(reqwest::Method::DELETE, &format!("/Users/{id}"), None)
        .await;
    assert_eq!(s, 204);
    assert_eq!(t.get(&format!("/Users/{id}")).await.0, 404);
    assert_eq!(
        t.get(&format!("/Groups/{gid}")).await.1["members"],
        json!([])
    );
    assert_eq!(
        t.req(reqwest::Method::DELETE, &format!("/Users/{id}"), None)
            .await
            .0,
        404
    );
    assert!(
        t.store
            .request_log()
            .iter()
            .any(|l| l.starts_with("DELETE /scim/v2/Users/"))
    );
}

#[tokio::test]
async fn filters_paging_and_attribute_selection() {
    let t = serve().await;
    t.post(
        "/Users",
        user("alice@x.com", "E-1", "alice@work.com", "Sales"),
    )
    .await;
    t.post("/Users", user("bob@x.com", "E-2", "bob@work.com", "Ops"))
        .await;
    t.post(
        "/Users",
        user("o'brien@x.com", "E-3", "carol@work.com", "Sales"),
    )
    .await;
    let mut noname = user("dan@y.org", "E-4", "dan@work.com", "Ops");
    noname["name"] = Value::Null;
    noname.as_object_mut().unwrap().remove("name");
    t.post("/Users", noname).await;

    assert_eq!(
        t.filter("Users", r#"userName eq "ALICE@x.com""#).await,
        ["alice@x.com"]
    );
    assert_eq!(
        t.filter("Users", r#"userName eq "o'brien@x.com""#).await,
        ["o'brien@x.com"]
    );
    assert_eq!(
        t.filter("Users", r#"userName eq "nobody""#).await,
        Vec::<String>::new()
    );
    assert_eq!(
        t.filter("Users", r#"externalId eq "E-2""#).await,
        ["bob@x.com"]
    );
    assert_eq!(
        t.filter("Users", r#"externalId eq "e-2""#).await,
        Vec::<String>::new(),
        "externalId is caseExact"
    );
    assert_eq!(
        t.filter("Users", r#"userName ne "alice@x.com""#)
            .await
            .len(),
        3
    );
    assert_eq!(
        t.filter("Users", r#"userName co "BRIEN""#).await,
        ["o'brien@x.com"]
    );
    assert_eq!(t.filter("Users", r#"userName sw "b""#).await, ["bob@x.com"]);
    assert_eq!(t.filter("Users", r#"name.givenName pr"#).await.len(), 3);
    assert_eq!(
        t.filter("Users", r#"emails[type eq "work"].value eq "bob@work.com""#)
            .await,
        ["bob@x.com"]
    );
    assert_eq!(
        t.filter(
            "Users",
            r#"emails[type eq "work"].value eq "home-bob@work.com""#
        )
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        t.filter("Users", r#"emails.value eq "home-bob@work.com""#)
            .await,
        ["bob@x.com"]
    );
    assert_eq!(
        t.filter("Users", r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "sales" and userName sw "a""#).await,
        ["alice@x.com"]
    );
    assert_eq!(
        t.filter(
            "Users",
            r#"userName eq "bob@x.com" or (externalId eq "E-1")"#
        )
        .await,
        ["alice@x.com", "bob@x.com"]
    );
    assert_eq!(
        t.filter("Users", r#"id eq "nope""#).await,
        Vec::<String>::new()
    );
    let (s, bad) = t.get("/Users?filter=userName%20xx%20%22a%22").await;
    assert_eq!((s, bad["scimType"].as_str()), (400, Some("invalidFilter")));

    // Paging in creation order.
    let (_, p) = t.get("/Users?startIndex=2&count=2").await;
    assert_eq!(
        (
            p["totalResults"].as_u64(),
            p["startIndex"].as_u64(),
            p["itemsPerPage"].as_u64()
        ),
        (Some(4), Some(2), Some(2))
    );
    assert_eq!(p["Resources"][0]["userName"], "bob@x.com");
    let (_, p) = t.get("/Users?count=0").await;
    assert_eq!(
        (
            p["totalResults"].as_u64(),
            p["Resources"].as_array().unwrap().len()
        ),
        (Some(4), 0)
    );
    let (_, p) = t.get("/Users?startIndex=9").await;
    assert_eq!(p["Resources"], json!([]));

    // attributes / excludedAttributes
    let (_, p) = t
        .get("/Users?attributes=userName,name.givenName&filter=userName%20eq%20%22bob%40x.com%22")
        .await;
    let r = &p["Resources"][0];
    assert_eq!(r["name"], json!({"givenName": "G"}));
    assert!(r.get("emails").is_none() && r.get("id").is_some());
    let alice = t.filter("Users", r#"userName eq "alice@x.com""#).await;
    assert_eq!(alice.len(), 1);
    let (_, g) = t
        .post(
            "/Groups",
            json!({"displayName": "Sales", "externalId": "g1", "members": [{"value": "x"}]}),
        )
        .await;
    let (_, l) = t
        .get("/Groups?excludedAttributes=members&filter=displayName%20eq%20%22sales%22")
        .await;
    assert_eq!(l["totalResults"], 1);
    assert!(l["Resources"][0].get("members").is_none());
    let (_, one) = t
        .get(&format!(
            "/Groups/{}?excludedAttributes=members",
            g["id"].as_str().unwrap()
        ))
        .await;
    assert!(one.get("members").is_none() && one["displayName"] == "Sales");
}

#[tokio::test]
async fn patch_dialects_put_and_bulk() {
    let t = serve().await;
    let (_, u) = t
        .post("/Users", user("p@x.com", "E", "p@work.com", "Sales"))
        .await;
    let id = u["id"].as_str().unwrap().to_string();
    let path = format!("/Users/{id}");
    // Entra default dialect.
    assert_eq!(t.patch(&path, json!([
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "q@work.com"},
        {"op": "Replace", "path": "name.familyName", "value": "Q"},
        {"op": "Add", "path": "nickName", "value": "Babs"},
        {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "42"},
        {"op": "Replace", "path": "active", "value": "False"}])).await, 204);
    let (_, v) = t.get(&path).await;
    assert_eq!(v["active"], false);
    assert_eq!(
        v["emails"][0],
        json!({"type": "work", "value": "q@work.com", "primary": true})
    );
    assert_eq!(
        (v["name"]["familyName"].as_str(), v["nickName"].as_str()),
        (Some("Q"), Some("Babs"))
    );
    assert_eq!(
        v["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"],
        "42"
    );
    // aadOptscim062020 dialect: lowercase, path-less with dotted keys, boolean.
    assert_eq!(t.patch(&path, json!([{"op": "replace", "value": {"active": true, "name.givenName": "Pat", "userName": "pat@x.com",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops"}}])).await, 204);
    let (_, v) = t.get(&path).await;
    assert_eq!(
        (
            v["active"].as_bool(),
            v["name"]["givenName"].as_str(),
            v["userName"].as_str()
        ),
        (Some(true), Some("Pat"), Some("pat@x.com"))
    );
    assert_eq!(
        v["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Ops"
    );
    assert_eq!(
        t.filter("Users", r#"userName eq "PAT@x.com""#).await,
        ["pat@x.com"],
        "index follows a renamed userName"
    );
    assert_eq!(
        t.filter("Users", r#"userName eq "p@x.com""#).await,
        Vec::<String>::new()
    );
    // Errors.
    assert_eq!(
        t.patch(
            &path,
            json!([{"op": "frobnicate", "path": "x", "value": 1}])
        )
        .await,
        400
    );
    assert_eq!(
        t.patch(
            "/Users/nope",
            json!([{"op": "add", "path": "nickName", "value": "x"}])
        )
        .await,
        404
    );
    let (_, other) = t
        .post("/Users", user("other@x.com", "O", "o@work.com", "Ops"))
        .await;
    assert_eq!(
        t.patch(
            &format!("/Users/{}", other["id"].as_str().unwrap()),
            json!([{"op": "replace", "path": "userName", "value": "PAT@X.COM"}])
        )
        .await,
        409
    );

    // Group members: Entra default add/remove, flag remove by value path.
    let (_, g) = t.post("/Groups", json!({"displayName": "G"})).await;
    let gp = format!("/Groups/{}", g["id"].as_str().unwrap());
    assert_eq!(t.patch(&gp, json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": "m1"}, {"value": "m2"}, {"value": "m3"}]}])).await, 204);
    assert_eq!(
        t.patch(
            &gp,
            json!([{"op": "Remove", "path": "members", "value": [{"value": "m1"}]}])
        )
        .await,
        204
    );
    assert_eq!(
        t.patch(
            &gp,
            json!([{"op": "remove", "path": "members[value eq \"m2\"]"}])
        )
        .await,
        204
    );
    let (_, gv) = t.get(&gp).await;
    assert_eq!(
        gv["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["m3"]
    );
    assert_eq!(
        t.patch(
            &gp,
            json!([{"op": "Replace", "path": "displayName", "value": "G2"}])
        )
        .await,
        204
    );
    assert_eq!(t.filter("Groups", r#"displayName eq "g2""#).await, ["G2"]);

    // PUT replaces.
    let (s, _, put) = t
        .req(
            reqwest::Method::PUT,
            &path,
            Some(json!({"userName": "pat@x.com", "active": "True"})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (put["active"].as_bool(), put.get("name")),
        (Some(true), None)
    );
    assert_eq!(put["id"], id.as_str());

    // Bulk with a bulkId reference.
    let (s, b) = t.post("/Bulk", json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "bulkId": "u1", "path": "/Users", "data": {"userName": "bulk@x.com"}},
        {"method": "POST", "bulkId": "g1", "path": "/Groups", "data": {"displayName": "BulkGroup", "members": [{"value": "bulkId:u1"}]}},
        {"method": "PATCH", "path": "/Users/bulkId:u1", "data": {"Operations": [{"op": "replace", "path": "active", "value": false}]}},
        {"method": "POST", "path": "/Users", "data": {"userName": "BULK@x.com"}},
        {"method": "DELETE", "path": "/Users/nope"}]})).await;
    assert_eq!(s, 200);
    let statuses: Vec<&str> = b["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["201", "201", "200", "409", "404"]);
    let bulk_user = t.store.user_by_username("bulk@x.com").unwrap();
    assert_eq!(bulk_user["active"], false);
    let (_, bg) = t
        .get(&format!(
            "/Groups?filter={}",
            url::form_urlencoded::byte_serialize(b"displayName eq \"BulkGroup\"")
                .collect::<String>()
        ))
        .await;
    assert_eq!(bg["Resources"][0]["members"][0]["value"], bulk_user["id"]);
}

/// `cargo test --release --test twin_scim_store -- --ignored --nocapture` for the 100k figures.
/// RFC 7644 §3.4.3 search by POST, at the root and per type; a list without
/// `count` is answered in full (up to `filter.maxResults`); a `password` is
/// kept but never returned (RFC 7643 §4.1.1 `returned: never`).
#[tokio::test]
async fn search_by_post_full_pages_and_password_never_returned() {
    let t = serve().await;
    for i in 0..130 {
        let (s, _) = t
            .post(
                "/Users",
                user(
                    &format!("u{i:03}@x"),
                    &format!("e{i}"),
                    &format!("w{i}@x"),
                    "D",
                ),
            )
            .await;
        assert_eq!(s, 201);
    }
    let (s, g) = t
        .post("/Groups", json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G1"}))
        .await;
    assert_eq!(s, 201, "{g}");
    let (s, all) = t.get("/Users").await;
    assert_eq!(s, 200);
    assert_eq!(
        all["Resources"].as_array().unwrap().len(),
        130,
        "no count: the whole list"
    );

    let search = |filter: &str, start: u64, count: u64| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
               "attributes": ["userName", "displayName"], "filter": filter, "startIndex": start, "count": count})
    };
    let (s, r) = t
        .post("/Users/.search", search("userName sw \"u12\"", 1, 5))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["totalResults"], 10);
    assert_eq!(r["Resources"].as_array().unwrap().len(), 5);
    assert_eq!(
        r["Resources"][0],
        json!({"schemas": user("a", "b", "c", "d")["schemas"], "id": r["Resources"][0]["id"], "userName": "u120@x"})
    );
    // Root search pages over Users then Groups as one list: 130 users + 1 group.
    let (s, r) = t
        .post("/.search", json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "startIndex": 129, "count": 10}))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["totalResults"], 131);
    let names: Vec<&str> = r["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            x["userName"]
                .as_str()
                .or(x["displayName"].as_str())
                .unwrap()
        })
        .collect();
    assert_eq!(names, ["u128@x", "u129@x", "G1"]);

    let mut with_password = user("p@x", "ep", "p@x", "D");
    with_password["password"] = json!("Sup3r-secret!");
    let (s, created) = t.post("/Users", with_password).await;
    assert_eq!(s, 201);
    assert!(created.get("password").is_none(), "{created}");
    let id = created["id"].as_str().unwrap();
    let (_, got) = t.get(&format!("/Users/{id}")).await;
    assert!(got.get("password").is_none(), "{got}");
    let (_, listed) = t
        .get("/Users?filter=userName%20eq%20%22p@x%22&attributes=password")
        .await;
    assert!(listed["Resources"][0].get("password").is_none(), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: 100k users in the embedded store; run explicitly with --ignored"]
async fn hundred_thousand_users() {
    let t = serve().await;
    let n = 100_000;
    let started = std::time::Instant::now();
    for i in 0..n {
        t.store
            .create(
                scim_store::Kind::User,
                json!({"userName": format!("user{i:06}@x.com"), "externalId": format!("e{i}")}),
                "http://x",
            )
            .unwrap();
    }
    eprintln!(
        "100k creates (in process): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let started = std::time::Instant::now();
    for i in (0..n).step_by(100) {
        let f = format!("userName eq \"USER{i:06}@x.com\"");
        assert_eq!(t.filter("Users", &f).await.len(), 1);
    }
    eprintln!(
        "1000 userName eq lookups over HTTP: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let started = std::time::Instant::now();
    let mut seen = 0;
    let mut start = 1;
    loop {
        let (_, p) = t
            .get(&format!("/Users?startIndex={start}&count=1000"))
            .await;
        let k = p["Resources"].as_array().unwrap().len();
        seen += k;
        if k == 0 {
            break;
        }
        start += k;
    }
    assert_eq!(seen, n);
    eprintln!(
        "paging 100k users (count=1000) over HTTP: {:.2} s",
        started.elapsed().as_secs_f64()
    );
}
