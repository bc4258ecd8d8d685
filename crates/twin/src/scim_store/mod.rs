//! The twin's embedded SCIM 2.0 target: Users and Groups in memory, filters,
//! paging, PATCH (RFC and Entra dialects), PUT, DELETE, Bulk, discovery and
//! bearer auth, as an axum router the twin nests at `/scim/v2`.
//!
//! Behaviour worth knowing (documented for clients and tests):
//! * PATCH answers **204 No Content** (as scim2-server does), for Users and Groups.
//! * `userName` (Users) and `displayName` (Groups) are unique, compared
//!   case-insensitively: a duplicate gets 409 `uniqueness`.
//! * `"True"`/`"False"` strings on `active`/`primary` are stored as booleans.
//! * Deleting a user also drops it from every group's `members`.
//! * Discovery endpoints (`/ServiceProviderConfig`, `/ResourceTypes`,
//!   `/Schemas`) need no token; everything else needs `Authorization: Bearer`
//!   with a token the store accepts: the router's, plus any
//!   [`ScimStore::issue_token`] hands out. With one token at a time (Coda:
//!   "generating a new one invalidates the old") issuing revokes the others.
//! * Lists keep creation order; `userName eq` / `displayName eq` use a hash
//!   index; `count` defaults to 100 and is capped at 1000.
//!
//! Storage is a `RwLock` over hash maps of `Arc<Value>` (cloning the store is
//! cheap); no lock is held across an `.await`.

pub mod filter;
pub mod patch;

use crate::secret::Secret;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const MAX_RESULTS: usize = 1000;
pub const BULK_MAX_OPERATIONS: usize = 1000;
pub const BULK_MAX_PAYLOAD: usize = 1 << 20;
const REQUEST_LOG_CAP: usize = 200_000;

/// Users or Groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }
    /// The attribute that must be unique (case-insensitive).
    fn unique_attr(self) -> &'static str {
        match self {
            Kind::User => "userName",
            Kind::Group => "displayName",
        }
    }
    fn from_endpoint(s: &str) -> Option<Kind> {
        match s.to_ascii_lowercase().as_str() {
            "users" => Some(Kind::User),
            "groups" => Some(Kind::Group),
            _ => None,
        }
    }
}

/// A SCIM error answer.
#[derive(Debug, Clone)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }
    fn not_found(kind: Kind, id: &str) -> Self {
        Self::new(404, None, format!("{} '{id}' not found", kind.name()))
    }
    pub fn body(&self) -> Value {
        let mut b = json!({"schemas": [ERROR_URN], "status": self.status.to_string(), "detail": self.detail});
        if let Some(t) = self.scim_type {
            b["scimType"] = json!(t);
        }
        b
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut resp = scim_json(
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST),
            &self.body(),
        );
        if self.status == 401 {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"SCIM\""),
            );
        }
        resp
    }
}

fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json"),
    );
    resp
}

#[derive(Debug, Default)]
struct Table {
    /// id → (creation sequence, resource)
    by_id: HashMap<String, (u64, Arc<Value>)>,
    /// creation order
    order: BTreeMap<u64, String>,
    /// lower-cased unique attribute → id
    unique: HashMap<String, String>,
}

#[derive(Debug, Default)]
struct Inner {
    users: Table,
    groups: Table,
    seq: u64,
}

impl Inner {
    fn table(&self, k: Kind) -> &Table {
        match k {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        }
    }
    fn table_mut(&mut self, k: Kind) -> &mut Table {
        match k {
            Kind::User => &mut self.users,
            Kind::Group => &mut self.groups,
        }
    }
}

/// The in-memory store.
#[derive(Debug, Default)]
pub struct ScimStore {
    inner: RwLock<Inner>,
    requests: Mutex<Vec<String>>,
    /// Bearer tokens the store accepts (the router's token, then issued ones).
    tokens: Mutex<Vec<Secret>>,
    /// Issuing a token revokes every earlier one (Coda: one token at a time).
    one_token: std::sync::atomic::AtomicBool,
}

/// Parameters of a list/search.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    pub start_index: Option<usize>,
    pub count: Option<usize>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn unique_key(kind: Kind, r: &Value) -> Option<String> {
    filter::get_ci(r, kind.unique_attr())
        .and_then(Value::as_str)
        .map(str::to_lowercase)
}

impl ScimStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Every request the router served, as `METHOD /path?query` (tests, demo).
    pub fn request_log(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    pub fn clear_request_log(&self) {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, Vec<Secret>> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Accept `token` as well (what [`router`] does with its token).
    pub fn add_token(&self, token: &Secret) {
        let mut t = self.tokens();
        if !token.is_empty() && !t.iter().any(|x| x.expose() == token.expose()) {
            t.push(token.clone());
        }
    }
    /// Keep one token at a time: [`ScimStore::issue_token`] then revokes the earlier ones.
    pub fn set_one_token_at_a_time(&self, on: bool) {
        self.one_token
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn one_token_at_a_time(&self) -> bool {
        self.one_token.load(std::sync::atomic::Ordering::SeqCst)
    }
    /// Issue a new bearer token, as an app admin's "Generate new token" does.
    /// With one token at a time, every earlier token stops working at once.
    pub fn issue_token(&self) -> Secret {
        use base64::Engine as _;
        let raw: [u8; 32] = rand::random();
        let token = Secret::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw));
        let mut t = self.tokens();
        if self.one_token_at_a_time() {
            t.clear();
        }
        t.push(token.clone());
        token
    }
    /// Whether `given` is a token the store accepts now.
    pub fn accepts(&self, given: &str) -> bool {
        let given = given.trim().as_bytes();
        self.tokens()
            .iter()
            .any(|t| !t.is_empty() && constant_time_eq(given, t.expose().as_bytes()))
    }
    fn log_request(&self, line: String) {
        let mut l = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        if l.len() >= REQUEST_LOG_CAP {
            l.drain(..REQUEST_LOG_CAP / 2);
        }
        l.push(line);
    }

    /// All users / groups in creation order (a cheap clone of shared values).
    pub fn all(&self, kind: Kind) -> Vec<Arc<Value>> {
        let g = self.read();
        let t = g.table(kind);
        t.order
            .values()
            .filter_map(|id| t.by_id.get(id).map(|(_, r)| r.clone()))
            .collect()
    }
    pub fn users(&self) -> Vec<Value> {
        self.all(Kind::User).iter().map(|v| (**v).clone()).collect()
    }
    pub fn groups(&self) -> Vec<Value> {
        self.all(Kind::Group)
            .iter()
            .map(|v| (**v).clone())
            .collect()
    }
    pub fn count(&self, kind: Kind) -> usize {
        self.read().table(kind).by_id.len()
    }
    pub fn user_by_username(&self, user_name: &str) -> Option<Value> {
        let g = self.read();
        let id = g.users.unique.get(&user_name.to_lowercase())?;
        g.users.by_id.get(id).map(|(_, r)| (**r).clone())
    }

    /// GET by id.
    pub fn get(&self, kind: Kind, id: &str) -> Result<Value, ScimError> {
        let g = self.read();
        g.table(kind)
            .by_id
            .get(id)
            .map(|(_, r)| (**r).clone())
            .ok_or_else(|| ScimError::not_found(kind, id))
    }

    /// POST. `base` is the absolute base URL used for `meta.location`.
    pub fn create(&self, kind: Kind, body: Value, base: &str) -> Result<Value, ScimError> {
        let mut r = match body {
            Value::Object(m) => Value::Object(m),
            _ => {
                return Err(ScimError::new(
                    400,
                    Some("invalidSyntax"),
                    "the body must be a JSON object",
                ));
            }
        };
        patch::coerce_booleans(&mut r);
        let key = unique_key(kind, &r)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                ScimError::new(
                    400,
                    Some("invalidValue"),
                    format!("{} is required", kind.unique_attr()),
                )
            })?;
        let mut g = self.write();
        if g.table(kind).unique.contains_key(&key) {
            return Err(ScimError::new(
                409,
                Some("uniqueness"),
                format!(
                    "a {} with {} '{}' already exists",
                    kind.name(),
                    kind.unique_attr(),
                    key
                ),
            ));
        }
        g.seq += 1;
        let seq = g.seq;
        let id = uuid::Uuid::new_v4().simple().to_string();
        let ts = now();
        let obj = r.as_object_mut().expect("checked above");
        obj.remove("id");
        obj.insert("id".into(), json!(id));
        if !obj.contains_key("schemas") {
            obj.insert(
                "schemas".into(),
                json!([if kind == Kind::User {
                    USER_URN
                } else {
                    GROUP_URN
                }]),
            );
        }
        if kind == Kind::Group && !obj.contains_key("members") {
            obj.insert("members".into(), json!([]));
        }
        obj.insert(
            "meta".into(),
            json!({"resourceType": kind.name(), "created": ts, "lastModified": ts,
                   "location": format!("{base}/{}/{id}", kind.endpoint()), "version": format!("W/\"{seq}\"")}),
        );
        let t = g.table_mut(kind);
        t.unique.insert(key, id.clone());
        t.order.insert(seq, id.clone());
        t.by_id.insert(id, (seq, Arc::new(r.clone())));
        Ok(returned(r))
    }

    /// Put back a resource captured from another server, keeping its `id`
    /// (and `meta`, if it has one): how a twin rebuilt from a snapshot holds
    /// the target's users and groups under the ids the plan names.
    pub fn restore(&self, kind: Kind, resource: &Value, base: &str) -> Result<(), ScimError> {
        let mut r = resource.clone();
        let id = r
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| ScimError::new(400, Some("invalidValue"), "id is required"))?;
        let key = unique_key(kind, &r)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                ScimError::new(
                    400,
                    Some("invalidValue"),
                    format!("{} is required", kind.unique_attr()),
                )
            })?;
        let mut g = self.write();
        if g.table(kind).unique.contains_key(&key) || g.table(kind).by_id.contains_key(&id) {
            return Err(ScimError::new(
                409,
                Some("uniqueness"),
                format!(
                    "a {} with id {id} or {} '{key}' already exists",
                    kind.name(),
                    kind.unique_attr()
                ),
            ));
        }
        g.seq += 1;
        let seq = g.seq;
        let obj = r
            .as_object_mut()
            .ok_or_else(|| ScimError::new(400, Some("invalidSyntax"), "not a JSON object"))?;
        if kind == Kind::Group && !obj.contains_key("members") {
            obj.insert("members".into(), json!([]));
        }
        if !obj.contains_key("meta") {
            let ts = now();
            obj.insert(
                "meta".into(),
                json!({"resourceType": kind.name(), "created": ts, "lastModified": ts,
                       "location": format!("{base}/{}/{id}", kind.endpoint()), "version": format!("W/\"{seq}\"")}),
            );
        }
        let t = g.table_mut(kind);
        t.unique.insert(key, id.clone());
        t.order.insert(seq, id.clone());
        t.by_id.insert(id, (seq, Arc::new(r)));
        Ok(())
    }

    /// Replace a stored resource after an edit: uniqueness, index, meta.
    fn store_edit(
        &self,
        g: &mut Inner,
        kind: Kind,
        id: &str,
        mut r: Value,
    ) -> Result<Value, ScimError> {
        let (seq, old) = g
            .table(kind)
            .by_id
            .get(id)
            .cloned()
            .ok_or_else(|| ScimError::not_found(kind, id))?;
        let new_key = unique_key(kind, &r)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                ScimError::new(
                    400,
                    Some("invalidValue"),
                    format!("{} is required", kind.unique_attr()),
                )
            })?;
        let old_key = unique_key(kind, &old).unwrap_or_default();
        if new_key != old_key && g.table(kind).unique.contains_key(&new_key) {
            return Err(ScimError::new(
                409,
                Some("uniqueness"),
                format!(
                    "a {} with {} '{}' already exists",
                    kind.name(),
                    kind.unique_attr(),
                    new_key
                ),
            ));
        }
        g.seq += 1;
        let version = g.seq;
        if let Some(obj) = r.as_object_mut() {
            obj.insert("id".into(), json!(id));
            let mut meta = old.get("meta").cloned().unwrap_or_else(|| json!({}));
            meta["lastModified"] = json!(now());
            meta["version"] = json!(format!("W/\"{version}\""));
            obj.insert("meta".into(), meta);
        }
        let t = g.table_mut(kind);
        if new_key != old_key {
            t.unique.remove(&old_key);
            t.unique.insert(new_key, id.to_string());
        }
        t.by_id.insert(id.to_string(), (seq, Arc::new(r.clone())));
        Ok(returned(r))
    }

    /// PUT: full replacement (id and meta.created kept).
    pub fn replace(&self, kind: Kind, id: &str, body: Value) -> Result<Value, ScimError> {
        let mut r = match body {
            Value::Object(m) => Value::Object(m),
            _ => {
                return Err(ScimError::new(
                    400,
                    Some("invalidSyntax"),
                    "the body must be a JSON object",
                ));
            }
        };
        patch::coerce_booleans(&mut r);
        if kind == Kind::Group && r.get("members").is_none() {
            r["members"] = json!([]);
        }
        let mut g = self.write();
        self.store_edit(&mut g, kind, id, r)
    }

    /// PATCH with a PatchOp body.
    pub fn patch(&self, kind: Kind, id: &str, body: &Value) -> Result<Value, ScimError> {
        let mut g = self.write();
        let mut r = g
            .table(kind)
            .by_id
            .get(id)
            .map(|(_, r)| (**r).clone())
            .ok_or_else(|| ScimError::not_found(kind, id))?;
        patch::apply(&mut r, body).map_err(|(t, d)| ScimError::new(400, Some(t), d))?;
        self.store_edit(&mut g, kind, id, r)
    }

    /// DELETE (a deleted user also leaves every group).
    pub fn delete(&self, kind: Kind, id: &str) -> Result<(), ScimError> {
        let mut g = self.write();
        let t = g.table_mut(kind);
        let (seq, old) = t
            .by_id
            .remove(id)
            .ok_or_else(|| ScimError::not_found(kind, id))?;
        t.order.remove(&seq);
        if let Some(k) = unique_key(kind, &old) {
            t.unique.remove(&k);
        }
        if kind == Kind::User {
            for (_, r) in g.groups.by_id.values_mut() {
                let has = r.get("members").and_then(Value::as_array).is_some_and(|m| {
                    m.iter()
                        .any(|x| x.get("value").and_then(Value::as_str) == Some(id))
                });
                if has {
                    let mut nr = (**r).clone();
                    if let Some(m) = nr.get_mut("members").and_then(Value::as_array_mut) {
                        m.retain(|x| x.get("value").and_then(Value::as_str) != Some(id));
                    }
                    *r = Arc::new(nr);
                }
            }
        }
        Ok(())
    }

    /// List with filter, paging and attribute selection: a ListResponse.
    pub fn list(&self, kind: Kind, p: &ListParams) -> Result<Value, ScimError> {
        let f = match p.filter.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => Some(
                filter::parse(text).map_err(|e| ScimError::new(400, Some("invalidFilter"), e))?,
            ),
            None => None,
        };
        let start = p.start_index.unwrap_or(1).max(1);
        // No `count`: the server's own maximum (RFC 7644 §3.4.2.4 leaves the
        // default to the service provider; scim2-server also answers in full).
        let count = p.count.unwrap_or(MAX_RESULTS).min(MAX_RESULTS);
        let g = self.read();
        let t = g.table(kind);
        let mut page: Vec<Arc<Value>> = Vec::new();
        let total;
        if let Some(key) = f.as_ref().and_then(|f| f.eq_on(kind.unique_attr())) {
            let hit = t
                .unique
                .get(&key.to_lowercase())
                .and_then(|id| t.by_id.get(id))
                .map(|(_, r)| r.clone());
            total = usize::from(hit.is_some());
            if start == 1 && count > 0 {
                page.extend(hit);
            }
        } else if let Some(id) = f.as_ref().and_then(|f| f.eq_on("id")) {
            let hit = t.by_id.get(id).map(|(_, r)| r.clone());
            total = usize::from(hit.is_some());
            if start == 1 && count > 0 {
                page.extend(hit);
            }
        } else if f.is_none() {
            // No filter: O(start + count), no scan of the whole table.
            total = t.by_id.len();
            page.extend(
                t.order
                    .values()
                    .skip(start - 1)
                    .take(count)
                    .filter_map(|id| t.by_id.get(id).map(|(_, r)| r.clone())),
            );
        } else {
            let mut n = 0;
            for id in t.order.values() {
                let Some((_, r)) = t.by_id.get(id) else {
                    continue;
                };
                if f.as_ref().is_none_or(|f| f.matches(r)) {
                    n += 1;
                    if n >= start && page.len() < count {
                        page.push(r.clone());
                    }
                }
            }
            total = n;
        }
        drop(g);
        let resources: Vec<Value> = page
            .iter()
            .map(|r| project(r, p.attributes.as_deref(), p.excluded_attributes.as_deref()))
            .collect();
        Ok(
            json!({"schemas": [LIST_URN], "totalResults": total, "startIndex": start,
                  "itemsPerPage": resources.len(), "Resources": resources}),
        )
    }

    /// RFC 7644 §3.7 Bulk. `base` is the absolute base URL for locations.
    pub fn bulk(&self, body: &Value, base: &str) -> Result<Value, ScimError> {
        let ops = filter::get_ci(body, "Operations")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ScimError::new(
                    400,
                    Some("invalidSyntax"),
                    "the Bulk body has no Operations array",
                )
            })?;
        if ops.len() > BULK_MAX_OPERATIONS {
            return Err(ScimError::new(
                413,
                None,
                format!("more than {BULK_MAX_OPERATIONS} operations"),
            ));
        }
        let fail_on = filter::get_ci(body, "failOnErrors")
            .and_then(Value::as_u64)
            .unwrap_or(0) as usize;
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut out = Vec::new();
        let mut errors = 0;
        for op in ops {
            if fail_on > 0 && errors >= fail_on {
                break;
            }
            let method = filter::get_ci(op, "method")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_ascii_uppercase();
            let bulk_id = filter::get_ci(op, "bulkId")
                .and_then(Value::as_str)
                .map(str::to_string);
            let path = filter::get_ci(op, "path")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let mut data = filter::get_ci(op, "data").cloned().unwrap_or(Value::Null);
            resolve_bulk_ids(&mut data, &ids);
            let mut entry = json!({"method": method});
            if let Some(b) = &bulk_id {
                entry["bulkId"] = json!(b);
            }
            let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            let result: Result<(u16, Option<Value>), ScimError> = (|| {
                let kind = Kind::from_endpoint(segs.first().copied().unwrap_or_default())
                    .ok_or_else(|| {
                        ScimError::new(
                            400,
                            Some("invalidPath"),
                            format!("unknown bulk path `{path}`"),
                        )
                    })?;
                let id = segs.get(1).map(|s| match s.strip_prefix("bulkId:") {
                    Some(b) => ids.get(b).cloned().unwrap_or_else(|| s.to_string()),
                    None => s.to_string(),
                });
                match (method.as_str(), id) {
                    ("POST", None) => Ok((201, Some(self.create(kind, data.clone(), base)?))),
                    ("PUT", Some(id)) => Ok((200, Some(self.replace(kind, &id, data.clone())?))),
                    ("PATCH", Some(id)) => Ok((200, Some(self.patch(kind, &id, &data)?))),
                    ("DELETE", Some(id)) => self.delete(kind, &id).map(|_| (204, None)),
                    _ => Err(ScimError::new(
                        400,
                        Some("invalidSyntax"),
                        format!("`{method} {path}` is not a bulk operation"),
                    )),
                }
            })();
            match result {
                Ok((status, res)) => {
                    entry["status"] = json!(status.to_string());
                    if let Some(r) = res {
                        if let (Some(b), Some(id)) = (&bulk_id, r.get("id").and_then(Value::as_str))
                        {
                            ids.insert(b.clone(), id.to_string());
                        }
                        if let Some(loc) = r.pointer("/meta/location") {
                            entry["location"] = loc.clone();
                        }
                        if let Some(v) = r.pointer("/meta/version") {
                            entry["version"] = v.clone();
                        }
                    }
                }
                Err(e) => {
                    errors += 1;
                    entry["status"] = json!(e.status.to_string());
                    entry["response"] = e.body();
                }
            }
            out.push(entry);
        }
        Ok(
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"], "Operations": out}),
        )
    }
}

fn resolve_bulk_ids(v: &mut Value, ids: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:").and_then(|b| ids.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| resolve_bulk_ids(x, ids)),
        Value::Object(m) => m.values_mut().for_each(|x| resolve_bulk_ids(x, ids)),
        _ => {}
    }
}

/// A resource as the store answers it: without the attributes whose schema
/// says `returned: never` (RFC 7643 §7; the User's `password`), which the
/// store keeps but never sends back.
fn returned(mut r: Value) -> Value {
    if let Some(o) = r.as_object_mut() {
        o.retain(|k, _| !k.eq_ignore_ascii_case("password"));
    }
    r
}

/// Apply `attributes` / `excludedAttributes` (top-level, `a.b`, or URN paths).
pub fn project(r: &Value, attributes: Option<&str>, excluded: Option<&str>) -> Value {
    returned(project_all(r, attributes, excluded))
}

fn project_all(r: &Value, attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let list = |s: Option<&str>| -> Vec<String> {
        s.map(|s| {
            s.split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect()
        })
        .unwrap_or_default()
    };
    let (attrs, excl) = (list(attributes), list(excluded));
    let Some(obj) = r.as_object() else {
        return r.clone();
    };
    if !attrs.is_empty() {
        let mut out = Map::new();
        for k in ["schemas", "id"] {
            if let Some(v) = obj.get(k) {
                out.insert(k.into(), v.clone());
            }
        }
        for a in &attrs {
            copy_path(r, &mut out, a);
        }
        return Value::Object(out);
    }
    let mut out = r.clone();
    for e in &excl {
        if e.eq_ignore_ascii_case("id") || e.eq_ignore_ascii_case("schemas") {
            continue;
        }
        remove_path(&mut out, e);
    }
    out
}

fn copy_path(src: &Value, out: &mut Map<String, Value>, path: &str) {
    let path = filter::strip_core_urn(path);
    if let Some((urn, rest)) = filter::split_urn(src, path) {
        if let Some((k, ext)) = src
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(urn)))
        {
            if rest.is_empty() {
                out.insert(k.clone(), ext.clone());
                return;
            }
            let e = out.entry(k.clone()).or_insert_with(|| json!({}));
            if let Some(e) = e.as_object_mut() {
                copy_path(ext, e, rest);
            }
        }
        return;
    }
    let (head, tail) = match path.split_once('.') {
        Some((h, t)) if !path.to_ascii_lowercase().starts_with("urn:") => (h, Some(t)),
        _ => (path, None),
    };
    let Some((k, v)) = src
        .as_object()
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(head)))
    else {
        return;
    };
    match (tail, v) {
        (None, v) => {
            out.insert(k.clone(), v.clone());
        }
        (Some(t), Value::Object(_)) => {
            let e = out.entry(k.clone()).or_insert_with(|| json!({}));
            if let Some(e) = e.as_object_mut() {
                copy_path(v, e, t);
            }
        }
        (Some(t), Value::Array(items)) => {
            let projected: Vec<Value> = items
                .iter()
                .map(|i| {
                    let mut m = Map::new();
                    copy_path(i, &mut m, t);
                    Value::Object(m)
                })
                .collect();
            out.insert(k.clone(), Value::Array(projected));
        }
        _ => {}
    }
}

fn remove_path(r: &mut Value, path: &str) {
    let path = filter::strip_core_urn(path);
    if let Some((urn, rest)) = filter::split_urn(r, path) {
        let (urn, rest) = (urn.to_string(), rest.to_string());
        if rest.is_empty() {
            if let Some(o) = r.as_object_mut() {
                o.retain(|k, _| !k.eq_ignore_ascii_case(&urn));
            }
            return;
        }
        if let Some(ext) = r.as_object_mut().and_then(|o| {
            o.iter_mut()
                .find(|(k, _)| k.eq_ignore_ascii_case(&urn))
                .map(|(_, v)| v)
        }) {
            remove_path(ext, &rest);
        }
        return;
    }
    let Some(obj) = r.as_object_mut() else { return };
    match path.split_once('.') {
        Some((h, t)) => {
            if let Some(v) = obj
                .iter_mut()
                .find(|(k, _)| k.eq_ignore_ascii_case(h))
                .map(|(_, v)| v)
            {
                match v {
                    Value::Array(items) => items.iter_mut().for_each(|i| remove_path(i, t)),
                    other => remove_path(other, t),
                }
            }
        }
        None => {
            if let Some(k) = obj.keys().find(|k| k.eq_ignore_ascii_case(path)).cloned() {
                obj.remove(&k);
            }
        }
    }
}

// ---------------------------------------------------------------- HTTP layer

#[derive(Clone)]
struct AppState {
    store: Arc<ScimStore>,
}

/// The router serving `/Users`, `/Groups`, `/Bulk`, `/ServiceProviderConfig`,
/// `/ResourceTypes`, `/Schemas` relative to where it is nested (the twin nests
/// it at `/scim/v2`).
pub fn router(store: Arc<ScimStore>, token: Secret) -> Router {
    store.add_token(&token);
    let state = AppState { store };
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{name}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema_by_id))
        .route("/Bulk", post(bulk))
        .route("/.search", post(search_all))
        .route("/{kind}/.search", post(search_kind))
        .route("/{kind}", get(list).post(create))
        .route(
            "/{kind}/{id}",
            get(get_one)
                .put(put_one)
                .patch(patch_one)
                .delete(delete_one),
        )
        .with_state(state)
}

type Q = Query<HashMap<String, String>>;

fn authorize(st: &AppState, headers: &HeaderMap) -> Result<(), ScimError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let ok = given
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .is_some_and(|(_, t)| st.store.accepts(t));
    if ok {
        Ok(())
    } else {
        Err(ScimError::new(
            401,
            None,
            "Authorization failure. The authorization header is invalid or missing",
        ))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The absolute base URL the router is served at (for Location/meta.location).
fn base_url(headers: &HeaderMap, uri: &axum::http::Uri, suffix_segments: usize) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let path = uri.path();
    let mut parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    for _ in 0..suffix_segments {
        parts.pop();
    }
    format!("http://{host}{}", parts.join("/"))
}

fn kind_of(seg: &str) -> Result<Kind, ScimError> {
    Kind::from_endpoint(seg)
        .ok_or_else(|| ScimError::new(404, None, format!("no endpoint `/{seg}`")))
}

fn parse_body(body: &Bytes) -> Result<Value, ScimError> {
    serde_json::from_slice(body).map_err(|e| {
        ScimError::new(
            400,
            Some("invalidSyntax"),
            format!("the body is not valid JSON: {e}"),
        )
    })
}

fn log(st: &AppState, method: &Method, uri: &OriginalUri) {
    st.store.log_request(format!(
        "{method} {}",
        uri.0.path_and_query().map(|p| p.as_str()).unwrap_or("/")
    ));
}

fn list_params(q: &HashMap<String, String>) -> ListParams {
    let get = |k: &str| {
        q.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    ListParams {
        filter: get("filter"),
        start_index: get("startIndex")
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map(|n| n.max(1) as usize),
        count: get("count")
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map(|n| n.max(0) as usize),
        attributes: get("attributes"),
        excluded_attributes: get("excludedAttributes"),
    }
}

/// The shape every read answer shares: log the request, check the token, run
/// `op` on the store, answer 200 with its JSON or the SCIM error.
fn answer_ok(
    st: &AppState,
    h: &HeaderMap,
    method: Method,
    uri: &OriginalUri,
    op: impl FnOnce(&ScimStore) -> Result<Value, ScimError>,
) -> Response {
    log(st, &method, uri);
    match authorize(st, h).and_then(|()| op(&st.store)) {
        Ok(v) => scim_json(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

async fn list(
    State(st): State<AppState>,
    Path(kind): Path<String>,
    Query(q): Q,
    h: HeaderMap,
    uri: OriginalUri,
) -> Response {
    answer_ok(&st, &h, Method::GET, &uri, |store| {
        store.list(kind_of(&kind)?, &list_params(&q))
    })
}

/// The parameters of a `POST …/.search` body (RFC 7644 §3.4.3 SearchRequest).
fn search_params(body: &Bytes) -> Result<ListParams, ScimError> {
    let v = parse_body(body)?;
    let list = |k: &str| -> Option<String> {
        match filter::get_ci(&v, k)? {
            Value::Array(a) => Some(
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    };
    let number = |k: &str| {
        filter::get_ci(&v, k)
            .and_then(Value::as_i64)
            .map(|n| n.max(0) as usize)
    };
    Ok(ListParams {
        filter: filter::get_ci(&v, "filter")
            .and_then(Value::as_str)
            .map(str::to_string),
        start_index: number("startIndex").map(|n| n.max(1)),
        count: number("count"),
        attributes: list("attributes"),
        excluded_attributes: list("excludedAttributes"),
    })
}

/// `POST /{kind}/.search`: a list query carried in the body.
async fn search_kind(
    State(st): State<AppState>,
    Path(kind): Path<String>,
    h: HeaderMap,
    uri: OriginalUri,
    body: Bytes,
) -> Response {
    answer_ok(&st, &h, Method::POST, &uri, |store| {
        store.list(kind_of(&kind)?, &search_params(&body)?)
    })
}

/// `POST /.search`: the query over every resource type, Users then Groups,
/// paged as one list (RFC 7644 §3.4.3).
async fn search_all(
    State(st): State<AppState>,
    h: HeaderMap,
    uri: OriginalUri,
    body: Bytes,
) -> Response {
    answer_ok(&st, &h, Method::POST, &uri, |store| {
        let p = search_params(&body)?;
        let start = p.start_index.unwrap_or(1);
        let mut left = p.count.unwrap_or(MAX_RESULTS).min(MAX_RESULTS);
        let (mut total, mut resources) = (0, Vec::new());
        for kind in [Kind::User, Kind::Group] {
            // How many of this kind match, then the part of the page they fill.
            let n = store.list(
                kind,
                &ListParams {
                    count: Some(0),
                    ..p.clone()
                },
            )?["totalResults"]
                .as_u64()
                .unwrap_or(0) as usize;
            let from = start.saturating_sub(total).max(1);
            if left > 0 && from <= n {
                let page = ListParams {
                    start_index: Some(from),
                    count: Some(left),
                    ..p.clone()
                };
                let got = store.list(kind, &page)?;
                let items = got["Resources"].as_array().cloned().unwrap_or_default();
                left -= items.len().min(left);
                resources.extend(items);
            }
            total += n;
        }
        Ok::<_, ScimError>(
            json!({"schemas": [LIST_URN], "totalResults": total, "startIndex": start,
                  "itemsPerPage": resources.len(), "Resources": resources}),
        )
    })
}

async fn create(
    State(st): State<AppState>,
    Path(kind): Path<String>,
    h: HeaderMap,
    uri: OriginalUri,
    body: Bytes,
) -> Response {
    log(&st, &Method::POST, &uri);
    let r = (|| {
        authorize(&st, &h)?;
        let kind = kind_of(&kind)?;
        st.store
            .create(kind, parse_body(&body)?, &base_url(&h, &uri.0, 1))
    })();
    match r {
        Ok(v) => {
            let mut resp = scim_json(StatusCode::CREATED, &v);
            if let Some(loc) = v
                .pointer("/meta/location")
                .and_then(Value::as_str)
                .and_then(|l| HeaderValue::from_str(l).ok())
            {
                resp.headers_mut().insert(header::LOCATION, loc);
            }
            resp
        }
        Err(e) => e.into_response(),
    }
}

async fn get_one(
    State(st): State<AppState>,
    Path((kind, id)): Path<(String, String)>,
    Query(q): Q,
    h: HeaderMap,
    uri: OriginalUri,
) -> Response {
    answer_ok(&st, &h, Method::GET, &uri, |store| {
        let p = list_params(&q);
        store.get(kind_of(&kind)?, &id).map(|v| {
            project(
                &v,
                p.attributes.as_deref(),
                p.excluded_attributes.as_deref(),
            )
        })
    })
}

async fn put_one(
    State(st): State<AppState>,
    Path((kind, id)): Path<(String, String)>,
    h: HeaderMap,
    uri: OriginalUri,
    body: Bytes,
) -> Response {
    log(&st, &Method::PUT, &uri);
    let r = (|| {
        authorize(&st, &h)?;
        st.store.replace(kind_of(&kind)?, &id, parse_body(&body)?)
    })();
    match r {
        Ok(v) => scim_json(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

async fn patch_one(
    State(st): State<AppState>,
    Path((kind, id)): Path<(String, String)>,
    h: HeaderMap,
    uri: OriginalUri,
    body: Bytes,
) -> Response {
    log(&st, &Method::PATCH, &uri);
    let r = (|| {
        authorize(&st, &h)?;
        st.store.patch(kind_of(&kind)?, &id, &parse_body(&body)?)
    })();
    match r {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn delete_one(
    State(st): State<AppState>,
    Path((kind, id)): Path<(String, String)>,
    h: HeaderMap,
    uri: OriginalUri,
) -> Response {
    log(&st, &Method::DELETE, &uri);
    let r = (|| {
        authorize(&st, &h)?;
        st.store.delete(kind_of(&kind)?, &id)
    })();
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn bulk(State(st): State<AppState>, h: HeaderMap, uri: OriginalUri, body: Bytes) -> Response {
    log(&st, &Method::POST, &uri);
    let r = (|| {
        authorize(&st, &h)?;
        if body.len() > BULK_MAX_PAYLOAD {
            return Err(ScimError::new(
                413,
                None,
                format!("the Bulk payload exceeds {BULK_MAX_PAYLOAD} bytes"),
            ));
        }
        st.store.bulk(&parse_body(&body)?, &base_url(&h, &uri.0, 1))
    })();
    match r {
        Ok(v) => scim_json(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}

async fn service_provider_config() -> Response {
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://github.com/scimshift (twin embedded SCIM store)",
            "patch": {"supported": true},
            "bulk": {"supported": true, "maxOperations": BULK_MAX_OPERATIONS, "maxPayloadSize": BULK_MAX_PAYLOAD},
            "filter": {"supported": true, "maxResults": MAX_RESULTS},
            "changePassword": {"supported": false},
            "sort": {"supported": false},
            "etag": {"supported": false},
            "authenticationSchemes": [{"type": "oauthbearertoken", "name": "OAuth Bearer Token",
                "description": "Authentication with a static bearer token", "primary": true}],
            "meta": {"resourceType": "ServiceProviderConfig", "location": "/ServiceProviderConfig"}
        }),
    )
}

fn resource_type_docs() -> Vec<Value> {
    vec![
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "User", "name": "User",
               "endpoint": "/Users", "schema": USER_URN,
               "schemaExtensions": [{"schema": ENTERPRISE_URN, "required": false}],
               "meta": {"resourceType": "ResourceType", "location": "/ResourceTypes/User"}}),
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"], "id": "Group", "name": "Group",
               "endpoint": "/Groups", "schema": GROUP_URN,
               "meta": {"resourceType": "ResourceType", "location": "/ResourceTypes/Group"}}),
    ]
}

async fn resource_types() -> Response {
    let r = resource_type_docs();
    scim_json(
        StatusCode::OK,
        &json!({"schemas": [LIST_URN], "totalResults": r.len(), "startIndex": 1, "itemsPerPage": r.len(), "Resources": r}),
    )
}

async fn resource_type(Path(name): Path<String>) -> Response {
    match resource_type_docs().into_iter().find(|r| {
        r["id"]
            .as_str()
            .is_some_and(|i| i.eq_ignore_ascii_case(&name))
    }) {
        Some(r) => scim_json(StatusCode::OK, &r),
        None => {
            ScimError::new(404, None, format!("ResourceType '{name}' not found")).into_response()
        }
    }
}

fn attr(
    name: &str,
    ty: &str,
    multi: bool,
    required: bool,
    case_exact: bool,
    uniqueness: &str,
) -> Value {
    json!({"name": name, "type": ty, "multiValued": multi, "required": required, "caseExact": case_exact,
           "mutability": "readWrite", "returned": "default", "uniqueness": uniqueness})
}

fn complex(name: &str, multi: bool, subs: &[&str]) -> Value {
    let mut a = attr(name, "complex", multi, false, false, "none");
    a["subAttributes"] = Value::Array(
        subs.iter()
            .map(|s| {
                attr(
                    s,
                    if *s == "primary" { "boolean" } else { "string" },
                    false,
                    false,
                    false,
                    "none",
                )
            })
            .collect(),
    );
    a
}

/// RFC 7643 §4.1 / §8.7.1: every core User attribute, so that a checker can
/// exercise each one (the store keeps whatever it is sent).
fn user_attributes() -> Vec<Value> {
    let plural = |name: &str| complex(name, true, &["value", "display", "type", "primary"]);
    let mut profile_url = attr("profileUrl", "reference", false, false, false, "none");
    profile_url["referenceTypes"] = json!(["external"]);
    let mut password = attr("password", "string", false, false, false, "none");
    password["mutability"] = json!("writeOnly");
    password["returned"] = json!("never");
    let mut photos = plural("photos");
    photos["subAttributes"][0]["type"] = json!("reference");
    photos["subAttributes"][0]["referenceTypes"] = json!(["external"]);
    let mut certificates = plural("x509Certificates");
    certificates["subAttributes"][0]["type"] = json!("binary");
    let mut groups = complex("groups", true, &["value", "$ref", "display", "type"]);
    groups["mutability"] = json!("readOnly");
    for sub in groups["subAttributes"].as_array_mut().into_iter().flatten() {
        sub["mutability"] = json!("readOnly");
    }
    vec![
        attr("userName", "string", false, true, false, "server"),
        complex(
            "name",
            false,
            &[
                "formatted",
                "familyName",
                "givenName",
                "middleName",
                "honorificPrefix",
                "honorificSuffix",
            ],
        ),
        attr("displayName", "string", false, false, false, "none"),
        attr("nickName", "string", false, false, false, "none"),
        profile_url,
        attr("title", "string", false, false, false, "none"),
        attr("userType", "string", false, false, false, "none"),
        attr("preferredLanguage", "string", false, false, false, "none"),
        attr("locale", "string", false, false, false, "none"),
        attr("timezone", "string", false, false, false, "none"),
        attr("active", "boolean", false, false, false, "none"),
        password,
        plural("emails"),
        plural("phoneNumbers"),
        plural("ims"),
        photos,
        complex(
            "addresses",
            true,
            &[
                "formatted",
                "streetAddress",
                "locality",
                "region",
                "postalCode",
                "country",
                "type",
                "primary",
            ],
        ),
        groups,
        plural("entitlements"),
        plural("roles"),
        certificates,
    ]
}

fn schema_docs() -> Vec<Value> {
    let s = |id: &str, name: &str, attrs: Vec<Value>| {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"], "id": id, "name": name, "attributes": attrs,
               "meta": {"resourceType": "Schema", "location": format!("/Schemas/{id}")}})
    };
    let mut members = complex("members", true, &["value", "display", "type", "$ref"]);
    members["subAttributes"][0]["mutability"] = json!("immutable");
    vec![
        s(USER_URN, "User", user_attributes()),
        s(
            GROUP_URN,
            "Group",
            vec![
                attr("displayName", "string", false, true, false, "server"),
                members,
            ],
        ),
        s(
            ENTERPRISE_URN,
            "EnterpriseUser",
            vec![
                attr("employeeNumber", "string", false, false, false, "none"),
                attr("costCenter", "string", false, false, false, "none"),
                attr("organization", "string", false, false, false, "none"),
                attr("division", "string", false, false, false, "none"),
                attr("department", "string", false, false, false, "none"),
                complex("manager", false, &["value", "$ref", "displayName"]),
            ],
        ),
    ]
}

async fn schemas() -> Response {
    let r = schema_docs();
    scim_json(
        StatusCode::OK,
        &json!({"schemas": [LIST_URN], "totalResults": r.len(), "startIndex": 1, "itemsPerPage": r.len(), "Resources": r}),
    )
}

async fn schema_by_id(Path(id): Path<String>) -> Response {
    match schema_docs().into_iter().find(|r| {
        r["id"]
            .as_str()
            .is_some_and(|i| i.eq_ignore_ascii_case(&id))
    }) {
        Some(r) => scim_json(StatusCode::OK, &r),
        None => ScimError::new(404, None, format!("Schema '{id}' not found")).into_response(),
    }
}

/// Serve `store` alone on `127.0.0.1:0`, nested at `/scim/v2` as the twin
/// does; returns the base URL (`http://127.0.0.1:P/scim/v2`) and the task.
pub async fn serve_loopback(
    store: Arc<ScimStore>,
    token: Secret,
) -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let app = Router::new().nest("/scim/v2", router(store, token));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://{addr}/scim/v2"), task))
}
