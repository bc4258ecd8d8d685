//! The plan as plain data, `scimshift.plan/v1`: ordered steps with the exact
//! requests each sends, findings, and the per-user impact. The planner writes
//! it, `show` re-renders it, `apply` will consume it. No timestamps, no
//! randomness: the same snapshot, profile and options give the same bytes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const FORMAT: &str = "scimshift.plan/v1";

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

/// One HTTP request, relative to the Graph root (`/servicePrincipals/…`), or
/// to the SCIM base URL when `target` is `scim`. Ids unknown until apply are
/// placeholders such as `{customSpId}`; secrets are `(redacted)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// `graph` (default) or `scim`.
    #[serde(default = "graph", skip_serializing_if = "is_graph")]
    pub target: String,
}

fn graph() -> String {
    "graph".into()
}
fn is_graph(s: &str) -> bool {
    s == "graph"
}

impl Request {
    pub fn graph(method: &str, url: impl Into<String>, body: Option<Value>) -> Self {
        Request {
            method: method.into(),
            url: url.into(),
            body,
            target: graph(),
        }
    }
    pub fn scim(method: &str, url: impl Into<String>) -> Self {
        Request {
            method: method.into(),
            url: url.into(),
            body: None,
            target: "scim".into(),
        }
    }
    /// Writes count against Graph's write budget (one per inner `$batch` request).
    pub fn graph_writes(&self) -> usize {
        if self.target != "graph" || self.method == "GET" {
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

/// One line of a before/after diff: `+` added, `-` removed, `~` changed, ` ` unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiffLine {
    pub op: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// One expectation about a response, as data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expect {
    /// JSON pointer into the response body (`""` = the whole body / the status).
    pub path: String,
    /// `status`, `equals`, `exists`, `notEmpty`, `containsAll`, `countAtLeast`.
    pub op: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// How to tell from live state that a step is already done: send `request`,
/// and every `expect` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoneWhen {
    pub request: Request,
    pub expect: Vec<Expect>,
    /// For waits: how many consecutive successes count (replication), and how often to poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_seconds: Option<u32>,
}

/// How to undo a step: requests, or a sentence when nothing needs undoing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Undo {
    pub requests: Vec<Request>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserImpact {
    pub id: String,
    pub user_principal_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    pub action: UserAction,
    /// The userName the custom mappings produce (what a create would send).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// The matching attribute and value looked up (`userName eq "…"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_on: Option<String>,
    /// The target user matched (match) or duplicated (create).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_user_name: Option<String>,
    /// A create that makes a second account for someone already in the target.
    pub duplicate: bool,
    /// Which identifier ties this user to the target user in `targetId` when
    /// nothing matched: `objectId = target externalId`, `mail = target emails`,
    /// `gallery userName ← [mail] = target userName`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tie: Option<String>,
    /// Why skipped, or a note (`scoping-filter`, `disabled`, `nested-only`, `not-assigned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The first cycle's duration and the Graph budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
#[serde(rename_all = "camelCase")]
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
#[serde(rename_all = "camelCase")]
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Always [`FORMAT`].
    pub format: String,
    /// The snapshot's digest: apply refuses a plan made from other data.
    pub snapshot_digest: String,
    pub app: PlanApp,
    pub summary: Summary,
    pub steps: Vec<Step>,
    pub findings: Vec<Finding>,
    pub estimate: Estimate,
    pub impact: Vec<UserImpact>,
}

impl Plan {
    /// Whether applying would change anything (exit code 2 vs 0).
    pub fn has_changes(&self) -> bool {
        self.steps.iter().any(|s| s.action.is_change())
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

    /// Read a plan file, checking its format; any problem is one sentence.
    pub fn load(path: &std::path::Path) -> crate::error::Result<Plan> {
        use crate::error::Error;
        let bytes = std::fs::read(path).map_err(|e| Error::io_at(path, e))?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
            Error::input(format!(
                "{} is not JSON (line {}: {e})",
                path.display(),
                e.line()
            ))
        })?;
        let format = value.get("format").and_then(Value::as_str).unwrap_or("");
        if format != FORMAT {
            return Err(Error::input(format!(
                "{} is not a scimshift plan (format `{format}`, expected `{FORMAT}`)",
                path.display()
            )));
        }
        serde_json::from_value(value)
            .map_err(|e| Error::input(format!("{} is not a valid plan: {e}", path.display())))
    }
}
