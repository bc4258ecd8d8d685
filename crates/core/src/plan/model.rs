//! The plan as executable data, `scimshift.plan/v2`: ordered steps with the
//! exact requests each sends (what each binds from its response), done-checks
//! an executor evaluates (JSON pointers or named probes, `probe`), undos,
//! findings and the per-user impact. The planner writes it, `show` re-renders
//! it, `apply` will consume it. No timestamps, no randomness: the same
//! snapshot, profile and options give the same bytes. Placeholders and their
//! sources are in `placeholder`; this file stops at the data and its loading.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub use super::user_impact::{UserImpact, UserImpactParts};

pub const FORMAT: &str = "scimshift.plan/v2";
/// Formats an older scimshift wrote: refused with a sentence saying to re-plan.
const OLD_FORMATS: &[&str] = &["scimshift.plan/v1"];
/// What a step does. Its serialised form *is* the symbol shown to the admin
/// (Terraform style): one type drives both the logic and the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "+")]
    Create,
    #[serde(rename = "~")]
    Change,
    #[serde(rename = "-")]
    Remove,
    #[serde(rename = "⏸")]
    Pause,
    #[serde(rename = "▶")]
    Start,
    #[serde(rename = "?")]
    Check,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Change => "~",
            Action::Remove => "-",
            Action::Pause => "⏸",
            Action::Start => "▶",
            Action::Check => "?",
        }
    }

    /// Whether the step changes anything (checks and waits do not).
    pub fn is_change(self) -> bool {
        self != Action::Check
    }
}

/// An HTTP method; serialised as today's strings (`GET`, `POST`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// Where a request goes: Graph (URL relative to the Graph root) or the SCIM
/// base URL of the target app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    #[default]
    Graph,
    Scim,
}

impl Target {
    fn is_graph(&self) -> bool {
        *self == Target::Graph
    }
}

/// A JSON pointer (RFC 6901): `""` (the whole document) or `/a/0/b`. Loading
/// refuses anything else, including the selectors of older plans (`/value/*/x`,
/// `/value[key=…]`): what a pointer cannot say is a named probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pointer(String);

impl TryFrom<String> for Pointer {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if !(s.is_empty() || s.starts_with('/')) {
            return Err(format!(
                "`{s}` is not a JSON pointer (it must be empty or start with `/`)"
            ));
        }
        if s.split('/').any(|seg| seg == "*" || seg.contains('[')) {
            return Err(format!(
                "`{s}` uses a selector; a JSON pointer names one value (use a named probe)"
            ));
        }
        Ok(Pointer(s))
    }
}

impl From<Pointer> for String {
    fn from(p: Pointer) -> String {
        p.0
    }
}

impl Pointer {
    /// A pointer the planner writes; `s` is a constant or built from ids.
    pub fn new(s: impl Into<String>) -> Pointer {
        let s = s.into();
        Pointer::try_from(s.clone()).unwrap_or_else(|e| panic!("planner pointer {s}: {e}"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn resolve<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        doc.pointer(&self.0)
    }
}

/// Pick one item of a list by a field: the item of the array at `from` whose
/// `where` field equals `equals`, and the value at `take` inside it. For ids
/// only known by name (schema directories and rules, app roles) and for
/// `$batch` answers, which come in any order and pair by their `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Select {
    pub from: Pointer,
    #[serde(rename = "where")]
    pub field: String,
    pub equals: String,
    pub take: Pointer,
}

impl Select {
    pub fn resolve<'a>(&self, doc: &'a Value) -> Option<&'a Value> {
        self.from
            .resolve(doc)?
            .as_array()?
            .iter()
            .find(|item| item.get(&self.field).and_then(Value::as_str) == Some(&self.equals))
            .and_then(|item| self.take.resolve(item))
    }
}

/// Where a bound value comes from in a response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BindFrom {
    /// A JSON pointer into the response body (`""` = the whole body).
    Pointer(Pointer),
    /// A response header, e.g. `Date` (the server's clock when it answered).
    Header(String),
    /// One item of a list in the body, by a field's value.
    Select(Select),
}

/// A value a request's response gives to later requests: `{name}` in a URL or
/// body is replaced by it. See `placeholder` for the names and the rules.
/// Read through [`BindRecord`], which refuses unknown keys (serde cannot with
/// `flatten`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BindRecord")]
pub struct Bind {
    pub name: String,
    #[serde(flatten)]
    pub from: BindFrom,
}

/// A [`Bind`] as written: `name` and exactly one of `pointer`, `header`, `select`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindRecord {
    name: String,
    #[serde(default)]
    pointer: Option<Pointer>,
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    select: Option<Select>,
}

impl TryFrom<BindRecord> for Bind {
    type Error = String;
    fn try_from(r: BindRecord) -> std::result::Result<Bind, String> {
        let from = match (r.pointer, r.header, r.select) {
            (Some(p), None, None) => BindFrom::Pointer(p),
            (None, Some(h), None) => BindFrom::Header(h),
            (None, None, Some(s)) => BindFrom::Select(s),
            _ => {
                return Err(format!(
                    "bind `{}` needs exactly one of `pointer`, `header` and `select`",
                    r.name
                ));
            }
        };
        Ok(Bind { name: r.name, from })
    }
}

impl Bind {
    pub fn pointer(name: impl Into<String>, pointer: &str) -> Bind {
        Bind {
            name: name.into(),
            from: BindFrom::Pointer(Pointer::new(pointer)),
        }
    }
    pub fn header(name: impl Into<String>, header: &str) -> Bind {
        Bind {
            name: name.into(),
            from: BindFrom::Header(header.into()),
        }
    }
    pub fn select(
        name: impl Into<String>,
        from: &str,
        field: &str,
        equals: &str,
        take: &str,
    ) -> Bind {
        Bind {
            name: name.into(),
            from: BindFrom::Select(Select {
                from: Pointer::new(from),
                field: field.into(),
                equals: equals.into(),
                take: Pointer::new(take),
            }),
        }
    }
}

/// `Some(null)` for a present `null` (serde's `Option` would read `None`), so a
/// plan reads back to the very value it was written from (and its digest).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// One HTTP request, relative to the Graph root (`/servicePrincipals/…`), or
/// to the SCIM base URL when `target` is `scim`. Values unknown until apply
/// are placeholders (`{customSpId}`, `{secret:scimToken}`); `binds` names what
/// its response gives to the requests after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub method: Method,
    pub url: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub body: Option<Value>,
    #[serde(default, skip_serializing_if = "Target::is_graph")]
    pub target: Target,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binds: Vec<Bind>,
}

impl Request {
    pub fn graph(method: Method, url: impl Into<String>, body: Option<Value>) -> Self {
        Request {
            method,
            url: url.into(),
            body,
            target: Target::Graph,
            binds: Vec::new(),
        }
    }
    /// A Graph GET.
    pub fn get(url: impl Into<String>) -> Self {
        Request::graph(Method::Get, url, None)
    }
    /// A Graph POST.
    pub fn post(url: impl Into<String>, body: Option<Value>) -> Self {
        Request::graph(Method::Post, url, body)
    }
    /// A SCIM GET against the target's base URL.
    pub fn scim_get(url: impl Into<String>) -> Self {
        Request {
            target: Target::Scim,
            ..Request::get(url)
        }
    }
    /// The same request, binding `binds` from its response.
    pub fn binding(mut self, binds: impl IntoIterator<Item = Bind>) -> Self {
        self.binds.extend(binds);
        self
    }
    /// Writes count against Graph's write budget (one per inner `$batch` request).
    pub fn graph_writes(&self) -> usize {
        if self.target != Target::Graph || self.method == Method::Get {
            return 0;
        }
        if self.url == "/$batch" {
            return self
                .body
                .as_ref()
                .and_then(|b| b.get("requests"))
                .and_then(Value::as_array)
                .map_or(0, |r| {
                    r.iter()
                        .filter(|x| x.get("method").and_then(Value::as_str) != Some("GET"))
                        .count()
                });
        }
        1
    }
}

/// The kind of a diff line; serialised as its symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DiffOp {
    #[serde(rename = "+")]
    Add,
    #[serde(rename = "-")]
    Remove,
    #[serde(rename = "~")]
    Change,
    #[serde(rename = " ")]
    Same,
}

impl DiffOp {
    pub fn symbol(self) -> &'static str {
        match self {
            DiffOp::Add => "+",
            DiffOp::Remove => "-",
            DiffOp::Change => "~",
            DiffOp::Same => " ",
        }
    }
}

/// One line of a before/after diff: `+` added, `-` removed, `~` changed, ` ` unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffLine {
    pub op: DiffOp,
    pub path: String,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub before: Option<Value>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub after: Option<Value>,
}

impl DiffLine {
    /// `+ path = after`.
    pub fn add(path: impl Into<String>, after: Value) -> DiffLine {
        DiffLine {
            op: DiffOp::Add,
            path: path.into(),
            before: None,
            after: Some(after),
        }
    }
    /// `~ path: before → after`.
    pub fn change(path: impl Into<String>, before: Value, after: Value) -> DiffLine {
        DiffLine {
            op: DiffOp::Change,
            path: path.into(),
            before: Some(before),
            after: Some(after),
        }
    }
    /// `  path = value` (unchanged; what a check expects).
    pub fn same(path: impl Into<String>, value: Value) -> DiffLine {
        DiffLine {
            op: DiffOp::Same,
            path: path.into(),
            before: None,
            after: Some(value),
        }
    }
}

/// How an expectation compares the value at its subject with `value`
/// (evaluated by `probe::holds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ExpectOp {
    /// The HTTP status equals `value` (the subject is ignored; use path `""`).
    Status,
    /// The value equals `value` (JSON equality; `null` = absent or null).
    Equals,
    /// The value is present and not null.
    Exists,
    /// The value is an array holding every item of the array `value`.
    ContainsAll,
    /// The value is an array holding no item of the array `value` (an absent
    /// list holds none).
    ContainsNone,
    /// The value is an array of at least `value` items.
    CountAtLeast,
    /// The value is a number at least `value`.
    AtLeast,
    /// The value is a timestamp (RFC 3339 or HTTP date) not before the one in
    /// `value`; an unreadable timestamp on either side does not hold.
    NotBefore,
}

impl ExpectOp {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpectOp::Status => "status",
            ExpectOp::Equals => "equals",
            ExpectOp::Exists => "exists",
            ExpectOp::ContainsAll => "containsAll",
            ExpectOp::ContainsNone => "containsNone",
            ExpectOp::CountAtLeast => "countAtLeast",
            ExpectOp::AtLeast => "atLeast",
            ExpectOp::NotBefore => "notBefore",
        }
    }
}

/// What an expectation looks at in a response: a JSON pointer into the body
/// (`path`), or a named probe from the closed list in `probe` (`probe`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subject {
    #[serde(rename = "path")]
    Path(Pointer),
    #[serde(rename = "probe")]
    Probe(super::probe::Probe),
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Path(p) => f.write_str(p.as_str()),
            Subject::Probe(p) => write!(f, "probe {p}"),
        }
    }
}

/// One expectation about a response, as data. Read through [`ExpectRecord`],
/// which refuses unknown keys (serde cannot with `flatten`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ExpectRecord")]
pub struct Expect {
    #[serde(flatten)]
    pub subject: Subject,
    pub op: ExpectOp,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub value: Option<Value>,
}

/// An [`Expect`] as written: exactly one of `path` and `probe`, `op`, and
/// `value` when the op takes one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectRecord {
    #[serde(default)]
    path: Option<Pointer>,
    #[serde(default)]
    probe: Option<super::probe::Probe>,
    op: ExpectOp,
    #[serde(default, deserialize_with = "present")]
    value: Option<Value>,
}

impl TryFrom<ExpectRecord> for Expect {
    type Error = String;
    fn try_from(r: ExpectRecord) -> std::result::Result<Expect, String> {
        let subject = match (r.path, r.probe) {
            (Some(p), None) => Subject::Path(p),
            (None, Some(p)) => Subject::Probe(p),
            _ => {
                return Err(format!(
                    "an expectation ({}) needs exactly one of `path` and `probe`",
                    r.op.as_str()
                ));
            }
        };
        Ok(Expect {
            subject,
            op: r.op,
            value: r.value,
        })
    }
}

impl Expect {
    /// An expectation on the value at a JSON pointer.
    pub fn at(pointer: &str, op: ExpectOp, value: Option<Value>) -> Expect {
        Expect {
            subject: Subject::Path(Pointer::new(pointer)),
            op,
            value,
        }
    }
    /// An expectation on a named probe.
    pub fn probe(probe: super::probe::Probe, op: ExpectOp, value: Option<Value>) -> Expect {
        Expect {
            subject: Subject::Probe(probe),
            op,
            value,
        }
    }
    /// The response status is `code`.
    pub fn status(code: u16) -> Expect {
        Expect::at("", ExpectOp::Status, Some(Value::from(code)))
    }
}

/// How to tell from live state that a step is done: send `request`, and every
/// `expect` holds. Checked before a step (a resumed apply skips what is done)
/// and after it; its `binds` give later steps what the step's own requests
/// would have bound when the step is found done without running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoneWhen {
    pub request: Request,
    pub expect: Vec<Expect>,
    /// For waits: how many consecutive successes count (replication), and how often to poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_seconds: Option<u32>,
}

impl DoneWhen {
    /// Send `request` once; done when every expectation holds.
    pub fn when(request: Request, expect: Vec<Expect>) -> DoneWhen {
        DoneWhen {
            request,
            expect,
            consecutive: None,
            poll_seconds: None,
        }
    }
    /// A Graph GET of `url`.
    pub fn get(url: impl Into<String>, expect: Vec<Expect>) -> DoneWhen {
        DoneWhen::when(Request::get(url), expect)
    }
    /// Poll every `seconds` until the check holds (`consecutive` times in a row, when given).
    pub fn polled(mut self, seconds: u32, consecutive: Option<u32>) -> DoneWhen {
        self.poll_seconds = Some(seconds);
        self.consecutive = consecutive;
        self
    }
}

/// How to undo a step: requests, or a sentence when nothing needs undoing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Undo {
    pub requests: Vec<Request>,
    pub note: String,
}

impl Undo {
    pub fn new(requests: Vec<Request>, note: &str) -> Undo {
        Undo {
            requests,
            note: note.into(),
        }
    }
    /// Nothing to undo: the step only reads.
    pub fn read() -> Undo {
        Undo::new(vec![], "Nothing to undo: a read.")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Stable id (`create-app`, `assignments`, `pause-gallery-job`, …).
    pub id: String,
    pub action: Action,
    pub title: String,
    /// How many objects the step acts on (assignments: one per principal).
    pub count: usize,
    /// What kind of object, for the summary (`app`, `assignment`, `job`…).
    pub object: String,
    pub requests: Vec<Request>,
    pub diff: Vec<DiffLine>,
    pub done_when: DoneWhen,
    pub undo: Undo,
    /// Step-specific data (the schema transformation, the role map…).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// An object a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectRef {
    /// `user`, `group`, `targetUser`, `targetGroup`, `job`, `app`, `assignment`.
    pub kind: String,
    pub id: String,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: &str, id: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectRef {
            kind: kind.into(),
            id: id.into(),
            name: name.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub severity: Severity,
    /// Stable code (`duplicate-on-create`, `nested-group`, …), documented in docs/plan-format.md.
    pub code: String,
    pub message: String,
    pub objects: Vec<ObjectRef>,
}

/// What the custom job's first cycle will do with one Entra user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserAction {
    Match,
    Create,
    Skip,
    /// In scope, but the first cycle cannot provision them (no matching
    /// value, no userName, a userName the target already holds, several
    /// target users matching): `reason` says which.
    Fail,
}

impl UserAction {
    pub fn as_str(self) -> &'static str {
        match self {
            UserAction::Match => "match",
            UserAction::Create => "create",
            UserAction::Skip => "skip",
            UserAction::Fail => "fail",
        }
    }
}

/// The first cycle's duration and the Graph budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Estimate {
    pub users_matched: usize,
    pub users_created: usize,
    pub groups: usize,
    pub memberships: usize,
    /// Minutes, from 0.01–0.08 min per object (creates count twice).
    pub first_cycle_minutes_min: f64,
    pub first_cycle_minutes_max: f64,
    pub graph_writes: usize,
    /// Graph's write limit per app and tenant: 3,000 per 150 s.
    pub graph_write_limit: usize,
    pub graph_write_window_seconds: usize,
    /// provisionOnDemand calls (5 per 10 s).
    pub on_demand_calls: usize,
}

impl Estimate {
    /// `0.8–6.1 minutes`, or `33.7–269.3 hours` for long cycles.
    pub fn first_cycle_text(&self) -> String {
        let (a, b) = (self.first_cycle_minutes_min, self.first_cycle_minutes_max);
        if b >= 120.0 {
            format!("{:.1}–{:.1} hours", a / 60.0, b / 60.0)
        } else {
            format!("{a:.1}–{b:.1} minutes")
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Summary {
    /// e.g. `["1 app to create", "162 assignments to add"]`, in step order.
    pub changes: Vec<String>,
    pub users_match: usize,
    pub users_create: usize,
    pub users_skip: usize,
    /// Users predicted `fail` (see the `user-create-fails` finding).
    #[serde(default)]
    pub users_fail: usize,
    pub duplicates: usize,
    pub errors: usize,
    pub warnings: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanApp {
    pub gallery_service_principal_id: String,
    pub gallery_display_name: String,
    pub gallery_job_id: String,
    pub custom_app_name: String,
    pub profile: String,
    pub scope: String,
    pub keep_gallery_sso: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pilot_group: Option<String>,
    /// False with `--no-extra-matching` (written only then).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub extra_matching: bool,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    /// Always [`FORMAT`].
    pub format: String,
    /// `sha256:<hex>` over the plan's canonical bytes ([`Plan::compute_digest`]): a journal binds to it, and loading refuses
    /// a plan whose contents no longer match it.
    pub plan_digest: String,
    /// The snapshot's digest: apply refuses a plan made from other data.
    pub snapshot_digest: String,
    pub app: PlanApp,
    pub summary: Summary,
    pub steps: Vec<Step>,
    pub findings: Vec<Finding>,
    pub estimate: Estimate,
    pub impact: Vec<UserImpact>,
    /// What the custom job's first cycle does with each group it pushes
    /// (empty when it pushes none; absent in plans made before it existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_impact: Vec<GroupImpact>,
}

/// What the custom job's first cycle will do with one Entra group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupAction {
    /// No target group has its name: the engine creates one.
    Create,
    /// One target group has its name: the engine takes it over (`targetId`).
    Adopt,
    /// Several target groups have its name: the engine cannot tell which.
    Fail,
}

impl GroupAction {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupAction::Create => "create",
            GroupAction::Adopt => "adopt",
            GroupAction::Fail => "fail",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupImpact {
    /// The Entra group's object id.
    pub id: String,
    /// The name it is pushed under (after `--group-map`).
    pub display_name: String,
    pub action: GroupAction,
    /// The target group taken over (adopt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// The Entra ids of the members the first cycle adds: its direct user
    /// members the custom job provisions (nested groups' members are not).
    pub members: super::id_list::IdList,
    /// Why the outcome cannot be foretold exactly (`merged`: another Entra
    /// group is pushed under the same name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Plan {
    /// Whether applying would change anything (exit code 2 vs 0).
    pub fn has_changes(&self) -> bool {
        self.steps.iter().any(|s| s.action.is_change())
    }

    /// The digest over the canonical bytes: the compact JSON array of the
    /// plan's fields other than `planDigest`, in file order (`[format,
    /// snapshotDigest, app, summary, steps, findings, estimate, impact]`,
    /// then `groupImpact` when there is one, so older plans keep their digest).
    pub fn compute_digest(&self) -> String {
        // The fields in file order, `planDigest` left out: the same bytes for
        // the same plan, without copying a plan that can hold 100,000 users.
        if !self.group_impact.is_empty() {
            return crate::snapshot::model::sha256_json(&(
                &self.format,
                &self.snapshot_digest,
                &self.app,
                &self.summary,
                &self.steps,
                &self.findings,
                &self.estimate,
                &self.impact,
                &self.group_impact,
            ));
        }
        crate::snapshot::model::sha256_json(&(
            &self.format,
            &self.snapshot_digest,
            &self.app,
            &self.summary,
            &self.steps,
            &self.findings,
            &self.estimate,
            &self.impact,
        ))
    }

    /// Set `planDigest` from the content.
    pub fn seal(&mut self) {
        self.plan_digest = self.compute_digest();
    }

    /// Canonical bytes: pretty JSON plus a newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("plan serialises");
        v.push(b'\n');
        v
    }

    /// Write the bytes of [`Plan::to_bytes`] to `w` without building them in memory.
    pub fn write_to(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        let mut buf = std::io::BufWriter::with_capacity(1 << 16, w);
        serde_json::to_writer_pretty(&mut buf, self).map_err(std::io::Error::other)?;
        std::io::Write::write_all(&mut buf, b"\n")?;
        std::io::Write::flush(&mut buf)
    }

    /// Read a plan file: its format, its shape, its digest; any problem is one sentence.
    ///
    /// Parsed straight into the `Plan` through a 1 MB buffer (no `Value` tree
    /// of the whole file: at 100,000 users that tree is ~250 MB, the plan
    /// ~35 MB; nor the file's bytes: 473 MB at 1,000,000 users); only a file
    /// that does not parse so, or has another format, is read again, whole,
    /// and goes through [`Plan::from_value`] to say why.
    pub fn load(path: &std::path::Path) -> crate::error::Result<Plan> {
        use crate::error::Error;
        let file = std::fs::File::open(path).map_err(|e| Error::io_at(path, e))?;
        let reader = std::io::BufReader::with_capacity(1 << 20, file);
        match serde_json::from_reader::<_, Plan>(reader) {
            Ok(plan) if plan.format == FORMAT => plan.checked(&path.display().to_string()),
            Err(e) if e.is_io() => Err(Error::io_at(path, e.into())),
            _ => {
                let bytes = std::fs::read(path).map_err(|e| Error::io_at(path, e))?;
                Plan::explain(&bytes, path)
            }
        }
    }

    /// [`Plan::load`] on a file's bytes; `path` names it in the sentence.
    pub fn from_bytes(bytes: Vec<u8>, path: &std::path::Path) -> crate::error::Result<Plan> {
        if let Ok(plan) = serde_json::from_slice::<Plan>(&bytes)
            && plan.format == FORMAT
        {
            drop(bytes);
            return plan.checked(&path.display().to_string());
        }
        Plan::explain(&bytes, path)
    }

    /// A file that did not parse as a plan of this format: why, in one sentence.
    fn explain(bytes: &[u8], path: &std::path::Path) -> crate::error::Result<Plan> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            crate::error::Error::input(format!(
                "{} is not JSON (line {}: {})",
                path.display(),
                e.line(),
                crate::text::server_text(&e.to_string())
            ))
        })?;
        Plan::from_value(value, &path.display().to_string())
    }

    /// [`Plan::load`] on parsed JSON; `origin` names the file in the sentence.
    pub fn from_value(value: Value, origin: &str) -> crate::error::Result<Plan> {
        use crate::error::Error;
        let format = value.get("format").and_then(Value::as_str).unwrap_or("");
        if OLD_FORMATS.contains(&format) {
            return Err(Error::input(format!(
                "{origin} is a `{format}` plan, which this scimshift no longer reads: make a new plan from the snapshot with `scimshift plan --snapshot SNAPSHOT.json --out PLAN.json`"
            )));
        }
        if format != FORMAT {
            return Err(Error::input(format!(
                "{origin} is not a scimshift plan (format `{}`, expected `{FORMAT}`)",
                crate::text::excerpt(format, crate::text::FORMAT_SHOWN)
            )));
        }
        let plan: Plan = serde_json::from_value(value).map_err(|e| {
            let text = e.to_string();
            match text.strip_prefix("unknown field `") {
                Some(rest) => Error::input(format!(
                    "{origin} has a field scimshift does not write (`{}`): a plan is sealed, so an edited one is refused; make a new plan with `scimshift plan`",
                    crate::text::server_text(rest.split('`').next().unwrap_or("?"))
                )),
                None => Error::input(format!(
                    "{origin} is not a valid plan: {}",
                    crate::text::server_text(&text)
                )),
            }
        })?;
        plan.checked(origin)
    }

    /// The plan, if its digest matches its contents.
    fn checked(self, origin: &str) -> crate::error::Result<Plan> {
        use crate::error::Error;
        let plan = self;
        let digest = plan.compute_digest();
        if plan.plan_digest != digest {
            return Err(Error::input(format!(
                "{origin} was changed after it was made (its planDigest `{}` does not match its contents, `{digest}`): make a new plan with `scimshift plan` rather than editing one",
                plan.plan_digest
            )));
        }
        Ok(plan)
    }
}
