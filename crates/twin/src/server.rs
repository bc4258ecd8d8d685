//! Starting a twin in-process: bind a loopback port, build the tenant from a
//! seed, serve Graph (`/v1.0`), the token endpoints (`/{tenant}/oauth2/v2.0/…`)
//! and the embedded SCIM store (`/scim/v2`) on it, run the seed's initial
//! provisioning cycles, and hand back a [`RunningTwin`] with its URLs and
//! credentials. Tests, `scimshift demo` and `twin serve` all start it here.
//!
//! `POST /scim/tokens` (with a current SCIM bearer token) issues a new
//! embedded-store token, as an app admin does; with one token at a time (on
//! for the demo seed, Coda's rule) it revokes the previous one.
//!
//! The request log and fault injection wrap the whole router, so they see
//! Graph, token and SCIM requests alike (faults: Graph and SCIM only). Both
//! start when the twin is ready: the seed's start-up provisioning is neither
//! faulted nor logged.

use super::auth::{Auth, ClientApp};
use super::faults::{Fault, Faults, Script, Strike};
use super::graph_api::{self, GErr, GraphState};
use super::lag::{Lag, LagState};
use super::request_log::RequestLog;
use super::seed::{SCIM_TOKEN_PLACEHOLDER, SCIM_URL_PLACEHOLDER, Seed, SeedSpec};
use super::throttle::Throttle;
use super::{Twin, engine, scim_store};
use crate::error::{Error, Result};
use crate::secret::Secret;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How to start a twin.
#[derive(Debug, Clone)]
pub struct TwinOptions {
    /// Address to bind, e.g. `127.0.0.1:0`.
    pub listen: String,
    pub seed: SeedSpec,
    /// Provision into this SCIM server (URL, bearer token) instead of the embedded store.
    pub scim_target: Option<(String, Secret)>,
    pub faults: Option<Faults>,
    /// Replication and assignment lag (`Lag::off()` for fast unit tests).
    pub lag: Lag,
    /// Tenant time per real time: 40-minute cycle intervals, Microsoft's
    /// 0.01–0.08 min per object and quarantine back-offs all divided by it
    /// (1200: a 2 s interval). `None`: cycles as fast as the target answers.
    pub time_scale: Option<f64>,
    /// The embedded store keeps one token at a time (issuing one revokes the
    /// last), as Coda does; `None` = on for the demo seed (a Coda tenant).
    pub one_scim_token: Option<bool>,
    pub request_log: Option<PathBuf>,
    /// Multiplies Graph's throttling quotas; 0 turns throttling off.
    pub quota_scale: f64,
    /// Token polls answered `authorization_pending` before a device code succeeds.
    pub device_code_pending_polls: u32,
    /// Run the seed's `runJobs` cycles and create its hand-made target objects at start.
    pub provision_at_start: bool,
    /// A BaseAddress served by the embedded store (`Twin::scim_alias`).
    pub scim_alias: Option<String>,
}

impl Default for TwinOptions {
    fn default() -> Self {
        TwinOptions {
            listen: "127.0.0.1:0".into(),
            seed: SeedSpec::Demo,
            scim_target: None,
            faults: None,
            lag: Lag::realistic(),
            time_scale: Some(DEFAULT_TIME_SCALE),
            one_scim_token: None,
            request_log: None,
            quota_scale: 1.0,
            device_code_pending_polls: 2,
            provision_at_start: true,
            scim_alias: None,
        }
    }
}

/// The default time scale: a 40-minute cycle interval becomes 2 s.
pub const DEFAULT_TIME_SCALE: f64 = 1200.0;

/// A twin serving on loopback. Dropping it stops the server.
pub struct RunningTwin {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:P/v1.0`
    pub graph_url: String,
    /// `http://127.0.0.1:P` (token endpoint: `{authority}/{tenant}/oauth2/v2.0/token`)
    pub authority_url: String,
    pub tenant_id: String,
    /// The admin client (every permission scimshift needs).
    pub client_id: String,
    pub client_secret: Secret,
    /// Every registered client; with a seed that defines none, `[admin, reader]`
    /// where the reader has only Application.Read.All and Directory.Read.All.
    pub clients: Vec<ClientApp>,
    /// The SCIM target the engine provisions into, and its token.
    pub scim_url: String,
    pub scim_token: Secret,
    pub twin: Arc<Twin>,
    /// Problems met while seeding the target (the twin still serves).
    pub warnings: Vec<String>,
    graph: Arc<GraphState>,
    script: Arc<Script>,
    faults_paused: Arc<AtomicBool>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for RunningTwin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningTwin")
            .field("graph_url", &self.graph_url)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scim_url", &self.scim_url)
            .field("scim_token", &self.scim_token)
            .finish_non_exhaustive()
    }
}

impl RunningTwin {
    /// The one JSON line `twin serve` prints when ready (it holds the secrets, by design).
    pub fn ready_line(&self) -> String {
        json!({
            "graph_url": self.graph_url,
            "authority_url": self.authority_url,
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "client_secret": self.client_secret.expose(),
            "scim_url": self.scim_url,
            "scim_token": self.scim_token.expose(),
        })
        .to_string()
    }

    /// Graph requests, resource units and 429s the twin has answered so far.
    pub fn usage(&self) -> super::throttle::Usage {
        self.graph.throttle.usage()
    }

    /// A quota's scaled limit and window (None with throttling off).
    pub fn quota(&self, q: super::throttle::Quota) -> Option<(usize, std::time::Duration)> {
        self.graph.throttle.limit(q)
    }

    /// The token endpoint URL.
    pub fn token_url(&self) -> String {
        format!(
            "{}/{}/oauth2/v2.0/token",
            self.authority_url, self.tenant_id
        )
    }

    /// A bearer token for a registered client, without going through the token endpoint.
    pub fn token_for(&self, client_id: &str) -> Option<Secret> {
        let c = self.clients.iter().find(|c| c.client_id == client_id)?;
        Some(Secret::new(self.graph.auth.issue(c)))
    }

    /// Issue a new embedded-store token (with one token at a time the earlier
    /// ones, `scim_token` included, stop working at once).
    pub fn issue_scim_token(&self) -> Secret {
        self.twin.scim_store.issue_token()
    }

    /// Every access token the twin has issued (through its token endpoint or
    /// [`RunningTwin::token_for`]).
    pub fn issued_tokens(&self) -> Vec<Secret> {
        self.graph.auth.issued()
    }

    /// A bearer token for the admin client.
    pub fn admin_token(&self) -> Secret {
        self.token_for(&self.client_id)
            .expect("the admin client is registered")
    }

    /// How many requests each scripted fault (`TwinOptions.faults.scripted`,
    /// in order) has matched so far, struck or not: "was it sent again?"
    pub fn scripted_matches(&self) -> Vec<u32> {
        self.script.matches()
    }

    /// Pause (or resume) the random faults of `TwinOptions.faults`: a test's
    /// own checks of the end state need not fight injected 429s.
    pub fn pause_faults(&self, paused: bool) {
        self.faults_paused.store(paused, Ordering::SeqCst);
    }

    /// Stop serving and wait for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

impl Drop for RunningTwin {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Shared by the outer middleware (request log, faults).
struct Outer {
    log: Option<Arc<RequestLog>>,
    faults: Option<Faults>,
    /// The scripted faults of `faults`, with their counts.
    script: Arc<Script>,
    /// Set when the twin stops: a held (timed-out) answer is let go.
    closing: tokio::sync::watch::Sender<bool>,
    /// Set once seeding is done: the start-up provisioning is neither faulted nor logged.
    ready: AtomicBool,
    /// Random faults paused ([`RunningTwin::pause_faults`]); scripted ones still strike.
    faults_paused: Arc<AtomicBool>,
}

fn random_token() -> String {
    use base64::Engine as _;
    let raw: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// Build the twin from `opts.seed`, serve it, and run its initial provisioning.
pub async fn start(opts: TwinOptions) -> Result<RunningTwin> {
    let seed = opts.seed.load()?;
    start_with_seed(opts, seed).await
}

async fn start_with_seed(opts: TwinOptions, seed: Seed) -> Result<RunningTwin> {
    if let Some((url, _)) = &opts.scim_target {
        crate::net::checked_url(url, "--scim-target")?;
    }
    if !opts.quota_scale.is_finite() || opts.quota_scale < 0.0 {
        return Err(Error::usage(
            "--quota-scale must be a number ≥ 0 (0 turns throttling off)",
        ));
    }
    let log = match &opts.request_log {
        Some(p) => Some(Arc::new(RequestLog::open(p)?)),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(opts.listen.as_str())
        .await
        .map_err(|e| Error::usage(format!("could not listen on {}: {e}", opts.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io(format!("could not read the bound address: {e}")))?;
    let authority_url = format!("http://{addr}");
    let graph_url = format!("{authority_url}/v1.0");
    let embedded_url = format!("{authority_url}/scim/v2");

    let mut tenant = seed.tenant;
    if tenant.tenant_id.trim().is_empty() {
        tenant.tenant_id = uuid::Uuid::new_v4().to_string();
    }
    let embedded_token = Secret::new(random_token());
    let (scim_url, scim_token) = match &opts.scim_target {
        Some((u, t)) => (u.trim_end_matches('/').to_string(), t.clone()),
        None => (embedded_url.clone(), embedded_token.clone()),
    };
    for sync in tenant.synchronization.values_mut() {
        for v in sync.secrets.values_mut() {
            if v == SCIM_URL_PLACEHOLDER {
                *v = scim_url.clone();
            } else if v == SCIM_TOKEN_PLACEHOLDER {
                *v = scim_token.expose().to_string();
            }
        }
    }
    let clients = if seed.clients.is_empty() {
        let admin = ClientApp::random_admin();
        let reader = ClientApp {
            client_id: uuid::Uuid::new_v4().to_string(),
            client_secret: super::auth::random_secret(),
            display_name: "scimshift-reader".into(),
            roles: vec!["Application.Read.All".into(), "Directory.Read.All".into()],
        };
        vec![admin, reader]
    } else {
        seed.clients.clone()
    };
    let tenant_id = tenant.tenant_id.clone();
    let tenant_users = tenant.users.len();
    let twin = Arc::new(Twin {
        tenant: Mutex::new(tenant),
        http: crate::net::http_client(),
        scim_store: Arc::new(scim_store::ScimStore::default()),
        embedded_scim_url: OnceLock::new(),
        scim_alias: OnceLock::new(),
        embedded_scim_token: embedded_token.clone(),
        lag: LagState::new(opts.lag.clone()),
        engine: engine::EngineState::default(),
    });
    if let Some(scale) = opts.time_scale {
        if !scale.is_finite() || scale <= 0.0 {
            return Err(Error::usage("--time-scale must be a number > 0"));
        }
        twin.engine.set_time_scale(Some(scale));
    }
    let one_token = opts
        .one_scim_token
        .unwrap_or(matches!(opts.seed, SeedSpec::Demo));
    twin.scim_store.set_one_token_at_a_time(one_token);
    let _ = twin.embedded_scim_url.set(embedded_url);
    if let Some(alias) = &opts.scim_alias {
        let _ = twin.scim_alias.set(alias.clone());
    }
    let auth = Arc::new(Auth::new(
        tenant_id.clone(),
        clients.clone(),
        opts.device_code_pending_polls,
    ));
    let graph = Arc::new(GraphState {
        twin: twin.clone(),
        auth: auth.clone(),
        throttle: Throttle::new(opts.quota_scale, tenant_users),
        graph_url: graph_url.clone(),
        router: OnceLock::new(),
        request_log: log.clone(),
        instantiate_404: opts.faults.as_ref().map_or(0.0, |f| f.instantiate_404),
    });
    let graph_router = graph_api::router(graph.clone());
    let _ = graph.router.set(graph_router.clone());
    let faults_paused = Arc::new(AtomicBool::new(false));
    let outer = Arc::new(Outer {
        log,
        faults: opts.faults.clone(),
        script: Arc::new(Script::new(
            opts.faults.as_ref().map_or(&[][..], |f| &f.scripted),
        )),
        closing: tokio::sync::watch::channel(false).0,
        ready: AtomicBool::new(false),
        faults_paused: faults_paused.clone(),
    });
    let store_for_tokens = twin.scim_store.clone();
    let app = Router::new()
        .route(
            "/scim/tokens",
            post(move |headers: axum::http::HeaderMap| {
                let store = store_for_tokens.clone();
                async move { issue_scim_token(&store, &headers) }
            }),
        )
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/{tenant}/oauth2/v2.0/devicecode", post(devicecode))
        .with_state(auth)
        .nest("/v1.0", graph_router)
        .nest(
            "/scim/v2",
            scim_store::router(twin.scim_store.clone(), embedded_token),
        )
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": "not_found"})),
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            outer.clone(),
            outer_layer,
        ));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let closing = outer.clone();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
                closing.closing.send_replace(true);
            })
            .await;
    });

    let admin = clients[0].clone();
    let mut running = RunningTwin {
        addr,
        graph_url,
        authority_url,
        tenant_id,
        client_id: admin.client_id.clone(),
        client_secret: admin.secret(),
        clients,
        scim_url,
        scim_token,
        twin: twin.clone(),
        warnings: vec![],
        graph,
        script: outer.script.clone(),
        faults_paused: outer.faults_paused.clone(),
        shutdown: Some(tx),
        task: Some(task),
    };
    if seed.target.keep_ids && opts.scim_target.is_none() {
        let base = twin.embedded_scim_url.get().cloned().unwrap_or_default();
        for (kind, items) in [
            (scim_store::Kind::User, &seed.target.users),
            (scim_store::Kind::Group, &seed.target.groups),
        ] {
            for r in items {
                if let Err(e) = twin.scim_store.restore(kind, r, &base) {
                    running.warnings.push(format!(
                        "a captured {} could not be restored: {}",
                        kind.name(),
                        e.detail
                    ));
                }
            }
        }
    }
    if opts.provision_at_start {
        for j in &seed.run_jobs {
            let r = if j.link_only {
                engine::link::link_only(&twin, &j.service_principal_id, &j.job_id).await
            } else {
                engine::run_cycle(&twin, &j.service_principal_id, &j.job_id).await
            };
            if let Err(e) = r {
                running.warnings.push(format!(
                    "the initial cycle of job {} failed: {}",
                    j.job_id, e.message
                ));
            }
        }
        if !(seed.target.keep_ids && opts.scim_target.is_none()) {
            let w = create_hand_made(
                &twin.http,
                &running.scim_url,
                &running.scim_token,
                &seed.target,
            )
            .await;
            running.warnings.extend(w);
        }
    }
    outer.ready.store(true, Ordering::SeqCst);
    Ok(running)
}

/// POST the seed's hand-made users and groups to the target; 409 (already there) is fine.
async fn create_hand_made(
    http: &reqwest::Client,
    base: &str,
    token: &Secret,
    target: &super::seed::SeedTarget,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for (kind, items) in [("Users", &target.users), ("Groups", &target.groups)] {
        for item in items {
            let res = http
                .post(format!("{base}/{kind}"))
                .bearer_auth(token.expose())
                .header("content-type", "application/scim+json")
                .body(item.to_string())
                .send()
                .await;
            match res {
                Ok(r) if r.status().is_success() || r.status() == reqwest::StatusCode::CONFLICT => {
                }
                Ok(r) => warnings.push(format!(
                    "the target answered {} to creating a hand-made {kind} entry",
                    r.status().as_u16()
                )),
                Err(e) => warnings.push(crate::net::describe_transport_error(base, &e)),
            }
        }
    }
    warnings
}

/// `POST /scim/tokens` with a valid bearer token: a new embedded-store token,
/// as an app admin's "Generate new token" (one token at a time: the old stops working).
fn issue_scim_token(store: &scim_store::ScimStore, headers: &axum::http::HeaderMap) -> Response {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.to_string())
        .unwrap_or_default();
    if !store.accepts(&given) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({"error": "a current SCIM bearer token is needed to issue a new one"}),
            ),
        )
            .into_response();
    }
    let t = store.issue_token();
    (
        StatusCode::CREATED,
        axum::Json(json!({"token": t.expose(), "previousRevoked": store.one_token_at_a_time()})),
    )
        .into_response()
}

fn parse_form(body: &Bytes) -> HashMap<String, String> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn token(State(auth): State<Arc<Auth>>, Path(tenant): Path<String>, body: Bytes) -> Response {
    auth.token_endpoint(&tenant, &parse_form(&body))
}

async fn devicecode(
    State(auth): State<Arc<Auth>>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    auth.devicecode_endpoint(&tenant, &parse_form(&body))
}

/// A response whose body fails at once: hyper drops the connection.
fn reset_response() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault injected: connection reset",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .body(Body::from_stream(stream))
        .expect("static response")
}

async fn outer_layer(State(o): State<Arc<Outer>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let is_scim = path.starts_with("/scim/v2");
    let faultable = is_scim || path.starts_with("/v1.0");
    let mut status_override = None;
    let live = faultable && o.ready.load(Ordering::SeqCst);
    let path_query = match &query {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let strike = if live && !o.script.is_empty() {
        o.script.strike(&method, &path_query)
    } else {
        None
    };
    let random_live = live && !o.faults_paused.load(Ordering::SeqCst);
    let resp = match (&o.faults, random_live) {
        _ if strike.is_some() => {
            match strike.expect("checked") {
                Strike::Status(code) => {
                    let (name, text) = match code {
                        429 => ("TooManyRequests", "Too many requests (injected fault)."),
                        503 => (
                            "ServiceUnavailable",
                            "The service is temporarily unavailable (injected fault).",
                        ),
                        404 => ("Request_ResourceNotFound", "Not found (injected fault)."),
                        _ => ("InjectedFault", "An injected fault."),
                    };
                    let mut r = fault_response(is_scim, code, name, text, req.headers());
                    if code == 429 {
                        r.headers_mut()
                            .insert("retry-after", HeaderValue::from_static("1"));
                    }
                    r
                }
                Strike::Reset => {
                    status_override = Some(0);
                    reset_response()
                }
                Strike::Timeout(hold) => {
                    // The work is done; the answer is held back.
                    let resp = next.run(req).await;
                    let mut closing = o.closing.subscribe();
                    tokio::select! {
                        _ = tokio::time::sleep(hold) => {}
                        _ = closing.wait_for(|c| *c) => {}
                    }
                    resp
                }
            }
        }
        (Some(f), true) => {
            if !f.latency.is_zero() {
                tokio::time::sleep(f.latency).await;
            }
            match f.draw() {
                Fault::None => next.run(req).await,
                Fault::Throttle => {
                    let mut r = fault_response(
                        is_scim,
                        429,
                        "TooManyRequests",
                        "Too many requests (injected fault).",
                        req.headers(),
                    );
                    r.headers_mut()
                        .insert("retry-after", HeaderValue::from_static("1"));
                    r
                }
                Fault::Unavailable => fault_response(
                    is_scim,
                    503,
                    "ServiceUnavailable",
                    "The service is temporarily unavailable (injected fault).",
                    req.headers(),
                ),
                Fault::Reset => {
                    status_override = Some(0);
                    reset_response()
                }
            }
        }
        _ => next.run(req).await,
    };
    if let Some(log) = o.log.as_ref().filter(|_| o.ready.load(Ordering::SeqCst)) {
        let status = status_override.unwrap_or(resp.status().as_u16());
        log.record(
            &method,
            &path,
            query.as_deref(),
            status,
            started.elapsed().as_millis(),
            None,
        );
    }
    resp
}

fn fault_response(
    scim: bool,
    status: u16,
    code: &str,
    message: &str,
    headers: &axum::http::HeaderMap,
) -> Response {
    if scim {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": status.to_string(), "detail": message});
        let mut r = (
            StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
            axum::Json(body),
        )
            .into_response();
        r.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("application/scim+json"),
        );
        r
    } else {
        graph_api::error_response(&GErr::new(status, code, message), headers)
    }
}
