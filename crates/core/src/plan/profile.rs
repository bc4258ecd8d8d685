//! App profiles (`plans/*.toml`): how to recognise a gallery app, where its
//! SCIM endpoint lives, whether the gallery connector pushes groups, the user
//! and group mappings the custom app needs, and notes for the admin. The four
//! built-in profiles are compiled into the binary; `--profile PATH` reads a
//! user file. This module only reads profiles; the planner applies them.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// Built-in profiles: (name, TOML text).
pub const BUILTIN: &[(&str, &str)] = &[
    ("coda", include_str!("../../../../plans/coda.toml")),
    ("code42", include_str!("../../../../plans/code42.toml")),
    ("cinode", include_str!("../../../../plans/cinode.toml")),
    (
        "generic-scim",
        include_str!("../../../../plans/generic-scim.toml"),
    ),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Short name (`coda`).
    pub name: String,
    /// Human name (`Coda`), used for the default custom app name.
    pub display_name: String,
    /// Service principal display names of the gallery app (case-insensitive).
    #[serde(default)]
    pub gallery_display_names: Vec<String>,
    /// applicationTemplateId of the gallery app, when known.
    #[serde(default)]
    pub gallery_template_ids: Vec<String>,
    /// Prefixes of the gallery provisioning job's templateId, when known.
    #[serde(default)]
    pub job_template_prefixes: Vec<String>,
    /// The SCIM base URL pattern (`{id}` style placeholders), for the admin.
    #[serde(default)]
    pub scim_base_url: String,
    /// Whether the pattern comes from a published source.
    #[serde(default)]
    pub scim_base_url_verified: bool,
    /// A loose regex the gallery's BaseAddress should match.
    #[serde(default)]
    pub scim_base_url_match: Option<String>,
    #[serde(default)]
    pub gallery_pushes_groups: bool,
    #[serde(default = "yes")]
    pub custom_pushes_groups: bool,
    /// Only one SCIM token is valid at a time (a new token breaks the gallery app).
    #[serde(default)]
    pub one_token_at_a_time: bool,
    /// Whether members of Microsoft 365 groups can be provisioned.
    #[serde(default = "yes")]
    pub m365_group_members_sync: bool,
    /// userName must look like an email address.
    #[serde(default)]
    pub user_name_is_email: bool,
    #[serde(default)]
    pub user_mappings: Vec<ProfileMapping>,
    #[serde(default)]
    pub group_mappings: Vec<ProfileMapping>,
    /// Shown to the admin as an info finding.
    #[serde(default)]
    pub notes: String,
    /// What a rename in the target (the first cycle setting a matched
    /// account's userName to the current value) means for sign-in in this
    /// app; shown in the `user-renamed-in-target` finding and the report.
    #[serde(default)]
    pub rename_note: Option<String>,
}

fn yes() -> bool {
    true
}

/// One attribute the custom app needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileMapping {
    /// SCIM target attribute (`userName`, `emails[type eq "work"].value`, `urn:…:department`).
    pub target: String,
    /// Entra source attribute (`userPrincipalName`) or an expression (`Switch(…)`, `Join(…)`).
    pub source: String,
    /// Matching priority (1 = tried first); absent = not a matching attribute.
    #[serde(default, rename = "match")]
    pub matching: Option<i64>,
    /// Reuse the gallery job's source expression for this target when it has one.
    #[serde(default)]
    pub copy_from_gallery: bool,
    /// `Always` (default) or `ObjectAddOnly`.
    #[serde(default)]
    pub flow_type: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

impl Profile {
    /// Parse TOML; a bad file is one sentence naming the file and line.
    pub fn parse(text: &str, origin: &str) -> Result<Profile> {
        toml::from_str::<Profile>(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let msg = e.message().trim().trim_end_matches('.').replace('\n', " ");
            match line {
                Some(l) => Error::input(format!("{origin} line {l}: {msg}")),
                None => Error::input(format!("{origin}: {msg}")),
            }
        })
    }

    pub fn builtin(name: &str) -> Option<Profile> {
        BUILTIN
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(n, text)| {
                Profile::parse(text, &format!("plans/{n}.toml")).expect("built-in profiles parse")
            })
    }

    /// `--profile NAME|PATH`: a built-in name, else a file.
    pub fn load(spec: &str) -> Result<Profile> {
        if let Some(p) = Profile::builtin(spec) {
            return Ok(p);
        }
        let path = std::path::Path::new(spec);
        if !path.exists() && !spec.contains('/') && !spec.ends_with(".toml") {
            let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
            return Err(Error::input(format!(
                "unknown profile `{spec}`: use one of {} or a path to a TOML file",
                names.join(", ")
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io_at(path, e))?;
        Profile::parse(&text, &path.display().to_string())
    }

    /// The built-in profile recognising this gallery app, or `generic-scim`
    /// (and `false`: the caller warns).
    pub fn detect(
        display_name: &str,
        template_id: Option<&str>,
        job_template_ids: &[&str],
    ) -> (Profile, bool) {
        for (name, _) in BUILTIN {
            let p = Profile::builtin(name).expect("built-in");
            if p.recognises(display_name, template_id, job_template_ids) {
                return (p, true);
            }
        }
        (Profile::builtin("generic-scim").expect("built-in"), false)
    }

    pub fn recognises(
        &self,
        display_name: &str,
        template_id: Option<&str>,
        job_template_ids: &[&str],
    ) -> bool {
        let dn = display_name.trim().to_ascii_lowercase();
        let by_name = self.gallery_display_names.iter().any(|n| {
            let n = n.to_ascii_lowercase();
            dn == n
                || dn
                    .strip_prefix(&n)
                    .is_some_and(|rest| rest.starts_with([' ', '(', '-', '_']))
        });
        let by_template = template_id.is_some_and(|t| {
            self.gallery_template_ids
                .iter()
                .any(|g| g.eq_ignore_ascii_case(t))
        });
        let by_job = job_template_ids.iter().any(|j| {
            let j = j.to_ascii_lowercase();
            self.job_template_prefixes
                .iter()
                .any(|p| j.starts_with(&p.to_ascii_lowercase()))
        });
        by_name || by_template || by_job
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_and_detect() {
        for (n, _) in BUILTIN {
            let p = Profile::builtin(n).unwrap();
            assert_eq!(p.name, *n);
            assert!(p.user_mappings.iter().any(|m| m.target == "userName"));
        }
        assert_eq!(Profile::detect("Coda", None, &[]).0.name, "coda");
        assert_eq!(Profile::detect("Code42", None, &[]).0.name, "code42");
        assert_eq!(Profile::detect("cinode (prod)", None, &[]).0.name, "cinode");
        let (p, known) = Profile::detect("Slack", None, &[]);
        assert_eq!((p.name.as_str(), known), ("generic-scim", false));
    }

    #[test]
    fn bad_toml_is_one_sentence_with_line() {
        let e = Profile::parse(
            "name = \"x\"\ndisplay_name = \"X\"\nuser_mappings = 3\n",
            "p.toml",
        )
        .unwrap_err();
        assert!(e.message.starts_with("p.toml line 3:"), "{}", e.message);
        assert!(!e.message.contains('\n'));
        let e = Profile::parse("name = \"x\"\ndisplay_name = \"X\"\nbogus = 1\n", "p.toml")
            .unwrap_err();
        assert!(e.message.contains("line 3"), "{}", e.message);
    }
}
