//! What an apply did, read back from its journal: the per-step summary
//! `status` prints, and `PLAN.applied.md` for the change record (what was
//! done, when, with which ids, the cutover gap, a Mermaid timeline).

use crate::journal::Record;
use crate::plan::model::Plan;
use serde::Serialize;
use serde_json::Value;

/// One step as the journal tells it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    pub id: String,
    pub title: String,
    /// `done`, `found done`, `in progress`, `undone` or `not started`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub done_at: Option<String>,
    /// Writes sent (intents journaled).
    pub writes: usize,
}

/// The journal of a plan, summarised.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    pub steps: Vec<StepRecord>,
    /// Ids the run bound (custom app, job…), small values only.
    pub ids: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<super::cutover::Gap>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_started: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_verify: Option<Value>,
    pub runs: usize,
}

const ID_NAMES: &[&str] = &[
    "customSpId",
    "customAppId",
    "customJobId",
    "customSchemaId",
    "customJobStartedAt",
    "galleryLastCycleEnded",
];

impl Applied {
    pub fn from_journal(plan: &Plan, records: &[Record]) -> Applied {
        let mut steps: Vec<StepRecord> = plan
            .steps
            .iter()
            .map(|s| StepRecord {
                id: s.id.clone(),
                title: s.title.clone(),
                state: "not started".into(),
                started_at: None,
                done_at: None,
                writes: 0,
            })
            .collect();
        let mut ids: Vec<(String, String)> = Vec::new();
        let mut out = Applied {
            steps: Vec::new(),
            ids: Vec::new(),
            gap: None,
            first_started: None,
            last_outcome: None,
            last_verify: None,
            runs: 0,
        };
        for r in records {
            match r {
                Record::Started { at, command, .. } if command == "apply" => {
                    out.runs += 1;
                    out.first_started.get_or_insert_with(|| at.clone());
                }
                Record::Intent { at, step, .. } => {
                    if let Some(s) = find(&mut steps, step) {
                        s.writes += 1;
                        s.started_at.get_or_insert_with(|| at.clone());
                        if s.state == "not started" {
                            s.state = "in progress".into();
                        }
                    }
                }
                Record::StepDone {
                    at,
                    step,
                    found,
                    bound,
                } => {
                    if let Some(s) = find(&mut steps, step) {
                        s.state = if *found { "found done" } else { "done" }.into();
                        s.done_at = Some(at.clone());
                    }
                    for (k, v) in bound {
                        if ID_NAMES.contains(&k.as_str())
                            && let Some(v) = v.as_str()
                            && !ids.iter().any(|(n, _)| n == k)
                        {
                            ids.push((k.clone(), v.to_string()));
                        }
                    }
                }
                Record::StepUndone { step, .. } => {
                    if let Some(s) = find(&mut steps, step) {
                        s.state = "undone".into();
                    }
                }
                rec @ Record::Cutover { .. } => {
                    out.gap = super::cutover::Gap::from_record(rec);
                }
                Record::Finished {
                    command, outcome, ..
                } => out.last_outcome = Some(format!("{command}: {outcome}")),
                Record::Verify {
                    at,
                    passed,
                    worst,
                    counts,
                } => {
                    out.last_verify = Some(serde_json::json!({
                        "at": at, "passed": passed, "worst": worst, "counts": counts
                    }))
                }
                _ => {}
            }
        }
        out.steps = steps;
        out.ids = ids;
        out
    }

    pub fn done(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.state == "done" || s.state == "found done")
            .count()
    }

    /// The steps as text lines (`✓ create-app  done 2026-…`).
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for s in &self.steps {
            let mark = match s.state.as_str() {
                "done" | "found done" => "✓",
                "in progress" => "…",
                "undone" => "↶",
                _ => "·",
            };
            out.push_str(&format!(
                "  {mark} {:<20} {}{}\n",
                s.id,
                s.state,
                s.done_at
                    .as_deref()
                    .map(|t| format!(" at {t}"))
                    .unwrap_or_default()
            ));
        }
        if let Some(g) = &self.gap {
            out.push_str(&format!("  provisioning gap: {}\n", gap_text(g)));
        }
        out
    }

    /// `PLAN.applied.md`: the change record.
    pub fn render_markdown(&self, plan: &Plan) -> String {
        let mut md = format!(
            "# Applied: {} → {}\n\nPlan digest `{}`; {} of {} steps done over {} run{}{}.\n\n",
            plan.app.gallery_display_name,
            plan.app.custom_app_name,
            plan.plan_digest,
            self.done(),
            self.steps.len(),
            self.runs,
            if self.runs == 1 { "" } else { "s" },
            self.last_outcome
                .as_deref()
                .map(|o| format!("; last: {o}"))
                .unwrap_or_default()
        );
        md.push_str("| step | state | started | done | writes |\n|---|---|---|---|---|\n");
        for s in &self.steps {
            md.push_str(&format!(
                "| `{}` {} | {} | {} | {} | {} |\n",
                s.id,
                s.title.replace('|', "\\|"),
                s.state,
                s.started_at.as_deref().unwrap_or(""),
                s.done_at.as_deref().unwrap_or(""),
                s.writes
            ));
        }
        if !self.ids.is_empty() {
            md.push_str("\n## Ids\n\n");
            for (k, v) in &self.ids {
                md.push_str(&format!("- `{k}`: `{v}`\n"));
            }
        }
        if let Some(g) = &self.gap {
            md.push_str(&format!(
                "\n## Cutover\n\nProvisioning gap: {}.\n",
                gap_text(g)
            ));
        }
        let timed: Vec<&StepRecord> = self.steps.iter().filter(|s| s.done_at.is_some()).collect();
        if !timed.is_empty() {
            md.push_str("\n## Timeline\n\n```mermaid\ntimeline\n    title Apply\n");
            for s in timed {
                let at = s.done_at.as_deref().unwrap_or("");
                let hm = at.get(11..19).unwrap_or(at);
                md.push_str(&format!("    {hm} : {} ({})\n", s.id, s.state));
            }
            md.push_str("```\n");
        }
        md
    }
}

fn find<'s>(steps: &'s mut [StepRecord], id: &str) -> Option<&'s mut StepRecord> {
    steps.iter_mut().find(|s| s.id == id)
}

/// `2.4 s (gallery's last cycle ended …, custom job started …)`.
pub fn gap_text(g: &super::cutover::Gap) -> String {
    let tool = g
        .tool_seconds
        .map(|t| format!(", {t:.1} s of it apply's own"))
        .unwrap_or_default();
    match g.gap_seconds {
        Some(s) => format!(
            "{s:.1} s (gallery's last cycle ended {}, custom job started {}{tool})",
            g.gallery_last_cycle_ended.as_deref().unwrap_or("?"),
            g.custom_job_started
        ),
        None => format!(
            "not measured (custom job started {}; the gallery job reported no last cycle)",
            g.custom_job_started
        ),
    }
}
