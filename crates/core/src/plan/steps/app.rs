//! `create-app` (instantiate the non-gallery template; binds the custom
//! service principal and appId) and `wait-replication` (five good reads in a
//! row before anything is written under the new service principal).

use super::StepInputs;
use crate::plan::model::*;
use serde_json::{Value, json};

pub fn create_app(i: &StepInputs) -> Step {
    let (name, template_id) = (i.custom_name, i.template_id);
    Step {
        id: "create-app".into(),
        action: Action::Create,
        title: format!("Create the custom app \"{name}\" from the non-gallery template"),
        count: 1,
        object: "app".into(),
        requests: vec![
            Request::post(
                format!("/applicationTemplates/{template_id}/instantiate"),
                Some(json!({"displayName": name})),
            )
            .binding([
                Bind::pointer("customSpId", "/servicePrincipal/id"),
                Bind::pointer("customAppId", "/servicePrincipal/appId"),
            ]),
        ],
        diff: vec![
            DiffLine::add("app.displayName", json!(name)),
            DiffLine::add("app.applicationTemplateId", json!(template_id)),
        ],
        done_when: DoneWhen::when(
            Request::get(format!(
                "/servicePrincipals?$filter=displayName eq '{}'&$select=id,appId,displayName,applicationTemplateId",
                name.replace('\'', "''")
            ))
            .binding([
                Bind::pointer("customSpId", "/value/0/id"),
                Bind::pointer("customAppId", "/value/0/appId"),
            ]),
            vec![
                Expect::at("/value", ExpectOp::CountAtLeast, Some(json!(1))),
                Expect::at(
                    "/value/0/applicationTemplateId",
                    ExpectOp::Equals,
                    Some(json!(template_id)),
                ),
            ],
        ),
        undo: Undo::new(
            vec![Request::graph(
                Method::Delete,
                "/applications(appId='{customAppId}')",
                None,
            )],
            "Deletes the custom app and its service principal (soft-deleted, restorable for 30 days).",
        ),
        details: json!({"templateId": template_id}),
    }
}

pub fn wait_replication() -> Step {
    Step {
        id: "wait-replication".into(),
        action: Action::Check,
        title: "Wait until the new service principal has replicated (5 successful reads in a row)"
            .into(),
        count: 1,
        object: "check".into(),
        requests: vec![Request::get("/servicePrincipals/{customSpId}")],
        diff: vec![],
        done_when: DoneWhen::get("/servicePrincipals/{customSpId}", vec![Expect::status(200)])
            .polled(5, Some(5)),
        undo: Undo::read(),
        details: Value::Null,
    }
}
