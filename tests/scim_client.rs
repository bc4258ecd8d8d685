//! The SCIM client against the independent scim2-server: the quirks it must
//! tolerate (PATCH 204, paging, quoting) and the errors an admin sees.

mod common;

use scimshift::scim::{BulkOp, Resource, ScimClient};
use scimshift::secret::Secret;
use serde_json::{Value, json};

fn user(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "active": true,
        "name": {"givenName": "G", "familyName": "F"},
        "emails": [{"value": name, "type": "work", "primary": true}]
    })
}

#[tokio::test]
async fn crud_paging_quoting_and_bulk_against_scim2_server() {
    let server = common::start_scim2_server();
    let c = ScimClient::new(&server.base_url, Secret::new(server.token.clone())).unwrap();
    let pc = c.service_provider_config().await.unwrap();
    assert!(pc.patch && pc.bulk && pc.filter);

    let obrien = c
        .create(Resource::Users, &user("o'brien@example.com"))
        .await
        .unwrap();
    let id = obrien["id"].as_str().unwrap().to_string();
    for i in 0..11 {
        c.create(Resource::Users, &user(&format!("u{i:02}@example.com")))
            .await
            .unwrap();
    }
    // Apostrophes and case: scim2-server matches userName case-insensitively.
    let found = c
        .find_eq(Resource::Users, "userName", "O'Brien@example.com")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], id.as_str());

    // Paging with a page smaller than the total still returns everyone once.
    let mut pages = 0;
    let n = c
        .for_each_page(Resource::Users, None, &[], 5, |_, total| {
            pages += 1;
            assert_eq!(total, 12);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!((n, pages), (12, 3));

    // scim2-server answers PATCH with 204 and no body.
    let r = c
        .patch(
            Resource::Users,
            &id,
            vec![json!({"op": "replace", "path": "active", "value": false})],
        )
        .await
        .unwrap();
    assert!(r.is_none());
    assert_eq!(
        c.get(Resource::Users, &id).await.unwrap().unwrap()["active"],
        false
    );
    assert!(
        c.get(Resource::Users, "no-such-id")
            .await
            .unwrap()
            .is_none()
    );

    // Duplicate userName: one sentence naming the conflict.
    let e = c
        .create(Resource::Users, &user("u00@example.com"))
        .await
        .unwrap_err();
    assert!(e.message.contains("409"), "{}", e.message);

    let ops = vec![
        BulkOp {
            method: reqwest::Method::POST,
            path: "/Users".into(),
            bulk_id: Some("a".into()),
            data: Some(user("bulk-a@example.com")),
        },
        BulkOp {
            method: reqwest::Method::POST,
            path: "/Users".into(),
            bulk_id: Some("b".into()),
            data: Some(user("u01@example.com")),
        },
    ];
    let res = c.bulk(&ops, None).await.unwrap();
    assert_eq!(res.len(), 2);
    assert_eq!(
        res.iter()
            .find(|r| r.bulk_id.as_deref() == Some("a"))
            .unwrap()
            .status,
        201
    );
    assert_eq!(
        res.iter()
            .find(|r| r.bulk_id.as_deref() == Some("b"))
            .unwrap()
            .status,
        409
    );
    c.delete(Resource::Users, &id).await.unwrap();
    assert_eq!(c.list_all(Resource::Users, 1000).await.unwrap().len(), 12);
}

#[tokio::test]
async fn wrong_token_and_wrong_url_get_one_sentence() {
    let server = common::start_scim2_server();
    let bad = ScimClient::new(&server.base_url, Secret::new("wrong")).unwrap();
    let e = bad.list_all(Resource::Users, 100).await.unwrap_err();
    assert!(e.message.contains("refused the token"), "{}", e.message);
    assert!(!e.message.contains("wrong"), "the token must not be echoed");

    let wrong_path = ScimClient::new(
        &server.base_url.replace("/v2", "/scim/nope"),
        Secret::new(server.token.clone()),
    )
    .unwrap();
    let e = wrong_path.list_all(Resource::Users, 100).await.unwrap_err();
    assert!(
        e.message.contains("does not look like a SCIM"),
        "{}",
        e.message
    );

    let refusing = common::net::refusing_port();
    let closed = ScimClient::new(&refusing.url("/v2"), Secret::new("t"))
        .unwrap()
        .with_retry(scimshift::net::RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        });
    let e = closed.service_provider_config().await.unwrap_err();
    assert!(e.message.contains("could not connect"), "{}", e.message);
}
