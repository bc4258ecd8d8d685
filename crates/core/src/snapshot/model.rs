//! The snapshot file format, `scimshift.snapshot/v2`: what the gallery app
//! provisions (service principal, jobs with their schemas verbatim, non-secret
//! settings, assignments, assigned groups and the users in scope) and what the
//! target holds (SCIM users and groups). Plan, rehearsal, verify and rollback
//! all read this one file.
//!
//! Lists are sorted (by id, or by key) so the same tenant gives the same bytes;
//! `digest` is the SHA-256 of the canonical JSON with `digest` set to "".
//! No secret ever enters a snapshot: credential-valued keys are dropped.
//!
//! v2 records which Graph user properties were read (`source.userProperties`):
//! the fixed list plus every property the jobs' user mappings and scoping
//! filters read, so the planner can tell an attribute that is empty from one
//! that was never read. A v1 file is refused with a sentence to capture again.

pub use super::attributes::{AttrValue, Attributes};
use super::compact;
pub use super::member::MemberRef;
pub use super::via::Via;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const FORMAT: &str = "scimshift.snapshot/v2";

/// The format before `source.userProperties`; refused with [`V1_REFUSAL`].
pub const FORMAT_V1: &str = "scimshift.snapshot/v1";

/// Secret keys whose values are credentials: never stored, only noted as present.
pub const CREDENTIAL_KEYS: &[&str] = &[
    "SecretToken",
    "Password",
    "ClientSecret",
    "AppKey",
    "ConnectionString",
    "Oauth2ClientSecret",
    "Oauth2RefreshToken",
    "Oauth2AccessToken",
    "Oauth2AuthorizationCode",
    "Token",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Snapshot {
    /// Always [`FORMAT`].
    pub format: String,
    /// `sha256:<hex>` over the canonical JSON with this field empty.
    pub digest: String,
    /// When it was taken (RFC 3339). Not part of what a plan depends on, but recorded.
    pub taken_at: String,
    pub source: Source,
    pub app: AppSnapshot,
    /// Groups assigned to the app, sorted by id.
    pub groups: Vec<GroupSnapshot>,
    /// Users the app can reach: assigned directly, direct members of assigned
    /// groups, and (flagged) members of nested groups; with SyncAll, every user.
    /// Sorted by id.
    pub users: Vec<UserSnapshot>,
    /// The target app's SCIM contents, when a SCIM URL was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetSnapshot>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    /// Graph root the snapshot was read from.
    pub graph_url: String,
    /// `global`, `usgov`, `usgov-dod`, `china` (or `custom` for an override).
    pub cloud: String,
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The Graph user properties read for every user (the `$select`), in the
    /// order requested: what the users' `attributes` can hold.
    pub user_properties: Vec<String>,
}

impl Source {
    /// Whether the Graph property `p` was read (names are case-insensitive).
    pub fn read_user_property(&self, p: &str) -> bool {
        self.user_properties
            .iter()
            .any(|x| x.eq_ignore_ascii_case(p))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppSnapshot {
    /// The gallery service principal as Graph returned it (selected properties).
    #[serde(deserialize_with = "compact::value")]
    pub service_principal: Value,
    /// Convenience copies of the service principal's key fields.
    pub service_principal_id: String,
    pub app_id: String,
    pub display_name: String,
    #[serde(default)]
    pub application_template_id: Option<String>,
    /// appRoles of the service principal, sorted by id.
    pub app_roles: Vec<Value>,
    /// Every provisioning job, sorted by id.
    pub jobs: Vec<JobSnapshot>,
    /// Non-credential secrets (`BaseAddress`, `SyncAll`, `SyncNotificationSettings`, …), sorted by key.
    pub settings: Vec<KeyValue>,
    /// Credential keys that are set but whose values are never stored (e.g. `SecretToken`).
    pub credential_keys_present: Vec<String>,
    /// synchronization templates of the service principal (ids and factory tags).
    #[serde(default)]
    pub templates: Vec<Value>,
    /// Every appRoleAssignedTo entry, sorted by id.
    pub assignments: Vec<Assignment>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobSnapshot {
    pub id: String,
    pub template_id: String,
    /// The synchronizationJob as returned (schedule, status, settings), verbatim.
    #[serde(deserialize_with = "compact::value")]
    pub job: Value,
    /// The full synchronizationSchema, verbatim: the restore artefact.
    #[serde(deserialize_with = "compact::value")]
    pub schema: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Assignment {
    pub id: String,
    pub app_role_id: String,
    pub principal_id: String,
    /// `User`, `Group`, `ServicePrincipal`.
    pub principal_type: String,
    #[serde(default)]
    pub principal_display_name: Option<String>,
}

/// What kind of group: decides whether Entra can provision its members.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
pub enum GroupKind {
    Security,
    /// groupTypes contains "Unified".
    Microsoft365,
    MailEnabledSecurity,
    Distribution,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupSnapshot {
    pub id: String,
    pub display_name: String,
    pub kind: GroupKind,
    /// Direct members (users and groups), sorted by id.
    #[serde(deserialize_with = "compact::list")]
    pub members: Vec<MemberRef>,
    /// Count of transitive user members (what an admin might expect to be provisioned).
    pub transitive_user_count: usize,
}

/// An Entra user the app can reach, with the attributes mappings read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserSnapshot {
    pub id: String,
    /// The Graph user object (selected properties), verbatim, so mapping
    /// expressions can be evaluated against it.
    pub attributes: Attributes,
    /// How the user reaches the app: `direct`, `group:<id>`, `nested:<id>` (not
    /// provisioned: nested), `all` (SyncAll). Sorted.
    #[serde(deserialize_with = "compact::list")]
    pub via: Vec<Via>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TargetSnapshot {
    pub base_url: String,
    /// /ServiceProviderConfig as returned.
    #[serde(deserialize_with = "compact::value")]
    pub service_provider_config: Value,
    /// Every SCIM User resource, sorted by id.
    #[serde(deserialize_with = "compact::values")]
    pub users: Vec<Value>,
    /// Every SCIM Group resource with members, sorted by id.
    #[serde(deserialize_with = "compact::values")]
    pub groups: Vec<Value>,
}

fn not_a_snapshot(path: &std::path::Path, format: &str) -> String {
    if format == FORMAT_V1 {
        return format!(
            "{} is a {FORMAT_V1} snapshot, which does not record the user attributes it read, so predictions from it could treat an attribute never read as empty; capture it again with `scimshift snapshot` (this version writes {FORMAT})",
            path.display()
        );
    }
    format!(
        "{} is not a scimshift snapshot (format `{}`, expected `{FORMAT}`)",
        path.display(),
        crate::text::excerpt(format, crate::text::FORMAT_SHOWN)
    )
}

/// Why a file that did not parse as a [`Snapshot`] is not one.
fn why_not(path: &std::path::Path, bytes: &[u8], err: serde_json::Error) -> String {
    match serde_json::from_slice::<Value>(bytes) {
        Err(e) => format!(
            "{} is not JSON: {}",
            path.display(),
            crate::text::server_text(&e.to_string())
        ),
        Ok(v) => {
            let format = v.get("format").and_then(Value::as_str).unwrap_or("");
            if format != FORMAT {
                not_a_snapshot(path, format)
            } else if err.to_string().starts_with("unknown field") {
                let field = err.to_string();
                let field = field.split('`').nth(1).unwrap_or("?").to_string();
                format!(
                    "{} has a field scimshift does not write (`{}` at line {}): a snapshot is sealed, so an edited one is refused; take a new snapshot",
                    path.display(),
                    crate::text::server_text(&field),
                    err.line()
                )
            } else {
                format!(
                    "{} is not a valid snapshot: {}",
                    path.display(),
                    crate::text::server_text(&err.to_string())
                )
            }
        }
    }
}

/// `sha256:<hex>` over the compact JSON of `value`, streamed into the hasher
/// (no copy of a large document). Snapshots and plans use it for their digests.
pub fn sha256_json<T: Serialize + ?Sized>(value: &T) -> String {
    struct HashWriter(Sha256);
    impl std::io::Write for HashWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // Buffered: the serialiser writes token by token.
    let mut w = std::io::BufWriter::with_capacity(1 << 16, HashWriter(Sha256::new()));
    serde_json::to_writer(&mut w, value).expect("serialises");
    let w = w
        .into_inner()
        .unwrap_or_else(|_| unreachable!("hashing cannot fail"));
    format!("sha256:{}", hex::encode(w.0.finalize()))
}

impl Snapshot {
    /// Compute the digest over the canonical JSON (this struct with `digest` = "").
    pub fn compute_digest(&self) -> String {
        // Hash a borrowed view with `digest` empty, streamed into the hasher:
        // the same bytes as serialising a copy, without copying a snapshot
        // that can hold 100,000 users.
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct View<'a> {
            format: &'a str,
            digest: &'a str,
            taken_at: &'a str,
            source: &'a Source,
            app: &'a AppSnapshot,
            groups: &'a [GroupSnapshot],
            users: &'a [UserSnapshot],
            #[serde(skip_serializing_if = "Option::is_none")]
            target: Option<&'a TargetSnapshot>,
        }
        let view = View {
            format: &self.format,
            digest: "",
            taken_at: &self.taken_at,
            source: &self.source,
            app: &self.app,
            groups: &self.groups,
            users: &self.users,
            target: self.target.as_ref(),
        };
        sha256_json(&view)
    }

    /// Set `digest` from the content.
    pub fn seal(&mut self) {
        self.digest = self.compute_digest();
    }

    /// Read and check a snapshot file: format, digest.
    ///
    /// The file is parsed straight into the `Snapshot` through a 1 MB buffer,
    /// with no `Value` tree of the whole file and without the file's bytes in
    /// memory: users' attributes in their compact form ([`Attributes`]), the
    /// target's resources with exact-size maps (see [`compact`]); the digest
    /// is hashed as it is serialised. Holding the whole file first parses
    /// faster but doubles the peak (815 MB more at 1,000,000 users); a file
    /// that does not parse is read again, whole, to say why.
    pub fn load(path: &std::path::Path) -> crate::error::Result<Snapshot> {
        use crate::error::Error;
        let file = std::fs::File::open(path).map_err(|e| Error::io_at(path, e))?;
        let reader = std::io::BufReader::with_capacity(1 << 20, file);
        match super::via::shared(|| serde_json::from_reader::<_, Snapshot>(reader)) {
            Ok(snap) => snap.checked(path),
            Err(e) if e.is_io() => Err(Error::io_at(path, e.into())),
            Err(e) => {
                let bytes = std::fs::read(path).map_err(|e| Error::io_at(path, e))?;
                Err(Error::input(why_not(path, &bytes, e)))
            }
        }
    }

    /// [`Snapshot::load`] on a file's bytes; `path` names it in the sentence.
    pub fn from_bytes(bytes: Vec<u8>, path: &std::path::Path) -> crate::error::Result<Snapshot> {
        match super::via::shared(|| serde_json::from_slice::<Snapshot>(&bytes)) {
            Ok(snap) => {
                drop(bytes);
                snap.checked(path)
            }
            // Not a snapshot: say why (not JSON, another format, or a v1
            // snapshot that does not parse).
            Err(e) => Err(crate::error::Error::input(why_not(path, &bytes, e))),
        }
    }

    /// A parsed file that is a snapshot of this format whose digest matches.
    fn checked(self, path: &std::path::Path) -> crate::error::Result<Snapshot> {
        use crate::error::Error;
        if self.format != FORMAT {
            return Err(Error::input(not_a_snapshot(path, &self.format)));
        }
        if self.compute_digest() != self.digest {
            return Err(Error::input(format!(
                "{} has been edited since it was taken (its digest does not match its content); take a new snapshot",
                path.display()
            )));
        }
        Ok(self)
    }

    /// Write the file form (the bytes of [`Snapshot::to_bytes`]) to `w`, without
    /// building it in memory first.
    pub fn write_to(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        let mut buf = std::io::BufWriter::with_capacity(1 << 16, w);
        serde_json::to_writer_pretty(&mut buf, self).map_err(std::io::Error::other)?;
        std::io::Write::write_all(&mut buf, b"\n")?;
        std::io::Write::flush(&mut buf)
    }

    /// Seal and write the file form to `f` at once: the digest is computed
    /// on a second thread while the file is written with a placeholder of the
    /// digest's length in its place, which is then written over. The bytes
    /// are those of [`Snapshot::seal`] then [`Snapshot::write_to`]; for a
    /// 1,000,000-user snapshot the digest's 4 s no longer come before the
    /// write's 5 s.
    pub fn seal_and_write(&mut self, f: &mut std::fs::File) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom, Write};
        /// Keeps the first bytes written, where the placeholder is.
        struct Head<'a> {
            inner: &'a mut std::fs::File,
            head: Vec<u8>,
        }
        impl Write for Head<'_> {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let n = self.inner.write(buf)?;
                let room = HEAD.saturating_sub(self.head.len()).min(n);
                self.head.extend_from_slice(&buf[..room]);
                Ok(n)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                self.inner.flush()
            }
        }
        const HEAD: usize = 512;
        const PLACEHOLDER: &str =
            "sha256:0000000000000000000000000000000000000000000000000000000000000000";
        let start = f.stream_position()?;
        self.digest = PLACEHOLDER.to_string();
        let this = &*self;
        let (digest, head) = std::thread::scope(|s| {
            let digest = s.spawn(|| this.compute_digest());
            let mut head = Head {
                inner: &mut *f,
                head: Vec::with_capacity(HEAD),
            };
            let written = this.write_to(&mut head);
            let digest = digest
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            written.map(|()| (digest, head.head))
        })?;
        let at = head
            .windows(PLACEHOLDER.len())
            .position(|w| w == PLACEHOLDER.as_bytes())
            .ok_or_else(|| {
                std::io::Error::other("the snapshot's digest is not where it was written")
            })?;
        f.seek(SeekFrom::Start(start + at as u64))?;
        f.write_all(digest.as_bytes())?;
        f.seek(SeekFrom::End(0))?;
        self.digest = digest;
        Ok(())
    }

    /// Serialise deterministically (pretty, sorted as built).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("snapshot serialises");
        v.push(b'\n');
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Snapshot {
        Snapshot {
            format: FORMAT.into(),
            digest: "sha256:old".into(),
            taken_at: "2026-11-23T21:00:00Z".into(),
            source: Source {
                graph_url: "https://graph.microsoft.com/v1.0".into(),
                cloud: "global".into(),
                tenant_id: None,
                user_properties: vec!["id".into(), "mail".into()],
            },
            app: AppSnapshot {
                service_principal: json!({"id": "sp"}),
                service_principal_id: "sp".into(),
                app_id: "app".into(),
                display_name: "Coda".into(),
                application_template_id: None,
                app_roles: vec![],
                jobs: vec![],
                settings: vec![KeyValue {
                    key: "SyncAll".into(),
                    value: "false".into(),
                }],
                credential_keys_present: vec!["SecretToken".into()],
                templates: vec![],
                assignments: vec![],
            },
            groups: vec![],
            users: vec![UserSnapshot {
                id: "u1".into(),
                attributes: json!({"id": "u1", "mail": "a@b"}).into(),
                via: vec!["direct".into()],
            }],
            target: None,
        }
    }

    #[test]
    fn seal_and_write_writes_the_bytes_of_seal_then_write() {
        let mut sealed = sample();
        sealed.seal();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut s = sample();
        let mut f = std::fs::File::create(&path).unwrap();
        s.seal_and_write(&mut f).unwrap();
        drop(f);
        assert_eq!(s.digest, sealed.digest);
        assert_eq!(std::fs::read(&path).unwrap(), sealed.to_bytes());
        Snapshot::load(&path).expect("the file loads: its digest is in place");
    }

    #[test]
    fn an_unknown_field_is_refused_not_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let mut s = sample();
        s.seal();
        let mut v: Value = serde_json::from_slice(&s.to_bytes()).unwrap();
        std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
        Snapshot::load(&path).expect("the sealed file loads");
        // Our own records refuse a key they do not have, at every level.
        for pointer in ["", "/app", "/users/0"] {
            let mut edited = v.clone();
            edited
                .pointer_mut(pointer)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .insert("extraKey".into(), json!(1));
            std::fs::write(&path, serde_json::to_vec(&edited).unwrap()).unwrap();
            let e = Snapshot::load(&path).unwrap_err().message;
            assert!(
                e.contains("has a field scimshift does not write (`extraKey`"),
                "{pointer}: {e}"
            );
        }
        // Objects copied verbatim from Graph are hashed, not shaped: a new key
        // there is an edit the digest catches.
        v["users"][0]["attributes"]["extraKey"] = json!(1);
        std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
        let e = Snapshot::load(&path).unwrap_err().message;
        assert!(e.contains("digest does not match"), "{e}");
    }

    #[test]
    fn digest_is_the_hash_of_the_copy_with_an_empty_digest() {
        for target in [
            None,
            Some(TargetSnapshot {
                base_url: "x".into(),
                service_provider_config: json!({}),
                users: vec![],
                groups: vec![],
            }),
        ] {
            let mut s = sample();
            s.target = target;
            let mut copy = s.clone();
            copy.digest = String::new();
            let expected = format!(
                "sha256:{}",
                hex::encode(Sha256::digest(serde_json::to_vec(&copy).unwrap()))
            );
            assert_eq!(s.compute_digest(), expected);
            let mut out = Vec::new();
            s.write_to(&mut out).unwrap();
            assert_eq!(out, s.to_bytes());
        }
    }
}
