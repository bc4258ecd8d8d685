//! The planner's options (`PlanOptions`, `Scope`), already validated and read
//! from files by the command layer; shared by the planner and its findings.

/// Who the custom app provisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    Assigned,
    All,
}

/// The planner's options, already validated and read from files by the caller.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    /// Default: "<gallery name> (SCIM custom)".
    pub custom_app_name: Option<String>,
    pub keep_gallery_sso: bool,
    /// Display name or object id of an assigned group.
    pub pilot_group: Option<String>,
    /// `(from, to)` group display names from `--group-map`.
    pub group_map: Vec<(String, String)>,
    pub scope: Scope,
    /// False when the profile is `generic-scim` because no profile recognised the app.
    pub profile_detected: bool,
}

/// Whether the planner may add a secondary matching attribute where it
/// prevents duplicates safely (`plan::matching`): `Off` is
/// `--no-extra-matching`. Passed beside [`PlanOptions`] (to
/// `plan::build::build_with`) so that code building `PlanOptions` field by
/// field keeps compiling; `plan::build` proposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExtraMatching {
    #[default]
    Propose,
    Off,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            custom_app_name: None,
            keep_gallery_sso: true,
            pilot_group: None,
            group_map: Vec::new(),
            scope: Scope::Assigned,
            profile_detected: true,
        }
    }
}
