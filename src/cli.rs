//! The command line: clap structs that only parse. `crate::cmd` turns them into
//! validated options and calls the library; nothing else in the crate names
//! this module (`tests/architecture.rs` checks that).
//!
//! Nothing here talks to the network, reads files or the environment (clap's
//! `env = …` fallbacks aside).

use crate::output::OutputMode;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Credentials (Azure SDK names): AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET
(or AZURE_CLIENT_CERTIFICATE_PATH: a PEM with certificate and RSA key, mode 0600),
or a ready token in SCIMSHIFT_GRAPH_TOKEN; --device-code or --az-cli for a person.
The SCIM token comes from SCIM_TOKEN, --scim-token-file (mode 0600) or a hidden prompt.

Exit codes: 0 ok / nothing to do, 1 error, 2 changes pending (plan, import --dry-run, apply --dry-run),
3 stale plan (apply), 64 bad usage, 130 interrupted (apply).

Start with `scimshift demo` to see the whole migration on a simulated tenant.";

#[derive(Debug, Parser)]
#[command(
    name = "scimshift",
    version,
    about = "Move an Entra ID app's SCIM provisioning from its gallery app to a custom app without duplicating, deactivating or losing anyone",
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command understands.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Output for people (text) or scripts (json)
    #[arg(long, global = true, value_enum, default_value_t = OutputMode::Text)]
    pub output: OutputMode,
    /// Never colour the output (NO_COLOR does the same)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// More logging on stderr (-v info, -vv debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Answer yes to every confirmation (for automation)
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
}

/// How to reach and authenticate to Microsoft Graph.
#[derive(Debug, Clone, Args, Default)]
pub struct GraphArgs {
    /// National cloud: picks the authority and Graph root
    #[arg(long, value_enum, default_value_t = crate::graph::cloud::Cloud::Global)]
    pub cloud: crate::graph::cloud::Cloud,
    /// Override the Graph root, e.g. http://127.0.0.1:PORT/v1.0 for the twin
    #[arg(long, env = "SCIMSHIFT_GRAPH_URL", hide_env_values = true)]
    pub graph_url: Option<String>,
    /// Override the token authority, e.g. http://127.0.0.1:PORT for the twin
    #[arg(long, env = "SCIMSHIFT_AUTHORITY_URL", hide_env_values = true)]
    pub authority_url: Option<String>,
    /// Sign in interactively with a device code (prints a code to enter in a browser)
    #[arg(long, conflicts_with = "az_cli")]
    pub device_code: bool,
    /// Reuse the token of an `az login` session
    #[arg(long)]
    pub az_cli: bool,
}

/// How to reach a SCIM target. The token is never a flag value.
#[derive(Debug, Clone, Args, Default)]
pub struct ScimArgs {
    /// SCIM base URL of the target app (https, or http to loopback)
    #[arg(long)]
    pub scim_url: Option<String>,
    /// File holding the SCIM bearer token (mode 0600); else SCIM_TOKEN, else a prompt
    #[arg(long)]
    pub scim_token_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Tell the migration story on a built-in simulated tenant (no credentials needed)
    #[command(after_help = DEMO_HELP)]
    Demo(DemoArgs),
    /// Run the simulated tenant (Graph + SCIM target) on loopback
    #[command(subcommand)]
    Twin(TwinCommand),
    /// Capture what the gallery app provisions and what the target holds, or compare two captures
    #[command(after_help = SNAPSHOT_HELP)]
    Snapshot(SnapshotArgs),
    /// Plan the migration from a snapshot: ordered steps, exact requests, and findings
    #[command(after_help = PLAN_HELP)]
    Plan(PlanArgs),
    /// Re-render a saved plan
    Show(ShowArgs),
    /// Execute a plan step by step: live diffs, confirmations, a crash-safe journal, resume, cutover
    #[command(after_help = APPLY_HELP)]
    Apply(ApplyArgs),
    /// Apply a plan to a twin rebuilt from its snapshot (no network) and check every prediction against what the engine did
    #[command(after_help = REHEARSE_HELP)]
    Rehearse(RehearseArgs),
    /// Undo what apply did, in reverse order: pause the custom job, resume the gallery job, remove assignments, delete the custom app
    #[command(after_help = ROLLBACK_HELP)]
    Rollback(RollbackArgs),
    /// Where a migration stands: steps done (journal), both jobs live, the gap, the last verify
    #[command(after_help = STATUS_HELP)]
    Status(StatusArgs),
    /// Import users from CSV into a SCIM target or Entra, or export them to CSV
    #[command(subcommand)]
    Users(UsersCommand),
    /// After apply: check that everyone is in the target once and active, pushed groups have their members, orphans are untouched and the custom job is steady
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Check credentials, permissions, clock, the gallery app and the SCIM target before a change window (writes nothing)
    #[command(after_help = DOCTOR_HELP)]
    Doctor(DoctorArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    #[command(after_help = COMPLETIONS_HELP)]
    Completions(CompletionsArgs),
    /// Print the man page (roff) for scimshift and every subcommand
    #[command(after_help = MAN_HELP)]
    Man(ManArgs),
}

const REHEARSE_HELP: &str = "\
Examples:
  scimshift rehearse plan.json --snapshot snapshot.json                       # the agreement table; exit 1 on any disagreement
  scimshift rehearse plan.json --snapshot snapshot.json --report rehearsal.md --csv disagreements.csv
  scimshift rehearse plan.json --snapshot snapshot.json --mapping default     # the wrong turn: the duplicates Entra's default mapping makes
  scimshift rehearse plan.json --snapshot snapshot.json --faults 429:0.05,503:0.02,latency:10ms
rehearse needs neither the tenant nor the target: it rebuilds both from the snapshot on loopback,
runs the plan through the same code as `scimshift apply` over HTTP, lets the custom job run its
first cycle, runs verify, and compares each user's and group's prediction with the outcome.
A real tenant's snapshot rehearses too: its https BaseAddress is served by the twin's own store,
so nothing leaves loopback.";

const APPLY_HELP: &str = "\
Examples:
  scimshift apply plan.json --snapshot snapshot.json --dry-run   # every step's live diff and requests; sends no write
  scimshift apply plan.json --snapshot snapshot.json             # step by step: y / n / a (all) / q (quit)
  scimshift apply plan.json --snapshot snapshot.json --yes       # automation: no questions
  scimshift apply plan.json --snapshot snapshot.json --from pause-gallery-job
Before the first write, apply captures the gallery app and the target again and refuses (exit 3)
when the planner would now decide differently. Each write is journaled in PLAN.journal.jsonl
(0600) before it is sent and after it answered; a re-run resumes from live state and never
creates anything twice. Ctrl-C once: finish the request in flight, journal, stop (exit 130);
twice: stop at once. The SCIM token (SCIM_TOKEN, --scim-token-file or a prompt) is read only
to check the target and to write the custom job's secrets; it is never written anywhere.
Exit codes: 0 done, 1 error, 2 changes pending (--dry-run), 3 stale plan, 130 interrupted.";
const ROLLBACK_HELP: &str = "\
Examples:
  scimshift rollback plan.json --dry-run     # what would be undone, and what would not; sends no write
  scimshift rollback plan.json               # step by step, y / n / a / q
Undoes, in reverse order, what the journal says apply did: pauses the custom job (waiting for its
running cycle), starts the gallery job again (it resumes where it stopped), removes the
assignments apply added (only with the custom job paused), deletes the custom app (soft-deleted,
restorable for 30 days). The target is left alone: pushed groups are listed with the SCIM request
that would remove each. Journaled and resumable like apply.
Exit codes: 0 done, 1 error, 2 changes pending (--dry-run), 130 interrupted.";
const STATUS_HELP: &str = "\
Examples:
  scimshift status plan.json                 # the journal, and both jobs read live
  scimshift status plan.json --output json
Reads the journal beside the plan (PLAN.journal.jsonl); with Graph credentials it also reads
the gallery and custom jobs (schedule, status, last cycle, quarantine). Writes nothing.";
const DOCTOR_HELP: &str = "\
Examples:
  scimshift doctor --app Coda --scim-url https://coda.io/scim/v2/…    # before the change window
  scimshift doctor --for snapshot                                     # a read-only token
  scimshift doctor --app Coda --output json                           # one JSON document
Each check prints ✓ or ✗ with one sentence; exit 1 when any check fails.
Permissions are read from the token's roles (app-only) or scp (delegated) claims.";
const VERIFY_HELP: &str = "\
Examples:
  export AZURE_TENANT_ID=… AZURE_CLIENT_ID=… AZURE_CLIENT_SECRET=…   SCIM_TOKEN=…
  scimshift verify plan.json --snapshot coda.snapshot.json --csv verify.csv
  scimshift verify plan.json --snapshot coda.snapshot.json --output json
Reads only. Exit 0 when verify passes, 1 with one sentence naming the worst failure.
The SCIM URL defaults to the snapshot's target. Needs what snapshot needs, plus AuditLog.Read.All
for the provisioning logs (without it, escrows are counted from the job's last cycle only).";

/// `scimshift verify PLAN.json`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The plan that was applied (PLAN.json)
    pub plan: PathBuf,
    /// The snapshot the plan was made from: orphans, adopted and pushed groups come from it
    #[arg(long)]
    pub snapshot: Option<PathBuf>,
    /// Write one row per user and group (kind, id, name, expected, found, status, detail) here (mode 0600)
    #[arg(long)]
    pub csv: Option<PathBuf>,
    #[command(flatten)]
    pub graph: GraphArgs,
    #[command(flatten)]
    pub scim: ScimArgs,
}

const COMPLETIONS_HELP: &str = "\
Examples:
  scimshift completions bash > ~/.local/share/bash-completion/completions/scimshift
  scimshift completions zsh > \"${fpath[1]}/_scimshift\"
  scimshift completions fish > ~/.config/fish/completions/scimshift.fish
  scimshift completions powershell >> $PROFILE";
const MAN_HELP: &str = "\
Examples:
  scimshift man > scimshift.1 && man ./scimshift.1
  scimshift man --dir /tmp/man    # scimshift.1 plus scimshift-plan.1, … one page per subcommand";

/// `scimshift doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The gallery app to look for: display name, appId or service principal object id
    #[arg(long)]
    pub app: Option<String>,
    /// Which commands the token must be able to run
    #[arg(long = "for", value_enum, default_value_t = crate::permissions::Purpose::Apply)]
    pub purpose: crate::permissions::Purpose,
    #[command(flatten)]
    pub graph: GraphArgs,
    #[command(flatten)]
    pub scim: ScimArgs,
}

/// `scimshift completions SHELL`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `scimshift man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command into this directory instead of printing the top page
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Examples shown under each command's --help.
const DEMO_HELP: &str = "\
Example:
  scimshift demo                    # four chapters: tenant, snapshot, plan, next
  scimshift demo --output json      # the same run, summarised for scripts";
const TWIN_HELP: &str = "\
Examples:
  scimshift twin serve --seed demo --request-log requests.jsonl
  scimshift twin serve --seed synthetic:users=100000,groups=5000 --quota-scale 0
  SCIM_TOKEN=… scimshift twin serve --scim-target http://127.0.0.1:8080/v2
The ready line holds the twin's made-up client secret and SCIM token: test values, not yours.";
const SNAPSHOT_HELP: &str = "\
Examples:
  export AZURE_TENANT_ID=… AZURE_CLIENT_ID=… AZURE_CLIENT_SECRET=…   SCIM_TOKEN=…
  scimshift snapshot --app Coda --scim-url https://coda.io/scim/v2/… --out coda.snapshot.json
  scimshift snapshot diff before.json after.json      # exit 2 when they differ
Needs Application.Read.All and Synchronization.Read.All (app-only or delegated).
The file is created with mode 0600: it lists people. It never holds a secret.";
const PLAN_HELP: &str = "\
Examples:
  scimshift plan --snapshot coda.snapshot.json --profile coda --out plan.json --report plan.md
  scimshift plan --snapshot coda.snapshot.json --pilot-group \"IT Pilot\" --output json
Planning sends no request. Exit 0 when nothing is to be done, 2 when the plan has changes.";
const IMPORT_HELP: &str = "\
Examples:
  SCIM_TOKEN=… scimshift users import people.csv --scim-url https://… --dry-run
  SCIM_TOKEN=… scimshift users import people.csv --scim-url https://… --yes --results out.csv
The whole file is validated first (FILE:LINE:COLUMN messages); nothing is sent if a row is invalid.";
const EXPORT_HELP: &str = "\
Examples:
  SCIM_TOKEN=… scimshift users export --scim-url https://… --format jumpcloud --out users.csv
  scimshift users export --snapshot coda.snapshot.json --format scim --out users.csv";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Pause between chapters and wait for Enter
    #[arg(long)]
    pub interactive: bool,
}

#[derive(Debug, Subcommand)]
pub enum TwinCommand {
    /// Serve the twin until SIGINT/SIGTERM; prints one line of JSON with its URLs and credentials when ready
    #[command(after_help = TWIN_HELP)]
    Serve(TwinServeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TwinServeArgs {
    /// Address to listen on (port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// `demo`, `synthetic:users=N,groups=M`, or a seed JSON file
    #[arg(long, default_value = "demo")]
    pub seed: String,
    /// Provision into this SCIM server instead of the embedded store
    #[arg(long)]
    pub scim_target: Option<String>,
    /// Faults: random ("429:0.05,503:0.02,reset:0.01,latency:20ms") or scripted ("at:POST:/instantiate:timeout=2s:times=1")
    #[arg(long)]
    pub faults: Option<String>,
    /// How long new apps, service principals, jobs and assignments flap 404 (and their sync calls 403/409) after creation, e.g. 5s
    #[arg(long, default_value = "5s")]
    pub replication_delay: String,
    /// How long the provisioning engine and on-demand do not see a new assignment, e.g. 30s
    #[arg(long, default_value = "10s")]
    pub assignment_lag: String,
    /// No replication or assignment lag (fast scripted tests)
    #[arg(long)]
    pub no_lag: bool,
    /// Seed for the lag's draws and the $batch answer order
    #[arg(long, default_value_t = 1)]
    pub lag_seed: u64,
    /// Tenant time per real time: Entra's 40-minute interval, 0.01-0.08 min per object and quarantine back-offs are divided by it (1200 = a 2 s interval); 0 = cycles as fast as the target answers
    #[arg(long, default_value_t = 1200.0)]
    pub time_scale: f64,
    /// The embedded store keeps one token at a time (issuing one revokes the last): on, off, or auto (on for the demo seed, a Coda tenant)
    #[arg(long, default_value = "auto")]
    pub one_scim_token: String,
    /// Append one JSON line per request (method, path, query, status) to this file
    #[arg(long)]
    pub request_log: Option<PathBuf>,
    /// Scale Graph's throttling quotas (e.g. 10 = ten times Graph's limits); 0 turns throttling off
    #[arg(long, default_value_t = 1.0)]
    pub quota_scale: f64,
}

#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub diff: Option<SnapshotSub>,
    /// The gallery app: display name, appId or service principal object id
    #[arg(long)]
    pub app: Option<String>,
    /// Where to write the snapshot (created with mode 0600)
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also read this Graph user property on every user (repeatable), for a
    /// custom mapping that reads what the gallery's does not; `plan` names
    /// the property when one is missing. The gallery's mappings and scoping
    /// filters are read without it.
    #[arg(long = "user-property", value_name = "PROPERTY")]
    pub user_properties: Vec<String>,
    #[command(flatten)]
    pub graph: GraphArgs,
    #[command(flatten)]
    pub scim: ScimArgs,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotSub {
    /// Show what changed between two snapshots
    Diff {
        /// The older snapshot
        a: PathBuf,
        /// The newer snapshot
        b: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Snapshot file written by `scimshift snapshot`
    #[arg(long)]
    pub snapshot: PathBuf,
    /// App profile: coda, code42, cinode, generic-scim, or a TOML file
    #[arg(long)]
    pub profile: Option<String>,
    /// Display name of the custom app to create
    #[arg(long)]
    pub custom_app_name: Option<String>,
    /// Keep SAML SSO on the gallery app (only its provisioning stops)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub keep_gallery_sso: bool,
    /// Group provisioned on demand right after cutover
    #[arg(long)]
    pub pilot_group: Option<String>,
    /// CSV renaming or merging groups on the way (columns: from,to)
    #[arg(long)]
    pub group_map: Option<PathBuf>,
    /// Who the custom app provisions: its assigned users and groups, or all users
    #[arg(long, value_enum, default_value_t = ScopeArg::Assigned)]
    pub scope: ScopeArg,
    /// Keep the gallery's matching exactly: no secondary matching attribute, even where one would prevent duplicates
    #[arg(long)]
    pub no_extra_matching: bool,
    /// Write the plan as JSON here
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write a Markdown change request here
    #[arg(long)]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScopeArg {
    Assigned,
    All,
}

/// `scimshift rehearse`.
#[derive(Debug, Args)]
pub struct RehearseArgs {
    /// A plan JSON file written by `scimshift plan --out`
    pub plan: PathBuf,
    /// The snapshot the plan was made from: the twin is rebuilt from it
    #[arg(long)]
    pub snapshot: PathBuf,
    /// The profile the plan was made with, when it was a file (`--profile PATH` at plan time)
    #[arg(long)]
    pub profile: Option<String>,
    /// Write the users and groups whose outcome disagrees with the prediction to this CSV (mode 0600)
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write the rehearsal as Markdown (tables, duplicates, disagreements, verify) to this file (mode 0600)
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// `plan`: the plan as given; `default`: the wrong turn, Entra's default user mapping with nothing carried over from the gallery
    #[arg(long, value_enum, default_value_t = RehearseMapping::Plan)]
    pub mapping: RehearseMapping,
    /// Twin faults during the rehearsal, e.g. `429:0.05,503:0.02,latency:10ms` (the end state must be the same)
    #[arg(long)]
    pub faults: Option<String>,
}

/// `rehearse --mapping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RehearseMapping {
    Plan,
    Default,
}

/// How apply and rollback wait for live state.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// How long to follow a job's cycle (the custom job's first, or the one a pause lets finish) before stopping (resumable)
    #[arg(long, default_value = "2h")]
    pub wait: String,
    /// Poll live state this often instead of the plan's intervals (e.g. 200ms against the twin)
    #[arg(long)]
    pub poll: Option<String>,
    /// How long to look for a new object (or the result of an interrupted write) before sending again
    #[arg(long, default_value = "2m")]
    pub in_doubt_wait: String,
}

/// `scimshift apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan JSON file written by `scimshift plan --out`
    pub plan: PathBuf,
    /// The snapshot the plan was made from (for the stale-plan check)
    #[arg(long)]
    pub snapshot: Option<PathBuf>,
    /// The profile the plan was made with, when it was a file (`--profile PATH` at plan time)
    #[arg(long)]
    pub profile: Option<String>,
    /// Show every step's live diff and exact requests; send no write (exit 2 when changes are pending)
    #[arg(long)]
    pub dry_run: bool,
    /// Run only this step (by id, e.g. `assignments`); the stale-plan check still runs
    #[arg(long, conflicts_with = "from")]
    pub only: Option<String>,
    /// Start at this step (by id); earlier steps are checked live, not skipped blindly
    #[arg(long)]
    pub from: Option<String>,
    /// Carry out a plan that has error findings (predicted duplicates, users
    /// the first cycle cannot provision, attributes the snapshot did not
    /// read); without it apply refuses such a plan before reading anything
    #[arg(long)]
    pub accept_errors: bool,
    #[command(flatten)]
    pub waits: WaitArgs,
    #[command(flatten)]
    pub graph: GraphArgs,
    #[command(flatten)]
    pub scim: ScimArgs,
}

/// `scimshift rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The plan apply ran; its journal is read from beside it
    pub plan: PathBuf,
    /// Show what would be undone and the exact requests; send no write
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub waits: WaitArgs,
    #[command(flatten)]
    pub graph: GraphArgs,
    #[command(flatten)]
    pub scim: ScimArgs,
}

/// `scimshift status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// A plan JSON file; its journal is read from beside it
    pub plan: PathBuf,
    /// Only the journal: do not read the jobs over Graph
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub graph: GraphArgs,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A plan JSON file written by `scimshift plan --out`
    pub plan: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Validate a CSV, plan creates/updates/deactivations, confirm, apply, and write a results CSV
    #[command(after_help = IMPORT_HELP)]
    Import(Box<UsersImportArgs>),
    /// Write all users (with group memberships) of a SCIM target or a snapshot to CSV
    #[command(after_help = EXPORT_HELP)]
    Export(UsersExportArgs),
}

#[derive(Debug, Args)]
pub struct UsersImportArgs {
    /// The CSV file to import
    pub file: PathBuf,
    /// Input layout; auto detects it from the headers
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// Import into Entra (Microsoft Graph) instead of a SCIM target
    #[arg(long, value_parser = ["entra"])]
    pub to: Option<String>,
    #[command(flatten)]
    pub scim: ScimArgs,
    #[command(flatten)]
    pub graph: GraphArgs,
    /// Show the plan and stop: no write is sent
    #[arg(long)]
    pub dry_run: bool,
    /// Write one row per input row (action, status, target id, error) here
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Deactivate target users that are not in the file
    #[arg(long)]
    pub deactivate_missing: bool,
    /// Import the valid rows even when some rows are invalid (they are still reported)
    #[arg(long)]
    pub skip_invalid: bool,
    /// With --to entra: also assign the imported users to this app (name, appId or object id)
    #[arg(long)]
    pub assign_app: Option<String>,
    /// Concurrent writes
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Create users one POST at a time even when the target supports /Bulk
    #[arg(long)]
    pub no_bulk: bool,
    /// With --to entra: put every new UPN on this verified domain
    #[arg(long, value_name = "DOMAIN")]
    pub upn_domain: Option<String>,
    /// With --upn-domain: the UPN's local part from the user name or the email
    #[arg(long, value_parser = ["username", "email"], default_value = "username")]
    pub upn_from: String,
    /// With --to entra: new users' first password: the file's column, generated (see --password-out), or none (a random one no one is told)
    #[arg(long, value_parser = ["from-file", "generate", "none"])]
    pub initial_password: Option<String>,
    /// With --initial-password generate: write userPrincipalName,password here (mode 0600)
    #[arg(long, value_name = "FILE")]
    pub password_out: Option<PathBuf>,
    /// With --to entra: new users need not change their password at first sign-in
    #[arg(long)]
    pub no_force_change_password: bool,
}

#[derive(Debug, Args)]
pub struct UsersExportArgs {
    #[command(flatten)]
    pub scim: ScimArgs,
    /// Export from a snapshot file instead of a live target
    #[arg(long, conflicts_with = "scim_url")]
    pub snapshot: Option<PathBuf>,
    /// Output layout: jumpcloud, entra, scim
    #[arg(long)]
    pub format: String,
    /// Where to write the CSV (created with mode 0600)
    #[arg(long)]
    pub out: PathBuf,
}
