//! Graph handlers for `…/servicePrincipals/{id}/synchronization`: templates,
//! secrets, jobs and their schema, and the job actions (validateCredentials,
//! pause, start, restart, provisionOnDemand). Work that touches the target
//! is delegated to the provisioning engine (`twin::engine`).

use super::apps::sp_or_404;
use super::{Call, GErr, GResult, created, entity, no_content, ok};
use crate::engine;
use crate::schemas::{self, MASKED_SECRETS, SECRET_KEYS};
use crate::state::{SyncJob, Tenant};
use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde_json::{Value, json};

/// The job `{job}` on `{sp}` (both visible: a new job flaps 404 for a while), or 404.
fn job_of<'a>(c: &Call, t: &'a mut Tenant) -> Result<&'a mut SyncJob, GErr> {
    let sp = sp_or_404(c, t)?;
    let id = c.param("job");
    if !c.st.visible(id) {
        return Err(GErr::not_found(id));
    }
    t.synchronization
        .get_mut(&sp.id)
        .and_then(|s| s.jobs.get_mut(id))
        .ok_or_else(|| GErr::not_found(id))
}

pub fn list_templates(c: &Call) -> GResult {
    let t = c.twin().tenant();
    let sp = sp_or_404(c, &t)?;
    let templates = t
        .synchronization
        .get(&sp.id)
        .map(|s| s.templates.clone())
        .unwrap_or_default();
    let ctx = c.context(&format!(
        "servicePrincipals('{}')/synchronization/templates",
        sp.id
    ));
    ok(json!({"@odata.context": ctx, "value": templates}))
}

pub fn get_secrets(c: &Call) -> GResult {
    let t = c.twin().tenant();
    let sp = sp_or_404(c, &t)?;
    let value: Vec<Value> = t
        .synchronization
        .get(&sp.id)
        .map(|s| {
            s.secrets
                .iter()
                .map(|(k, v)| {
                    let shown = if MASKED_SECRETS.iter().any(|m| m.eq_ignore_ascii_case(k)) {
                        "*"
                    } else {
                        v.as_str()
                    };
                    json!({"key": k, "value": shown})
                })
                .collect()
        })
        .unwrap_or_default();
    let ctx = c.context(&format!(
        "servicePrincipals('{}')/synchronization/secrets",
        sp.id
    ));
    ok(json!({"@odata.context": ctx, "value": value}))
}

/// `PUT …/secrets` replaces every secret with the given set.
pub fn put_secrets(c: &Call) -> GResult {
    let body = c.json()?;
    let Some(items) = body.get("value").and_then(Value::as_array) else {
        return Err(GErr::bad_request(
            "The request body must be {\"value\": [{\"key\": …, \"value\": …}]}.",
        ));
    };
    let mut secrets = std::collections::BTreeMap::new();
    for item in items {
        let key = item.get("key").and_then(Value::as_str).unwrap_or("");
        let Some(canonical) = SECRET_KEYS.iter().find(|k| k.eq_ignore_ascii_case(key)) else {
            return Err(GErr::bad_request(format!(
                "Cannot convert the literal '{key}' to the expected type 'microsoft.graph.synchronizationSecret'."
            )));
        };
        let value = match item.get("value") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        if *canonical == "SyncNotificationSettings"
            && !value.is_empty()
            && serde_json::from_str::<Value>(&value).is_err()
        {
            return Err(GErr::new(
                400,
                "UnknownError",
                json!({"error": {"code": "InvalidNotificationSettings", "message": "The notification settings are not valid JSON."}}).to_string(),
            ));
        }
        secrets.insert(canonical.to_string(), value);
    }
    let mut t = c.twin().tenant();
    let sp = sp_or_404(c, &t)?;
    t.synchronization.entry(sp.id.clone()).or_default().secrets = secrets;
    no_content()
}

pub fn list_jobs(c: &Call) -> GResult {
    let t = c.twin().tenant();
    let sp = sp_or_404(c, &t)?;
    let jobs: Vec<Value> = t
        .synchronization
        .get(&sp.id)
        .map(|s| {
            s.jobs
                .values()
                .filter(|j| c.st.visible(&j.id))
                .map(schemas::job_json)
                .collect()
        })
        .unwrap_or_default();
    let ctx = c.context(&format!(
        "servicePrincipals('{}')/synchronization/jobs",
        sp.id
    ));
    ok(json!({"@odata.context": ctx, "value": jobs}))
}

pub fn create_job(c: &Call) -> GResult {
    let body = c.json()?;
    let template_id = body
        .get("templateId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    if template_id.is_empty() {
        return Err(GErr::bad_request("Property 'templateId' is required."));
    }
    let mut t = c.twin().tenant();
    let sp = sp_or_404(c, &t)?;
    let hex = t.tenant_id.replace('-', "");
    let sync = t.synchronization.entry(sp.id.clone()).or_default();
    let Some(template) = sync
        .templates
        .iter()
        .find(|x| x.get("id").and_then(Value::as_str) == Some(template_id.as_str()))
    else {
        return Err(GErr::new(
            400,
            "UnknownError",
            json!({"Message": format!("The template '{template_id}' was not found for this service principal.")}).to_string(),
        ));
    };
    let id = format!("{template_id}.{hex}.{}", uuid::Uuid::new_v4().simple());
    let mut schema = template.get("schema").cloned().unwrap_or_else(|| json!({}));
    schema["id"] = json!(id);
    let job = SyncJob {
        id: id.clone(),
        template_id,
        schedule_state: "Disabled".into(),
        status: schemas::fresh_status(),
        schema,
        user_links: Default::default(),
        group_links: Default::default(),
    };
    let out = schemas::job_json(&job);
    sync.jobs.insert(id.clone(), job);
    drop(t);
    c.st.hide_for_replication(&[&id]);
    created(entity(
        out,
        c.context(&format!(
            "servicePrincipals('{}')/synchronization/jobs/$entity",
            sp.id
        )),
    ))
}

pub fn get_job(c: &Call) -> GResult {
    let mut t = c.twin().tenant();
    let job = job_of(c, &mut t)?;
    let ctx = c.context(&format!(
        "servicePrincipals('{}')/synchronization/jobs/$entity",
        c.param("sp")
    ));
    ok(entity(schemas::job_json(job), ctx))
}

pub fn delete_job(c: &Call) -> GResult {
    let mut t = c.twin().tenant();
    job_of(c, &mut t)?;
    let sp = c.param("sp").to_string();
    if let Some(s) = t.synchronization.get_mut(&sp) {
        s.jobs.remove(c.param("job"));
    }
    no_content()
}

pub fn get_schema(c: &Call) -> GResult {
    let mut t = c.twin().tenant();
    let job = job_of(c, &mut t)?;
    let ctx = c.context(&format!(
        "servicePrincipals('{}')/synchronization/jobs('{}')/schema/$entity",
        c.param("sp"),
        job.id
    ));
    ok(entity(job.schema.clone(), ctx))
}

/// `PUT …/schema`: full replace, 204. The schema must read as mappings.
pub fn put_schema(c: &Call) -> GResult {
    let body = c.json()?;
    if !body.is_object()
        || !body
            .get("synchronizationRules")
            .is_some_and(Value::is_array)
    {
        return Err(GErr::bad_request(
            "The schema must be a synchronizationSchema object with synchronizationRules.",
        ));
    }
    if let Err(e) = crate::mapping::schema::Mappings::from_schema(&body) {
        return Err(GErr::new(
            400,
            "UnknownError",
            json!({"Message": format!("The schema could not be parsed: {}", e.0)}).to_string(),
        ));
    }
    let mut t = c.twin().tenant();
    let job = job_of(c, &mut t)?;
    let mut schema = body;
    schema["id"] = json!(job.id);
    job.schema = schema;
    no_content()
}

/// `PATCH …/schema` is what the generated SDKs send; production answers 404 from syncfabric.
pub fn patch_schema(c: &Call) -> GResult {
    let mut t = c.twin().tenant();
    let job = job_of(c, &mut t)?;
    let inner = json!({"Message": format!(
        "No HTTP resource was found that matches the request URI 'https://syncfabric.windowsazure.com/api/servicePrincipals({})/synchronization/jobs({})/schema?api-version=2.0'.",
        c.param("sp"), job.id)});
    Err(GErr::new(404, "UnknownError", inner.to_string()))
}

fn engine_err(e: engine::EngineError) -> GErr {
    GErr::new(e.status, &e.code, e.message)
}

/// `POST …/jobs/{job}/validateCredentials` (and the collection-level form).
pub fn validate_credentials(c: Call) -> BoxFuture<'static, GResult> {
    async move {
        let body = if c.body.is_empty() {
            json!({})
        } else {
            c.json()?
        };
        let saved = body
            .get("useSavedCredentials")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let (base, token) = {
            let mut t = c.twin().tenant();
            if c.params.contains_key("job") {
                job_of(&c, &mut t)?;
            }
            let sp = sp_or_404(&c, &t)?;
            let pick = |k: &str| -> String {
                if saved {
                    t.synchronization
                        .get(&sp.id)
                        .and_then(|s| s.secrets.get(k))
                        .cloned()
                        .unwrap_or_default()
                } else {
                    body.get("credentials")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .find(|i| {
                            i.get("key")
                                .and_then(Value::as_str)
                                .is_some_and(|x| x.eq_ignore_ascii_case(k))
                        })
                        .and_then(|i| i.get("value").and_then(Value::as_str))
                        .unwrap_or("")
                        .to_string()
                }
            };
            (pick("BaseAddress"), pick("SecretToken"))
        };
        if base.is_empty() {
            return Err(GErr::bad_request(
                "The credentials must include BaseAddress (the tenant URL).",
            ));
        }
        engine::validate_credentials(c.twin(), &base, &token)
            .await
            .map_err(engine_err)?;
        no_content()
    }
    .boxed()
}

pub fn pause(c: &Call) -> GResult {
    let mut t = c.twin().tenant();
    let job = job_of(c, &mut t)?;
    job.schedule_state = "Paused".into();
    job.status["code"] = json!("Paused");
    no_content()
}

/// Mark a job active; the engine runs it. Status code is set to Active here
/// and the engine refines it (Quarantine, progress…) as it runs.
fn activate(c: &Call) -> Result<(), GErr> {
    let mut t = c.twin().tenant();
    let job = job_of(c, &mut t)?;
    job.schedule_state = "Active".into();
    job.status["code"] = json!("Active");
    Ok(())
}

/// `start` resumes from where the job stopped (an incremental cycle; the
/// engine makes it full when the schema or credentials changed).
pub fn start(c: &Call) -> GResult {
    activate(c)?;
    engine::start_job(c.twin(), c.param("sp"), c.param("job"), false);
    no_content()
}

/// `restart` with `criteria.resetScope`: clears what the scope names, then starts.
pub fn restart(c: &Call) -> GResult {
    let body = if c.body.is_empty() {
        json!({})
    } else {
        c.json()?
    };
    let scope = body
        .pointer("/criteria/resetScope")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let flags: Vec<String> = scope
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    const KNOWN: &[&str] = &[
        "None",
        "ConnectorDataStore",
        "Escrows",
        "Watermark",
        "QuarantineState",
        "Full",
        "ForceDeletes",
    ];
    if let Some(bad) = flags
        .iter()
        .find(|f| !KNOWN.iter().any(|k| k.eq_ignore_ascii_case(f)))
    {
        return Err(GErr::bad_request(format!(
            "Requested value '{bad}' was not found."
        )));
    }
    {
        let mut t = c.twin().tenant();
        let job = job_of(c, &mut t)?;
        let has = |f: &str| {
            flags.is_empty()
                || flags
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case(f) || x.eq_ignore_ascii_case("Full"))
        };
        if has("QuarantineState") {
            job.status["quarantine"] = Value::Null;
            job.status["countSuccessiveCompleteFailures"] = json!(0);
        }
        if has("Escrows") {
            job.status["escrowsPruned"] = json!(true);
        }
        if flags.iter().any(|x| x.eq_ignore_ascii_case("Full")) {
            job.user_links.clear();
            job.group_links.clear();
        }
    }
    let rt = c.twin().engine.runtime(c.param("sp"), c.param("job"));
    if flags.iter().any(|x| x.eq_ignore_ascii_case("ForceDeletes")) {
        rt.force_deletes();
    }
    // A reset watermark (or Full) means the next cycle re-reads everything.
    let full = flags.is_empty()
        || flags
            .iter()
            .any(|x| x.eq_ignore_ascii_case("Watermark") || x.eq_ignore_ascii_case("Full"));
    activate(c)?;
    engine::start_job(c.twin(), c.param("sp"), c.param("job"), full);
    no_content()
}

/// `provisionOnDemand`: one subject per call; a group carries at most 5 members.
pub fn provision_on_demand(c: Call) -> BoxFuture<'static, GResult> {
    async move {
        let body = c.json()?;
        let params = body.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
        if params.is_empty() {
            return Err(GErr::new(400, "RequestParameterInvalid", "The request must have 'parameters' with a ruleId and subjects."));
        }
        {
            let mut t = c.twin().tenant();
            let job = job_of(&c, &mut t)?;
            let rule_ids: Vec<String> = job
                .schema
                .get("synchronizationRules")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_string))
                .collect();
            for p in &params {
                let rule = p.get("ruleId").and_then(Value::as_str).unwrap_or("");
                if !rule_ids.iter().any(|r| r == rule) {
                    return Err(GErr::new(
                        400,
                        "RequestParameterInvalid",
                        format!("The request parameter is invalid: the job does not include the rule '{rule}'."),
                    ));
                }
                let subjects = p.get("subjects").and_then(Value::as_array).cloned().unwrap_or_default();
                if subjects.is_empty() {
                    return Err(GErr::new(400, "RequestParameterInvalid", "The request parameter is invalid: no subjects were given."));
                }
                for s in &subjects {
                    let members = s.pointer("/links/members").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
                    if members > 5 {
                        return Err(GErr::new(
                            400,
                            "RequestParameterInvalid",
                            format!("A group can be provisioned on demand with at most 5 members; {members} were given."),
                        ));
                    }
                }
            }
        }
        let mut out = engine::provision_on_demand(c.twin(), c.param("sp"), c.param("job"), &body).await.map_err(engine_err)?;
        if let Value::Object(m) = &mut out {
            m.insert("@odata.context".into(), json!(c.context("microsoft.graph.stringKeyStringValuePair")));
        }
        ok(out)
    }
    .boxed()
}
