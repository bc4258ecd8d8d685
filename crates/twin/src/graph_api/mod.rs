//! The twin's Microsoft Graph surface (`/v1.0`): the route table, the one
//! dispatcher every route goes through (bearer check, permission check,
//! throttling, Graph error bodies), and the handlers, split by resource.
//!
//! [`ROUTES`] is data: the router is built from it, and the contract test
//! checks every entry against Graph's OpenAPI description. Routes Graph has
//! but its OpenAPI files do not describe carry the reason in `not_in_openapi`.

mod apps;
mod batch;
mod directory;
mod sync;

use super::Twin;
use super::auth::{Auth, Caller, Perm};
use super::odata::ODataQuery;
use super::request_log::RequestLog;
use super::throttle::{Quota, Throttle};
use axum::body::{Body, Bytes};
use axum::extract::{RawPathParams, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};
use tower::ServiceExt as _;

/// Shared by every Graph handler.
pub struct GraphState {
    pub twin: Arc<Twin>,
    pub auth: Arc<Auth>,
    pub throttle: Throttle,
    /// `http://127.0.0.1:P/v1.0`, for absolute `@odata.nextLink`s.
    pub graph_url: String,
    /// The Graph router itself, for `$batch` inner requests.
    pub router: OnceLock<axum::Router>,
    pub request_log: Option<Arc<RequestLog>>,
    /// Probability that `instantiate` creates the app and still answers 404.
    pub instantiate_404: f64,
}

impl GraphState {
    /// Whether this read sees an object (it flaps for a while after creation, see `twin::lag`).
    pub fn visible(&self, id: &str) -> bool {
        self.twin.lag.visible(id)
    }

    /// Start the replication window of objects just created.
    pub fn hide_for_replication(&self, ids: &[&str]) {
        self.twin.lag.created(ids);
    }
}

/// A Graph error: status, code and message (innerError is added on the way out).
#[derive(Debug, Clone)]
pub struct GErr {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl GErr {
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> GErr {
        GErr {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: code.into(),
            message: message.into(),
        }
    }
    pub fn not_found(id: &str) -> GErr {
        GErr::new(
            404,
            "Request_ResourceNotFound",
            format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }
    pub fn bad_request(message: impl Into<String>) -> GErr {
        GErr::new(400, "Request_BadRequest", message)
    }
    /// 404 for an unknown object id; 400 `Invalid object identifier` when `id` is not a GUID, as Graph answers.
    pub fn missing_object(id: &str) -> GErr {
        if uuid::Uuid::parse_str(id).is_err() {
            GErr::bad_request(format!("Invalid object identifier '{id}'."))
        } else {
            GErr::not_found(id)
        }
    }
}

impl From<(&'static str, String)> for GErr {
    fn from((code, message): (&'static str, String)) -> GErr {
        GErr::new(400, code, message)
    }
}

pub type GResult = Result<Response, GErr>;

/// One Graph request as handlers see it.
pub struct Call {
    pub st: Arc<GraphState>,
    pub caller: Caller,
    pub method: Method,
    /// Path below `/v1.0`, as requested.
    pub path: String,
    pub params: HashMap<String, String>,
    pub query: ODataQuery,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Call {
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or("")
    }
    /// The body as JSON; malformed → 400 BadRequest like Graph.
    pub fn json(&self) -> Result<Value, GErr> {
        if self.body.is_empty() {
            return Err(GErr::new(
                400,
                "BadRequest",
                "Empty Payload. JSON content expected.",
            ));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| GErr::new(400, "BadRequest", format!("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format. ({e})")))
    }
    pub fn twin(&self) -> &Arc<Twin> {
        &self.st.twin
    }
    /// Absolute URL of this request's path (for nextLinks).
    pub fn self_url(&self) -> String {
        format!("{}{}", self.st.graph_url, self.path)
    }
    pub fn context(&self, what: &str) -> String {
        format!("{}/$metadata#{what}", self.st.graph_url)
    }
    /// Filter a directory collection with this call's `$filter` and answer one
    /// page of it (default page 100, `$top`, nextLink), as Graph does.
    pub fn filtered_page(&self, items: Vec<serde_json::Value>, context: &str) -> GResult {
        let items = self.query.apply_filter(items, true);
        ok(crate::odata::page(
            items,
            &self.query,
            &self.self_url(),
            &self.context(context),
            100,
        ))
    }
}

pub type SyncHandler = fn(&Call) -> GResult;
pub type AsyncHandler = fn(Call) -> BoxFuture<'static, GResult>;

#[derive(Clone, Copy)]
pub enum Handler {
    Sync(SyncHandler),
    Async(AsyncHandler),
}

/// One served (method, path template) and how it is handled.
pub struct Route {
    pub method: &'static str,
    /// axum template relative to `/v1.0`.
    pub path: &'static str,
    pub perm: Perm,
    pub handler: Handler,
    /// Why this route is absent from Graph's OpenAPI description, when it is.
    pub not_in_openapi: Option<&'static str>,
}

const fn r(method: &'static str, path: &'static str, perm: Perm, handler: Handler) -> Route {
    Route {
        method,
        path,
        perm,
        handler,
        not_in_openapi: None,
    }
}
const fn x(
    method: &'static str,
    path: &'static str,
    perm: Perm,
    handler: Handler,
    why: &'static str,
) -> Route {
    Route {
        method,
        path,
        perm,
        handler,
        not_in_openapi: Some(why),
    }
}
use Handler::{Async as A, Sync as S};
use Perm::*;

const USERS_GROUPS: &str = "users and groups are described in Graph's Users/Groups OpenAPI files, which are not stored in this repository";

/// Every Graph route the twin serves.
pub const ROUTES: &[Route] = &[
    // service principals and applications
    r("GET", "/servicePrincipals", AppRead, S(apps::list_sps)),
    r("GET", "/servicePrincipals/{sp}", AppRead, S(apps::get_sp)),
    r("GET", "/applications", AppRead, S(apps::list_apps)),
    r("GET", "/applications/{app}", AppRead, S(apps::get_app)),
    r(
        "DELETE",
        "/applications/{app}",
        AppWrite,
        S(apps::delete_app),
    ),
    r(
        "POST",
        "/applicationTemplates/{tmpl}/instantiate",
        AppWrite,
        S(apps::instantiate),
    ),
    // app role assignments
    r(
        "GET",
        "/servicePrincipals/{sp}/appRoleAssignedTo",
        AssignRead,
        S(apps::list_assignments),
    ),
    r(
        "POST",
        "/servicePrincipals/{sp}/appRoleAssignedTo",
        AssignWrite,
        S(apps::create_assignment),
    ),
    r(
        "DELETE",
        "/servicePrincipals/{sp}/appRoleAssignedTo/{assignment}",
        AssignWrite,
        S(apps::delete_assignment),
    ),
    // synchronization
    r(
        "GET",
        "/servicePrincipals/{sp}/synchronization/templates",
        SyncRead,
        S(sync::list_templates),
    ),
    x(
        "GET",
        "/servicePrincipals/{sp}/synchronization/secrets",
        SyncRead,
        S(sync::get_secrets),
        "GET on secrets works in production (used by Terraform and the Entra docs) but the v1.0 OpenAPI lists only PUT",
    ),
    r(
        "PUT",
        "/servicePrincipals/{sp}/synchronization/secrets",
        SyncWrite,
        S(sync::put_secrets),
    ),
    r(
        "GET",
        "/servicePrincipals/{sp}/synchronization/jobs",
        SyncRead,
        S(sync::list_jobs),
    ),
    r(
        "POST",
        "/servicePrincipals/{sp}/synchronization/jobs",
        SyncWrite,
        S(sync::create_job),
    ),
    r(
        "POST",
        "/servicePrincipals/{sp}/synchronization/jobs/validateCredentials",
        SyncWrite,
        A(sync::validate_credentials),
    ),
    r(
        "GET",
        "/servicePrincipals/{sp}/synchronization/jobs/{job}",
        SyncRead,
        S(sync::get_job),
    ),
    r(
        "DELETE",
        "/servicePrincipals/{sp}/synchronization/jobs/{job}",
        SyncWrite,
        S(sync::delete_job),
    ),
    r(
        "GET",
        "/servicePrincipals/{sp}/synchronization/jobs/{job}/schema",
        SyncRead,
        S(sync::get_schema),
    ),
    x(
        "PUT",
        "/servicePrincipals/{sp}/synchronization/jobs/{job}/schema",
        SyncWrite,
        S(sync::put_schema),
        "the documented verb for replacing a job schema is PUT; the generated OpenAPI says PATCH (msgraph-sdk-powershell#1134)",
    ),
    r(
        "PATCH",
        "/servicePrincipals/{sp}/synchronization/jobs/{job}/schema",
        SyncWrite,
        S(sync::patch_schema),
    ),
    r(
        "POST",
        "/servicePrincipals/{sp}/synchronization/jobs/{job}/validateCredentials",
        SyncWrite,
        A(sync::validate_credentials),
    ),
    r(
        "POST",
        "/servicePrincipals/{sp}/synchronization/jobs/{job}/pause",
        SyncWrite,
        S(sync::pause),
    ),
    r(
        "POST",
        "/servicePrincipals/{sp}/synchronization/jobs/{job}/start",
        SyncWrite,
        S(sync::start),
    ),
    r(
        "POST",
        "/servicePrincipals/{sp}/synchronization/jobs/{job}/restart",
        SyncWrite,
        S(sync::restart),
    ),
    r(
        "POST",
        "/servicePrincipals/{sp}/synchronization/jobs/{job}/provisionOnDemand",
        SyncWrite,
        A(sync::provision_on_demand),
    ),
    // directory
    x(
        "GET",
        "/users",
        DirRead,
        S(directory::list_users),
        USERS_GROUPS,
    ),
    x(
        "POST",
        "/users",
        DirWrite,
        S(directory::create_user),
        USERS_GROUPS,
    ),
    x(
        "GET",
        "/users/{user}",
        DirRead,
        S(directory::get_user),
        USERS_GROUPS,
    ),
    x(
        "PATCH",
        "/users/{user}",
        DirWrite,
        S(directory::update_user),
        USERS_GROUPS,
    ),
    x(
        "GET",
        "/users/{user}/manager",
        DirRead,
        S(directory::get_manager),
        USERS_GROUPS,
    ),
    x(
        "PUT",
        "/users/{user}/manager/$ref",
        DirWrite,
        S(directory::set_manager),
        USERS_GROUPS,
    ),
    x(
        "GET",
        "/domains",
        DirRead,
        S(directory::list_domains),
        "domains are described in Graph's Identity.DirectoryManagement OpenAPI file, which is not stored in this repository",
    ),
    x(
        "GET",
        "/users/$count",
        DirRead,
        S(directory::count_users),
        USERS_GROUPS,
    ),
    x(
        "GET",
        "/groups/$count",
        DirRead,
        S(directory::count_groups),
        USERS_GROUPS,
    ),
    x(
        "GET",
        "/groups",
        DirRead,
        S(directory::list_groups),
        USERS_GROUPS,
    ),
    x(
        "POST",
        "/groups",
        DirWrite,
        S(directory::create_group),
        USERS_GROUPS,
    ),
    x(
        "GET",
        "/groups/{group}",
        DirRead,
        S(directory::get_group),
        USERS_GROUPS,
    ),
    x(
        "GET",
        "/groups/{group}/members",
        DirRead,
        S(directory::members),
        USERS_GROUPS,
    ),
    x(
        "GET",
        "/groups/{group}/members/microsoft.graph.user",
        DirRead,
        S(directory::member_users),
        USERS_GROUPS,
    ),
    x(
        "GET",
        "/groups/{group}/members/graph.user",
        DirRead,
        S(directory::member_users),
        "the same type cast with Graph's `graph` namespace alias, which Microsoft's SDKs send",
    ),
    x(
        "GET",
        "/groups/{group}/members/microsoft.graph.group",
        DirRead,
        S(directory::member_groups),
        USERS_GROUPS,
    ),
    x(
        "GET",
        "/groups/{group}/members/graph.group",
        DirRead,
        S(directory::member_groups),
        "the same type cast with Graph's `graph` namespace alias, which Microsoft's SDKs send",
    ),
    x(
        "GET",
        "/groups/{group}/members/$count",
        DirRead,
        S(directory::count_members),
        USERS_GROUPS,
    ),
    x(
        "POST",
        "/groups/{group}/members/$ref",
        DirWrite,
        S(directory::add_member),
        USERS_GROUPS,
    ),
    x(
        "GET",
        "/groups/{group}/transitiveMembers",
        DirRead,
        S(directory::transitive_members),
        USERS_GROUPS,
    ),
    x(
        "GET",
        "/groups/{group}/transitiveMembers/microsoft.graph.user",
        DirRead,
        S(directory::transitive_member_users),
        USERS_GROUPS,
    ),
    x(
        "GET",
        "/groups/{group}/transitiveMembers/graph.user",
        DirRead,
        S(directory::transitive_member_users),
        "the same type cast with Graph's `graph` namespace alias, which Microsoft's SDKs send",
    ),
    x(
        "GET",
        "/groups/{group}/transitiveMembers/microsoft.graph.group",
        DirRead,
        S(directory::transitive_member_groups),
        USERS_GROUPS,
    ),
    x(
        "GET",
        "/groups/{group}/transitiveMembers/graph.group",
        DirRead,
        S(directory::transitive_member_groups),
        "the same type cast with Graph's `graph` namespace alias, which Microsoft's SDKs send",
    ),
    x(
        "GET",
        "/groups/{group}/transitiveMembers/$count",
        DirRead,
        S(directory::count_transitive_members),
        USERS_GROUPS,
    ),
    // reports
    r(
        "GET",
        "/auditLogs/provisioning",
        Audit,
        S(directory::provisioning_logs),
    ),
    // batching
    x(
        "POST",
        "/$batch",
        Any,
        A(batch::batch),
        "JSON batching is not part of Graph's OpenAPI description",
    ),
];

/// The throttling quotas a route counts against, with their cost.
fn quotas_of(route: &Route) -> Vec<(Quota, usize)> {
    let p = route.path;
    if p.ends_with("/provisionOnDemand") {
        vec![(Quota::ProvisionOnDemand, 1)]
    } else if p.starts_with("/auditLogs") {
        vec![(Quota::Reports, 1)]
    } else if p == "/$batch" {
        vec![]
    } else if p.contains("/synchronization") {
        // Proxied to the synchronization service: only identity writes count.
        if route.method == "GET" {
            vec![]
        } else {
            vec![(Quota::Writes, 1)]
        }
    } else if route.method == "GET" {
        let cost = if p.starts_with("/applications") { 2 } else { 1 };
        vec![(Quota::ResourceUnits, cost)]
    } else {
        vec![(Quota::Writes, 1), (Quota::ResourceUnits, 1)]
    }
}

/// The Graph router (to nest at `/v1.0`).
pub fn router(st: Arc<GraphState>) -> axum::Router {
    let mut by_path: BTreeMap<&'static str, MethodRouter<Arc<GraphState>>> = BTreeMap::new();
    for route in ROUTES {
        let method = Method::from_bytes(route.method.as_bytes()).expect("route methods are valid");
        let filter = MethodFilter::try_from(method).expect("route methods are standard");
        let mr = by_path.remove(route.path).unwrap_or_default();
        let mr = mr.on(
            filter,
            move |State(st): State<Arc<GraphState>>, params: RawPathParams, req: Request| {
                dispatch(st, route, params, req)
            },
        );
        by_path.insert(route.path, mr);
    }
    let mut router = axum::Router::new();
    for (path, mr) in by_path {
        router = router.route(path, mr.fallback(method_not_allowed));
    }
    router.fallback(unknown_segment).with_state(st)
}

async fn method_not_allowed(req: Request) -> Response {
    error_response(
        &GErr::new(
            405,
            "Request_BadRequest",
            format!(
                "Specified HTTP method is not allowed for the request target ({}).",
                req.method()
            ),
        ),
        req.headers(),
    )
}

/// Alternate-key paths served besides [`ROUTES`] (checked by the contract test too):
/// they are resolved to the object id and dispatched through the same routes.
pub const ALIASES: &[(&str, &str)] = &[
    ("GET", "/servicePrincipals(appId='{appId}')"),
    ("GET", "/applications(appId='{appId}')"),
    ("DELETE", "/applications(appId='{appId}')"),
];

/// `servicePrincipals(appId='…')` (GET) or `applications(appId='…')` (GET,
/// DELETE) → the collection and the appId.
fn app_id_alias(method: &Method, path: &str) -> Option<(&'static str, String)> {
    let decoded: String =
        url::form_urlencoded::parse(format!("p={}", path.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())?;
    let (collection, inner) = if let Some(rest) = decoded.strip_prefix("/servicePrincipals(appId=")
    {
        if method != Method::GET {
            return None;
        }
        ("servicePrincipals", rest)
    } else if let Some(rest) = decoded.strip_prefix("/applications(appId=") {
        if method != Method::GET && method != Method::DELETE {
            return None;
        }
        ("applications", rest)
    } else {
        return None;
    };
    let key = inner
        .strip_suffix(')')?
        .strip_prefix('\'')?
        .strip_suffix('\'')?;
    Some((collection, key.to_string()))
}

async fn unknown_segment(State(st): State<Arc<GraphState>>, req: Request) -> Response {
    if let Some((collection, app_id)) = app_id_alias(req.method(), req.uri().path()) {
        if let Err(msg) = st.auth.check_bearer(req.headers()) {
            return error_response(
                &GErr::new(401, "InvalidAuthenticationToken", msg),
                req.headers(),
            );
        }
        let object = {
            let t = st.twin.tenant();
            if collection == "servicePrincipals" {
                t.service_principals
                    .values()
                    .find(|sp| sp.app_id.eq_ignore_ascii_case(&app_id))
                    .map(|sp| sp.id.clone())
            } else {
                t.applications
                    .values()
                    .find(|a| a.app_id.eq_ignore_ascii_case(&app_id))
                    .map(|a| a.id.clone())
            }
        };
        let Some(sp) = object.filter(|id| st.visible(id)) else {
            return error_response(&GErr::not_found(&app_id), req.headers());
        };
        let (mut parts, body) = req.into_parts();
        let target = match parts.uri.query() {
            Some(q) => format!("/{collection}/{sp}?{q}"),
            None => format!("/{collection}/{sp}"),
        };
        let Ok(uri) = target.parse() else {
            return error_response(&GErr::bad_request("Invalid request."), &parts.headers);
        };
        parts.uri = uri;
        let Some(router) = st.router.get().cloned() else {
            return error_response(
                &GErr::new(500, "InternalServerError", "The router is not ready."),
                &parts.headers,
            );
        };
        return match router.oneshot(Request::from_parts(parts, body)).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
    }
    let path = req.uri().path().to_string();
    let segment = path
        .trim_start_matches('/')
        .split('/')
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .to_string();
    let e = if segment.is_empty() {
        GErr::new(400, "BadRequest", "Invalid request.")
    } else {
        GErr::new(
            400,
            "BadRequest",
            format!("Resource not found for the segment '{segment}'."),
        )
    };
    error_response(&e, req.headers())
}

/// The Graph error body `{"error":{code,message,innerError{date,request-id,client-request-id}}}`.
pub fn error_response(e: &GErr, req_headers: &HeaderMap) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let client_request_id = req_headers
        .get("client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| request_id.clone());
    let body = json!({"error": {
        "code": e.code, "message": e.message,
        "innerError": {"date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(), "request-id": request_id, "client-request-id": client_request_id}
    }});
    let mut resp = (e.status, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("request-id", v);
    }
    resp
}

async fn dispatch(
    st: Arc<GraphState>,
    route: &'static Route,
    raw: RawPathParams,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    st.throttle.count_request();
    let caller = match st.auth.check_bearer(&headers) {
        Ok(c) => c,
        Err(msg) => {
            let mut resp =
                error_response(&GErr::new(401, "InvalidAuthenticationToken", msg), &headers);
            resp.headers_mut().insert("www-authenticate", HeaderValue::from_static("Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\""));
            return resp;
        }
    };
    if !caller.allows(route.perm) {
        return error_response(
            &GErr::new(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ),
            &headers,
        );
    }
    let quotas = quotas_of(route);
    for &(q, cost) in &quotas {
        let Err(retry) = st.throttle.admit_cost(&caller.client_id, q, cost) else {
            continue;
        };
        let mut resp = error_response(
            &GErr::new(
                429,
                "TooManyRequests",
                "Too many requests. Please retry after the time specified in the Retry-After header.",
            ),
            &headers,
        );
        let h = resp.headers_mut();
        h.insert("retry-after", HeaderValue::from(retry));
        let scope = format!(
            "Tenant_Application/{}/{}/{}",
            q.scope_kind(),
            caller.client_id,
            st.twin.tenant().tenant_id
        );
        if let Ok(v) = HeaderValue::from_str(&scope) {
            h.insert("x-ms-throttle-scope", v);
        }
        h.insert(
            "x-ms-throttle-information",
            HeaderValue::from_static(q.information()),
        );
        return resp;
    }
    // Right after a service principal or job is created, its sync calls fail transiently.
    if route.path.contains("/synchronization")
        && let Some(sp) = raw
            .iter()
            .find(|(k, _)| *k == "sp")
            .map(|(_, v)| v.to_string())
    {
        let job = raw
            .iter()
            .find(|(k, _)| *k == "job")
            .map(|(_, v)| v.to_string());
        if let Some(t) = st.twin.lag.sync_transient(&sp, job.as_deref()) {
            return error_response(&GErr::new(t.status, t.code, t.message), &headers);
        }
    }
    let ru = quotas
        .iter()
        .find(|(q, _)| *q == Quota::ResourceUnits)
        .map(|(_, c)| *c)
        .unwrap_or(1);
    let body = match axum::body::to_bytes(body, 64 * 1024 * 1024).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(
                &GErr::new(400, "BadRequest", "The request body could not be read."),
                &headers,
            );
        }
    };
    let query = match ODataQuery::parse(parts.uri.query()) {
        Ok(q) => q,
        Err(e) => return error_response(&GErr::from(e), &headers),
    };
    // axum has already percent-decoded the captures.
    let params = raw
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let call = Call {
        st,
        caller,
        method: parts.method,
        path: parts.uri.path().to_string(),
        params,
        query,
        headers: headers.clone(),
        body,
    };
    let result = match route.handler {
        Handler::Sync(f) => f(&call),
        Handler::Async(f) => f(call).await,
    };
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => error_response(&e, &headers),
    };
    resp.headers_mut()
        .insert("x-ms-resource-unit", HeaderValue::from(ru));
    resp
}

/// 200 with a JSON body.
pub fn ok(v: Value) -> GResult {
    Ok((StatusCode::OK, axum::Json(v)).into_response())
}
/// 201 with a JSON body.
pub fn created(v: Value) -> GResult {
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}
/// 204, no body.
pub fn no_content() -> GResult {
    Ok(Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Body::empty())
        .expect("static response"))
}

/// Add `@odata.context` to a single entity.
pub fn entity(mut v: Value, context: String) -> Value {
    if let Value::Object(m) = &mut v {
        let mut out = serde_json::Map::new();
        out.insert("@odata.context".into(), json!(context));
        out.append(m);
        return Value::Object(out);
    }
    v
}
