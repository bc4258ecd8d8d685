//! `create-job` (the custom app's provisioning job from the `scim` template;
//! binds `{customJobId}`) and `write-secrets` (the SCIM endpoint and token,
//! checked with validateCredentials; the token is `{secret:scimToken}`, an
//! input apply reads, never a value in the plan).

use super::{StepInputs, custom_job};
use crate::plan::model::*;
use crate::plan::probe::Probe;
use serde_json::{Value, json};

/// The SCIM token: a known input (`placeholder::INPUTS`), never a value.
pub const SCIM_TOKEN: &str = "{secret:scimToken}";

pub fn create_job() -> Step {
    let jobs = "/servicePrincipals/{customSpId}/synchronization/jobs";
    Step {
        id: "create-job".into(),
        action: Action::Create,
        title: "Create the custom app's provisioning job from the `scim` template".into(),
        count: 1,
        object: "job".into(),
        requests: vec![
            Request::get("/servicePrincipals/{customSpId}/synchronization/templates"),
            Request::post(jobs, Some(json!({"templateId": "scim"})))
                .binding([Bind::pointer("customJobId", "/id")]),
        ],
        diff: vec![DiffLine::add("job.templateId", json!("scim"))],
        // A new custom app has no job but the one this step makes.
        done_when: DoneWhen::when(
            Request::get(jobs).binding([Bind::pointer("customJobId", "/value/0/id")]),
            vec![
                Expect::at("/value/0/templateId", ExpectOp::Equals, Some(json!("scim"))),
                Expect::at("/value/1", ExpectOp::Equals, Some(Value::Null)),
            ],
        ),
        undo: Undo::new(
            vec![Request::graph(Method::Delete, custom_job(""), None)],
            "Deletes the custom job and its state.",
        ),
        details: Value::Null,
    }
}

pub fn write_secrets(i: &StepInputs) -> Step {
    let setting = |k: &str| {
        i.snap
            .app
            .settings
            .iter()
            .find(|kv| kv.key.eq_ignore_ascii_case(k))
            .map(|kv| kv.value.clone())
    };
    let base = setting("BaseAddress");
    let notif = setting("SyncNotificationSettings").unwrap_or_else(|| {
        r#"{"Enabled":false,"DeleteThresholdEnabled":true,"DeleteThresholdValue":500}"#.into()
    });
    let sync_all = if i.scope_all { "true" } else { "false" };
    let base_value = base.clone().unwrap_or_else(|| "{scimBaseUrl}".into());
    let creds = json!([
        {"key": "BaseAddress", "value": base_value},
        {"key": "SecretToken", "value": SCIM_TOKEN},
    ]);
    Step {
        id: "write-secrets".into(),
        action: Action::Change,
        title: "Write the SCIM endpoint and token, check them with validateCredentials".into(),
        count: 1,
        object: "secret set".into(),
        requests: vec![
            Request::post(
                custom_job("/validateCredentials"),
                Some(json!({"useSavedCredentials": false, "credentials": creds})),
            ),
            Request::graph(
                Method::Put,
                "/servicePrincipals/{customSpId}/synchronization/secrets",
                Some(json!({"value": [
                    {"key": "BaseAddress", "value": base_value},
                    {"key": "SecretToken", "value": SCIM_TOKEN},
                    {"key": "SyncAll", "value": sync_all},
                    {"key": "SyncNotificationSettings", "value": notif},
                ]})),
            ),
        ],
        diff: vec![
            DiffLine::add("secrets.BaseAddress", json!(base_value)),
            DiffLine::add("secrets.SecretToken", json!(SCIM_TOKEN)),
            DiffLine::add("secrets.SyncAll", json!(sync_all)),
            DiffLine::add("secrets.SyncNotificationSettings", json!(notif)),
        ],
        done_when: DoneWhen::get(
            "/servicePrincipals/{customSpId}/synchronization/secrets",
            vec![
                Expect::probe(
                    Probe::Secret("BaseAddress".into()),
                    ExpectOp::Equals,
                    Some(json!(base_value)),
                ),
                Expect::probe(Probe::Secret("SecretToken".into()), ExpectOp::Exists, None),
            ],
        ),
        undo: Undo::new(
            vec![],
            "Secrets cannot be deleted; they go with the custom job or app (undo of create-job / create-app).",
        ),
        details: json!({"galleryBaseAddress": base}),
    }
}
