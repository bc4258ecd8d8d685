//! Views of a plan: the terminal text in the style of `terraform plan`
//! (colour through `console`, which `output::init_colors` already switched on
//! or off) and the Markdown change request a reviewer reads without the tool.
//! Both are pure functions of the plan.

use super::model::*;
use console::style;
use serde_json::Value;
use std::fmt::Write;

/// Diff lines shown per step before "…and N more".
const MAX_DIFF: usize = 12;
/// Objects shown per finding in the text view.
const MAX_OBJECTS: usize = 8;
/// Above this many users the report puts the impact table in a CSV beside it.
pub const MAX_REPORT_USERS: usize = 200;

fn show(v: &Option<Value>) -> String {
    match v {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
    }
}

fn sym(a: Action) -> String {
    let s = a.symbol();
    match a {
        Action::Create => style(s).green().bold().to_string(),
        Action::Change => style(s).yellow().bold().to_string(),
        Action::Remove => style(s).red().bold().to_string(),
        Action::Pause | Action::Start => style(s).cyan().bold().to_string(),
        Action::Check => style(s).dim().to_string(),
    }
}

fn sev(s: Severity) -> String {
    let t = format!("{:<7}", s.as_str());
    match s {
        Severity::Error => style(t).red().bold().to_string(),
        Severity::Warning => style(t).yellow().to_string(),
        Severity::Info => style(t).dim().to_string(),
    }
}

/// The `terraform plan`-style text view.
pub fn render_text(plan: &Plan) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "scimshift plan: move provisioning of \"{}\" to \"{}\" (profile {}, snapshot {}, plan {})\n",
        plan.app.gallery_display_name,
        plan.app.custom_app_name,
        plan.app.profile,
        short_digest(&plan.snapshot_digest),
        short_digest(&plan.plan_digest)
    );
    if plan.steps.is_empty() {
        let _ = writeln!(
            o,
            "No changes. {}\n",
            plan.findings
                .first()
                .map(|f| f.message.as_str())
                .unwrap_or("")
        );
    } else {
        let _ = writeln!(o, "Steps, in order:\n");
        for (i, s) in plan.steps.iter().enumerate() {
            let _ = writeln!(
                o,
                "  {} {:>2}. {:<20} {}",
                sym(s.action),
                i + 1,
                style(&s.id).bold(),
                s.title
            );
            let changed: Vec<&DiffLine> = s.diff.iter().collect();
            for d in changed.iter().take(MAX_DIFF) {
                let line = match d.op {
                    DiffOp::Add => style(format!("+ {} = {}", d.path, show(&d.after)))
                        .green()
                        .to_string(),
                    DiffOp::Remove => style(format!("- {} = {}", d.path, show(&d.before)))
                        .red()
                        .to_string(),
                    DiffOp::Change => style(format!(
                        "~ {}: {} → {}",
                        d.path,
                        show(&d.before),
                        show(&d.after)
                    ))
                    .yellow()
                    .to_string(),
                    DiffOp::Same => style(format!("  {} = {}", d.path, show(&d.after)))
                        .dim()
                        .to_string(),
                };
                let _ = writeln!(o, "          {line}");
            }
            if changed.len() > MAX_DIFF {
                let _ = writeln!(
                    o,
                    "          {}",
                    style(format!("… and {} more", changed.len() - MAX_DIFF)).dim()
                );
            }
            let writes: usize = s.requests.iter().map(Request::graph_writes).sum();
            if s.requests.len() > 1 || writes > 1 {
                let _ = writeln!(
                    o,
                    "          {}",
                    style(format!(
                        "{} request(s), {writes} Graph write(s)",
                        s.requests.len()
                    ))
                    .dim()
                );
            }
        }
        o.push('\n');
    }
    if !plan.findings.is_empty() {
        let _ = writeln!(o, "Findings:\n");
        for f in &plan.findings {
            let _ = writeln!(
                o,
                "  {} {} {}",
                sev(f.severity),
                style(&f.code).bold(),
                f.message
            );
            for obj in f.objects.iter().take(MAX_OBJECTS) {
                let _ = writeln!(
                    o,
                    "            {} {} {}",
                    style(&obj.kind).dim(),
                    obj.name,
                    style(format!("({})", obj.id)).dim()
                );
            }
            if f.objects.len() > MAX_OBJECTS {
                let _ = writeln!(
                    o,
                    "            {}",
                    style(format!("… and {} more", f.objects.len() - MAX_OBJECTS)).dim()
                );
            }
        }
        o.push('\n');
    }
    let renamed: Vec<(&UserImpact, (String, String))> = renames(plan);
    if !renamed.is_empty() {
        let _ = writeln!(
            o,
            "Renamed in the target by the first cycle ({}):\n",
            renamed.len()
        );
        for (u, (old, new)) in renamed.iter().take(MAX_OBJECTS) {
            let _ = writeln!(
                o,
                "  {} {}: {old} → {new}",
                style("~").yellow(),
                u.user_principal_name()
            );
        }
        if renamed.len() > MAX_OBJECTS {
            let _ = writeln!(
                o,
                "  {}",
                style(format!("… and {} more", renamed.len() - MAX_OBJECTS)).dim()
            );
        }
        o.push('\n');
    }
    let s = &plan.summary;
    let _ = writeln!(
        o,
        "Users: {} to match, {} to create ({} duplicate{}), {} to skip{}.",
        s.users_match,
        s.users_create,
        s.duplicates,
        if s.duplicates == 1 { "" } else { "s" },
        s.users_skip,
        if s.users_fail > 0 {
            format!(", {} that would fail", s.users_fail)
        } else {
            String::new()
        }
    );
    let e = &plan.estimate;
    let _ = writeln!(
        o,
        "First cycle: {}. Graph writes: {} (limit {} per {} s).",
        e.first_cycle_text(),
        e.graph_writes,
        e.graph_write_limit,
        e.graph_write_window_seconds
    );
    let line = if s.changes.is_empty() {
        "Plan: no changes.".to_string()
    } else {
        format!("Plan: {}.", s.changes.join(", "))
    };
    let _ = writeln!(o, "{}", style(line).bold());
    if s.errors > 0 {
        let _ = writeln!(
            o,
            "{}",
            style(format!(
                "{} error finding(s): fix them before apply.",
                s.errors
            ))
            .red()
            .bold()
        );
    }
    o
}

/// Matched users whose userName the first cycle changes, with (old, new).
fn renames(plan: &Plan) -> Vec<(&UserImpact, (String, String))> {
    plan.impact
        .iter()
        .filter(|u| u.action == UserAction::Match)
        .filter_map(|u| u.rename().map(|r| (u, r)))
        .collect()
}

/// A per-user diff as one line: `userName: a → b; externalId: + x`.
fn diff_text(u: &UserImpact) -> String {
    u.diff
        .iter()
        .map(|d| match d.op {
            DiffOp::Change => format!("{}: {} → {}", d.path, show(&d.before), show(&d.after)),
            _ => format!("{}: + {}", d.path, show(&d.after)),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn short_digest(d: &str) -> &str {
    let end = d.char_indices().nth(19).map(|(i, _)| i).unwrap_or(d.len());
    &d[..end]
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The steps that change what the target receives: they run last, together,
/// and the provisioning gap lies between the first and the last of them.
const CUTOVER_STEPS: &[&str] = &[
    "pause-gallery-job",
    "start-custom-job",
    "pilot-on-demand",
    "wait-steady-state",
];

/// The planned order as a Mermaid flowchart (rendered by the usual code hosts
/// in a change record): preparation first, the cutover steps in their own box.
fn mermaid_flow(plan: &Plan) -> String {
    let label = |i: usize, st: &super::model::Step| {
        format!(
            "    s{i}[\"{}. {} {}\"]\n",
            i + 1,
            st.action.symbol(),
            st.title.replace('"', "'")
        )
    };
    let (mut prep, mut cut) = (String::new(), String::new());
    for (i, st) in plan.steps.iter().enumerate() {
        if CUTOVER_STEPS.contains(&st.id.as_str()) {
            cut.push_str(&label(i, st));
        } else {
            prep.push_str(&label(i, st));
        }
    }
    let mut o = String::from("```mermaid\nflowchart TD\n");
    o.push_str(&prep);
    if !cut.is_empty() {
        o.push_str(
            "    subgraph cutover [Cutover: the gallery job pauses, the custom job starts]\n",
        );
        o.push_str(&cut);
        o.push_str("    end\n");
    }
    let ids: Vec<String> = (0..plan.steps.len()).map(|i| format!("s{i}")).collect();
    if ids.len() > 1 {
        let _ = writeln!(o, "    {}", ids.join(" --> "));
    }
    o.push_str("```\n\n");
    o
}

/// Per-user impact as CSV (for the report when there are many users).
pub fn impact_csv(plan: &Plan) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "id",
        "userPrincipalName",
        "mail",
        "action",
        "userName",
        "matchedOn",
        "targetId",
        "targetUserName",
        "duplicate",
        "reason",
        "tie",
        "diff",
    ]);
    for u in &plan.impact {
        let _ = w.write_record([
            u.id(),
            u.user_principal_name(),
            u.mail().unwrap_or(""),
            u.action.as_str(),
            u.user_name().unwrap_or(""),
            u.matched_on().unwrap_or(""),
            u.target_id().unwrap_or(""),
            u.target_user_name().unwrap_or(""),
            if u.duplicate { "yes" } else { "no" },
            u.reason().unwrap_or(""),
            u.tie().unwrap_or(""),
            &diff_text(u),
        ]);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// The Markdown change request. `impact_csv_name` is the file the impact
/// table went to when there are more than [`MAX_REPORT_USERS`] users.
pub fn render_markdown(plan: &Plan, impact_csv_name: Option<&str>) -> String {
    let mut o = String::new();
    let a = &plan.app;
    let s = &plan.summary;
    let _ = writeln!(
        o,
        "# Change request: move \"{}\" provisioning to a custom SCIM app\n",
        md(&a.gallery_display_name)
    );
    let _ = writeln!(o, "## Summary\n");
    let _ = writeln!(o, "| | |\n|---|---|");
    let _ = writeln!(
        o,
        "| Gallery app | {} (`{}`) |",
        md(&a.gallery_display_name),
        a.gallery_service_principal_id
    );
    let _ = writeln!(
        o,
        "| Gallery job | `{}` (paused at cutover, never deleted) |",
        a.gallery_job_id
    );
    let _ = writeln!(o, "| Custom app to create | {} |", md(&a.custom_app_name));
    let _ = writeln!(o, "| App profile | {} |", a.profile);
    let _ = writeln!(o, "| Scope | {} |", a.scope);
    let _ = writeln!(
        o,
        "| SAML SSO | {} |",
        if a.keep_gallery_sso {
            "stays on the gallery app"
        } else {
            "to be moved by hand after verify"
        }
    );
    let _ = writeln!(
        o,
        "| Pilot group | {} |",
        a.pilot_group
            .as_deref()
            .map(md)
            .unwrap_or_else(|| "none".into())
    );
    let _ = writeln!(o, "| Snapshot | `{}` |", plan.snapshot_digest);
    let _ = writeln!(o, "| Plan digest | `{}` |", plan.plan_digest);
    let _ = writeln!(
        o,
        "| Users | {} match, {} create ({} duplicates), {} skip, {} fail |",
        s.users_match, s.users_create, s.duplicates, s.users_skip, s.users_fail
    );
    let e = &plan.estimate;
    let _ = writeln!(o, "| First cycle | {} |", e.first_cycle_text());
    let _ = writeln!(
        o,
        "| Graph writes | {} (limit {} per {} s) |",
        e.graph_writes, e.graph_write_limit, e.graph_write_window_seconds
    );
    let _ = writeln!(
        o,
        "| Findings | {} errors, {} warnings |\n",
        s.errors, s.warnings
    );
    let _ = writeln!(
        o,
        "**Plan:** {}\n",
        if s.changes.is_empty() {
            "no changes".into()
        } else {
            s.changes.join(", ")
        }
    );

    let _ = writeln!(o, "## Findings\n");
    if plan.findings.is_empty() {
        let _ = writeln!(o, "None.\n");
    } else {
        let _ = writeln!(
            o,
            "| Severity | Code | Finding | Objects |\n|---|---|---|---|"
        );
        for f in &plan.findings {
            let mut objs: Vec<String> = f
                .objects
                .iter()
                .take(20)
                .map(|x| format!("{} {} (`{}`)", x.kind, md(&x.name), x.id))
                .collect();
            if f.objects.len() > 20 {
                objs.push(format!("… and {} more", f.objects.len() - 20));
            }
            let _ = writeln!(
                o,
                "| {} | `{}` | {} | {} |",
                f.severity.as_str(),
                f.code,
                md(&f.message),
                objs.join("<br>")
            );
        }
        o.push('\n');
    }

    let _ = writeln!(o, "## Steps\n");
    o.push_str(&mermaid_flow(plan));
    let _ = writeln!(
        o,
        "| # | Action | Step | What | Requests | Done when | Undo |\n|---|---|---|---|---|---|---|"
    );
    for (i, st) in plan.steps.iter().enumerate() {
        let reqs: Vec<String> = st
            .requests
            .iter()
            .take(3)
            .map(|r| {
                let binds: Vec<&str> = r.binds.iter().map(|b| b.name.as_str()).collect();
                let binds = match binds.as_slice() {
                    [] => String::new(),
                    [a] => format!(" → `{{{}}}`", md(a)),
                    [a, rest @ ..] => format!(" → `{{{}}}` and {} more", md(a), rest.len()),
                };
                format!("`{} {}`{binds}", r.method.as_str(), md(&r.url))
            })
            .collect();
        let more = if st.requests.len() > 3 {
            format!("<br>… {} in all", st.requests.len())
        } else {
            String::new()
        };
        let done = format!(
            "`{} {}`: {}",
            st.done_when.request.method.as_str(),
            md(&st.done_when.request.url),
            st.done_when
                .expect
                .iter()
                .map(|x| format!(
                    "{} {} {}",
                    md(&x.subject.to_string()),
                    x.op.as_str(),
                    x.value
                        .as_ref()
                        .map(|v| md(&v.to_string()))
                        .unwrap_or_default()
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
        let _ = writeln!(
            o,
            "| {} | `{}` | `{}` | {} | {}{} | {} | {} |",
            i + 1,
            st.action.symbol(),
            st.id,
            md(&st.title),
            reqs.join("<br>"),
            more,
            done,
            md(&st.undo.note)
        );
    }
    o.push('\n');
    for st in plan.steps.iter().filter(|s| !s.diff.is_empty()) {
        let _ = writeln!(o, "### `{}` changes\n\n```diff", st.id);
        for d in &st.diff {
            let _ = match d.op {
                DiffOp::Change => writeln!(
                    o,
                    "- {} = {}\n+ {} = {}",
                    d.path,
                    show(&d.before),
                    d.path,
                    show(&d.after)
                ),
                DiffOp::Remove => writeln!(o, "- {} = {}", d.path, show(&d.before)),
                DiffOp::Add => writeln!(o, "+ {} = {}", d.path, show(&d.after)),
                DiffOp::Same => writeln!(o, "  {} = {}", d.path, show(&d.after)),
            };
        }
        let _ = writeln!(o, "```\n");
    }

    let _ = writeln!(o, "## Per-user impact\n");
    match impact_csv_name {
        Some(name) => {
            let _ = writeln!(
                o,
                "{} users: the table is in [`{name}`]({name}).\n",
                plan.impact.len()
            );
        }
        None => {
            let _ = writeln!(
                o,
                "| User | Mail | Action | userName | Target user | Note |\n|---|---|---|---|---|---|"
            );
            for u in &plan.impact {
                let note = if u.duplicate {
                    format!("**duplicate** ({})", md(u.tie().unwrap_or("")))
                } else if let Some((old, new)) = u.rename() {
                    format!("**renamed**: {} → {}", md(&old), md(&new))
                } else {
                    md(u.reason().unwrap_or_default())
                };
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} |",
                    md(u.user_principal_name()),
                    md(u.mail().unwrap_or("")),
                    u.action.as_str(),
                    md(u.user_name().unwrap_or("")),
                    md(u.target_user_name().unwrap_or("")),
                    note
                );
            }
            o.push('\n');
        }
    }

    let renamed = renames(plan);
    if !renamed.is_empty() {
        let _ = writeln!(o, "## Renamed in the target\n");
        if let Some(f) = plan
            .findings
            .iter()
            .find(|f| f.code == "user-renamed-in-target")
        {
            let _ = writeln!(o, "{}\n", md(&f.message));
        }
        let _ = writeln!(
            o,
            "| User | userName in the target now | after the first cycle | matched on |\n|---|---|---|---|"
        );
        for (u, (old, new)) in renamed.iter().take(MAX_REPORT_USERS) {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                md(u.user_principal_name()),
                md(old),
                md(new),
                md(u.matched_on().unwrap_or(""))
            );
        }
        if renamed.len() > MAX_REPORT_USERS {
            let _ = writeln!(
                o,
                "\n… and {} more: the `diff` column of the impact CSV has them all.",
                renamed.len() - MAX_REPORT_USERS
            );
        }
        o.push('\n');
    }

    let _ = writeln!(o, "## Rollback\n");
    let _ = writeln!(
        o,
        "`scimshift rollback PLAN.json` undoes, in reverse order, the steps the journal records as done:\n"
    );
    for st in plan.steps.iter().rev().filter(|s| s.action.is_change()) {
        let reqs: Vec<String> = st
            .undo
            .requests
            .iter()
            .take(2)
            .map(|r| format!("`{} {}`", r.method.as_str(), md(&r.url)))
            .collect();
        let more = if st.undo.requests.len() > 2 {
            format!(" … {} requests in all", st.undo.requests.len())
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "1. **{}**: {}{}{}",
            st.id,
            md(&st.undo.note),
            if reqs.is_empty() {
                String::new()
            } else {
                format!(" {}", reqs.join(", "))
            },
            more
        );
    }
    let _ = writeln!(
        o,
        "\nThe gallery app's assignments, schema and SSO are never changed, so starting its job again restores the state before the change."
    );
    o
}
