//! What `verify` found, as data: one [`Row`] per Entra user of the plan,
//! per target user the plan does not account for (orphans, new accounts) and
//! per pushed group; the custom job's [`JobCheck`]; the [`Counts`] of the
//! parity table; and the one sentence naming the worst failure. Rendered
//! here as the parity table (text), the per-object CSV and JSON (serde).
//! Deciding the statuses is `compare`'s; this file stops at the shapes and
//! their rendering.

use crate::error::Result;
use serde::Serialize;
use std::path::Path;

/// What a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RowKind {
    /// An Entra user of the plan's `impact`.
    User,
    /// A target user no Entra user of the plan accounts for (an orphan, or
    /// an account that appeared since the snapshot).
    TargetUser,
    /// A group the custom job pushes (by its pushed name).
    Group,
}

impl RowKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RowKind::User => "user",
            RowKind::TargetUser => "targetUser",
            RowKind::Group => "group",
        }
    }
}

/// One object's verdict. Failures first (worst first), then what passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// A user who should be in the target (predicted match or create) is not.
    Missing,
    /// The user's account is there but `active` is false.
    Inactive,
    /// The account the user was matched to now carries another person's (or
    /// no one's) identifiers: the custom job linked it to someone else.
    Rematched,
    /// The account the gallery provisioned for the user is gone and another
    /// account holds their identifiers (the app lost that account's data).
    Replaced,
    /// More than one target account holds identifiers of this one person.
    Duplicate,
    /// A pushed group is not in the target.
    GroupMissing,
    /// Several target groups carry a pushed group's name.
    GroupDuplicate,
    /// A pushed group's members differ from the Entra group's direct in-scope members.
    GroupMembers,
    /// An orphan (a target user no one assigns) was changed or deleted.
    OrphanChanged,
    /// Passes.
    Ok,
    /// Predicted `skip` and not provisioned (or left as it was).
    Skipped,
    /// Predicted `fail` (the plan's `user-create-fails`) and not provisioned.
    PredictedFail,
    /// Not a failure, but not what the plan predicted: a skipped user who is
    /// in the target now, a target account that appeared since the snapshot.
    Unexpected,
    /// Could not be checked (no snapshot, no target in it): `detail` says why.
    NotChecked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Missing => "missing",
            Status::Inactive => "inactive",
            Status::Rematched => "rematched",
            Status::Replaced => "replaced",
            Status::Duplicate => "duplicate",
            Status::GroupMissing => "group-missing",
            Status::GroupDuplicate => "group-duplicate",
            Status::GroupMembers => "group-members",
            Status::OrphanChanged => "orphan-changed",
            Status::Ok => "ok",
            Status::Skipped => "skipped",
            Status::PredictedFail => "predicted-fail",
            Status::Unexpected => "unexpected",
            Status::NotChecked => "not-checked",
        }
    }

    /// Whether this verdict fails verify.
    pub fn is_failure(self) -> bool {
        self < Status::Ok
    }

    /// "1 user is missing", "2 groups have member differences", … for the sentence.
    fn describe(self, n: usize) -> String {
        let one = n == 1;
        let (thing, verb) = match self {
            Status::Missing => (
                if one { "user" } else { "users" },
                if one {
                    "is missing from the target"
                } else {
                    "are missing from the target"
                },
            ),
            Status::Inactive => (
                if one { "user" } else { "users" },
                if one {
                    "is unexpectedly inactive"
                } else {
                    "are unexpectedly inactive"
                },
            ),
            Status::Rematched => (
                if one {
                    "user's account"
                } else {
                    "users' accounts"
                },
                if one {
                    "was re-matched to someone else"
                } else {
                    "were re-matched to someone else"
                },
            ),
            Status::Replaced => (
                if one {
                    "user's account"
                } else {
                    "users' accounts"
                },
                if one {
                    "was replaced by a new one"
                } else {
                    "were replaced by new ones"
                },
            ),
            Status::Duplicate => (
                if one { "user has" } else { "users have" },
                "more than one account in the target",
            ),
            Status::GroupMissing => (
                if one { "pushed group" } else { "pushed groups" },
                if one {
                    "is missing from the target"
                } else {
                    "are missing from the target"
                },
            ),
            Status::GroupDuplicate => (
                if one { "pushed group" } else { "pushed groups" },
                if one {
                    "is in the target more than once"
                } else {
                    "are in the target more than once"
                },
            ),
            Status::GroupMembers => (
                if one { "group has" } else { "groups have" },
                "member differences",
            ),
            Status::OrphanChanged => (
                if one { "orphan" } else { "orphans" },
                if one {
                    "(a target user no one assigns) was changed"
                } else {
                    "(target users no one assigns) were changed"
                },
            ),
            _ => (if one { "object" } else { "objects" }, self.as_str()),
        };
        format!("{n} {thing} {verb}")
    }
}

/// One line of the per-object CSV (and of `rows` in JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub kind: RowKind,
    /// Entra object id (user, group) or target id (targetUser).
    pub id: String,
    /// userPrincipalName, the target userName, or the pushed group name.
    pub name: String,
    /// What the plan and the snapshot say should be there.
    pub expected: String,
    /// What the target holds now.
    pub found: String,
    pub status: Status,
    /// Why, naming the target ids, identifiers or members involved.
    pub detail: String,
}

/// A problem of the custom job (not of one object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JobProblem {
    /// The custom app or its job was not found.
    NotFound,
    /// The job is quarantined.
    Quarantined,
    /// Objects in escrow that the plan did not predict to fail.
    Escrows,
    /// No steady state reached since apply started (or the job is paused).
    NotSteady,
}

/// The custom job's state, as verify read it.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct JobCheck {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_principal_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// `status.code` (`Active`, `Paused`, `Quarantine`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steady_state_last_achieved: Option<String>,
    /// Apply's start, when known (journal): the steady state must be later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quarantine: Option<String>,
    /// `lastExecution.countEscrowed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escrowed: Option<u64>,
    /// Failures in the provisioning logs (since apply started), as
    /// `name (errorCode)`; `None` when the logs could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_failures: Option<Vec<String>>,
    pub problems: Vec<(JobProblem, String)>,
}

/// The parity table.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Entra users the plan provisions (predicted match or create).
    pub users_expected: usize,
    /// Of them, present once, active and linked to the same person.
    pub users_found: usize,
    pub missing: usize,
    pub duplicate: usize,
    pub inactive: usize,
    pub rematched: usize,
    pub replaced: usize,
    pub skipped: usize,
    pub predicted_fail: usize,
    /// Target users no Entra user of the plan accounts for, in the snapshot.
    pub orphans: usize,
    pub changed_orphans: usize,
    /// Target accounts that are new since the snapshot and nobody's.
    pub unexpected: usize,
    pub groups_expected: usize,
    pub groups_found: usize,
    pub groups_missing: usize,
    pub groups_duplicate: usize,
    pub group_member_differences: usize,
    /// Target users read now.
    pub target_users: usize,
    pub target_groups: usize,
}

/// The outcome of `verify`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    pub passed: bool,
    /// One sentence naming the worst failure (and how many others), when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worst: Option<String>,
    pub custom_app_name: String,
    pub target_url: String,
    /// When the live state was read (operator's clock, RFC 3339).
    pub read_at: String,
    pub counts: Counts,
    pub job: JobCheck,
    /// What could not be checked, and why.
    pub notes: Vec<String>,
    pub rows: Vec<Row>,
}

pub use crate::text::names_list;

/// The sentence for a failed verify: the worst problem with (up to three of)
/// its objects, then how many others there are by kind.
pub(crate) fn worst_sentence(rows: &[Row], job: &JobCheck) -> Option<String> {
    use std::collections::BTreeMap;
    let mut by: BTreeMap<Status, Vec<&Row>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.status.is_failure()) {
        by.entry(r.status).or_default().push(r);
    }
    // A job that was not found or is quarantined outranks any object: the
    // target cannot be expected to be right. Later job problems come after
    // the objects'.
    type Problems<'a> = Vec<&'a (JobProblem, String)>;
    let (job_first, job_later): (Problems, Problems) = job
        .problems
        .iter()
        .partition(|(p, _)| matches!(p, JobProblem::NotFound | JobProblem::Quarantined));
    // (the worst with its objects named, the same without names)
    let mut problems: Vec<(String, String)> = Vec::new();
    for (_, s) in &job_first {
        problems.push((s.clone(), s.clone()));
    }
    for (status, rs) in &by {
        let names: Vec<String> = rs.iter().map(|r| r.name.clone()).collect();
        let what = status.describe(rs.len());
        problems.push((format!("{what} ({})", names_list(&names, 3)), what));
    }
    for (_, s) in &job_later {
        problems.push((s.clone(), s.clone()));
    }
    let ((first, _), rest) = problems.split_first()?;
    let mut s = format!("verify failed: {first}");
    if !rest.is_empty() {
        let others: Vec<&str> = rest.iter().map(|(_, short)| short.as_str()).collect();
        s.push_str(&format!("; also {} (see the table)", others.join(", ")));
    }
    Some(s)
}

impl VerifyReport {
    /// The rows that fail.
    pub fn failures(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.status.is_failure())
    }

    /// The parity table and the failures, for people.
    pub fn render_text(&self) -> String {
        let c = &self.counts;
        let mut out = String::new();
        out.push_str(&format!(
            "Verify: \"{}\" → {} (read {})\n\n",
            self.custom_app_name, self.target_url, self.read_at
        ));
        let line = |out: &mut String, label: &str, value: String, bad: bool| {
            out.push_str(&format!(
                "  {:<34} {:>9}{}\n",
                label,
                value,
                if bad { "  ✗" } else { "" }
            ));
        };
        out.push_str("  users\n");
        line(
            &mut out,
            "expected (match + create)",
            c.users_expected.to_string(),
            false,
        );
        line(
            &mut out,
            "found once, active, same person",
            c.users_found.to_string(),
            c.users_found < c.users_expected,
        );
        line(&mut out, "missing", c.missing.to_string(), c.missing > 0);
        line(
            &mut out,
            "duplicate",
            c.duplicate.to_string(),
            c.duplicate > 0,
        );
        line(
            &mut out,
            "unexpectedly inactive",
            c.inactive.to_string(),
            c.inactive > 0,
        );
        line(
            &mut out,
            "re-matched to someone else",
            c.rematched.to_string(),
            c.rematched > 0,
        );
        line(
            &mut out,
            "replaced by a new account",
            c.replaced.to_string(),
            c.replaced > 0,
        );
        line(
            &mut out,
            "skipped / predicted to fail",
            format!("{} / {}", c.skipped, c.predicted_fail),
            false,
        );
        line(
            &mut out,
            "orphans (no one assigns them)",
            c.orphans.to_string(),
            false,
        );
        line(
            &mut out,
            "changed orphans",
            c.changed_orphans.to_string(),
            c.changed_orphans > 0,
        );
        line(
            &mut out,
            "new accounts nobody accounts for",
            c.unexpected.to_string(),
            false,
        );
        out.push_str("  groups\n");
        line(
            &mut out,
            "expected (pushed)",
            c.groups_expected.to_string(),
            false,
        );
        line(
            &mut out,
            "found",
            c.groups_found.to_string(),
            c.groups_found < c.groups_expected,
        );
        line(
            &mut out,
            "missing / duplicate",
            format!("{} / {}", c.groups_missing, c.groups_duplicate),
            c.groups_missing + c.groups_duplicate > 0,
        );
        line(
            &mut out,
            "group member differences",
            c.group_member_differences.to_string(),
            c.group_member_differences > 0,
        );
        out.push_str("  custom job\n");
        let j = &self.job;
        line(
            &mut out,
            "status",
            j.code.clone().unwrap_or_else(|| "not found".into()),
            j.code.is_none(),
        );
        line(
            &mut out,
            "steady state since apply",
            match &j.steady_state_last_achieved {
                Some(t) if !j.problems.iter().any(|(p, _)| *p == JobProblem::NotSteady) => {
                    t.clone()
                }
                _ => "no".into(),
            },
            j.problems.iter().any(|(p, _)| *p == JobProblem::NotSteady),
        );
        line(
            &mut out,
            "quarantine",
            j.quarantine.clone().unwrap_or_else(|| "none".into()),
            j.quarantine.is_some(),
        );
        line(
            &mut out,
            "escrowed (last cycle)",
            j.escrowed
                .map(|n| n.to_string())
                .unwrap_or_else(|| "?".into()),
            j.problems.iter().any(|(p, _)| *p == JobProblem::Escrows),
        );
        let failures: Vec<&Row> = self.failures().collect();
        if !failures.is_empty() || !j.problems.is_empty() {
            out.push_str("\nProblems:\n");
            for (_, s) in &j.problems {
                out.push_str(&format!("  ✗ job: {s}\n"));
            }
            for r in failures.iter().take(50) {
                out.push_str(&format!(
                    "  ✗ {} {} {} ({}): {}\n",
                    r.status.as_str(),
                    r.kind.as_str(),
                    r.name,
                    r.id,
                    r.detail
                ));
            }
            if failures.len() > 50 {
                out.push_str(&format!(
                    "  … and {} more (the CSV lists every object)\n",
                    failures.len() - 50
                ));
            }
        }
        for n in &self.notes {
            out.push_str(&format!("\nnote: {n}"));
        }
        if !self.notes.is_empty() {
            out.push('\n');
        }
        if self.passed {
            out.push_str("\nVerify passed: every provisioned user is there once, active and linked to the same person; every pushed group has its members; orphans are untouched; the custom job is steady.\n");
        }
        // A failure's sentence is the command's error line (stderr).
        out
    }

    /// The per-object CSV: `kind,id,name,expected,found,status,detail`, one
    /// row per user and group, cells a spreadsheet would run as formulas
    /// prefixed with `'`. Written mode 0600 (it lists people).
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        crate::output::write_private_file_with(path, |f| {
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(std::io::BufWriter::new(f));
            let err = |e: csv::Error| std::io::Error::other(e.to_string());
            w.write_record(CSV_COLUMNS).map_err(err)?;
            let g = crate::users::formats::guard_formula;
            for r in &self.rows {
                w.write_record([
                    r.kind.as_str(),
                    &g(&r.id),
                    &g(&r.name),
                    &g(&r.expected),
                    &g(&r.found),
                    r.status.as_str(),
                    &g(&r.detail),
                ])
                .map_err(err)?;
            }
            w.flush()
        })
    }
}

/// The CSV's header.
pub const CSV_COLUMNS: [&str; 7] = [
    "kind", "id", "name", "expected", "found", "status", "detail",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: Status, name: &str) -> Row {
        Row {
            kind: RowKind::User,
            id: name.into(),
            name: name.into(),
            expected: String::new(),
            found: String::new(),
            status,
            detail: String::new(),
        }
    }

    #[test]
    fn the_sentence_names_the_worst_first_and_counts_the_rest() {
        let rows = vec![
            row(Status::OrphanChanged, "o1"),
            row(Status::Ok, "fine"),
            row(Status::Missing, "ada"),
            row(Status::Missing, "bob"),
            row(Status::Duplicate, "cy"),
        ];
        let s = worst_sentence(&rows, &JobCheck::default()).unwrap();
        assert_eq!(
            s,
            "verify failed: 2 users are missing from the target (ada, bob); also 1 user has more than one account in the target, 1 orphan (a target user no one assigns) was changed (see the table)"
        );
        assert!(worst_sentence(&[row(Status::Ok, "x")], &JobCheck::default()).is_none());
        let job = JobCheck {
            problems: vec![(
                JobProblem::Quarantined,
                "the custom job is quarantined (EncounteredQuarantineException)".into(),
            )],
            ..Default::default()
        };
        assert!(
            worst_sentence(&rows, &job)
                .unwrap()
                .starts_with("verify failed: the custom job is quarantined")
        );
    }

    #[test]
    fn names_are_capped() {
        let n: Vec<String> = (0..5).map(|i| format!("u{i}")).collect();
        assert_eq!(names_list(&n, 3), "u0, u1, u2 and 2 more");
        assert_eq!(names_list(&n[..2], 3), "u0, u1");
    }
}
