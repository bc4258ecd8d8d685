//! Certificate sign-in: read `AZURE_CLIENT_CERTIFICATE_PATH` (a PEM file with
//! the certificate and its RSA private key, as the Azure SDKs take it) and
//! sign the client assertion (RFC 7523 JWT, RS256, `x5t#S256` header) that
//! replaces a client secret at the token endpoint.
//!
//! Supported: unencrypted PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`)
//! keys of 2048–8192 bits. Refused with a sentence that says how to convert:
//! PKCS#12 (`.pfx`), password-protected keys, EC keys. The key never leaves
//! this module; `Debug` shows only the thumbprint.

use crate::error::{Error, Result};
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::Path;

/// A certificate and its private key, ready to sign assertions.
pub struct ClientCertificate {
    key: RsaKeyPair,
    /// base64url SHA-256 of the certificate (DER): the `x5t#S256` header.
    pub thumbprint_s256: String,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("x5t#S256", &self.thumbprint_s256)
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Read a PEM file holding the certificate and the private key. Refuses a
    /// file other users can read (it holds a private key).
    pub fn load(path: &Path) -> Result<ClientCertificate> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(path).map_err(|e| Error::io_at(path, e))?;
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(Error::input(format!(
                    "{} holds a private key but other users can read it; run `chmod 600 {}` first",
                    path.display(),
                    path.display()
                )));
            }
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io_at(path, e))?;
        Self::from_pem(&bytes, &path.display().to_string())
    }

    /// Parse the PEM text (`what` names it in errors).
    pub fn from_pem(bytes: &[u8], what: &str) -> Result<ClientCertificate> {
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Err(Error::input(format!(
                "{what} is not a PEM file (a PKCS#12 .pfx?): PKCS#12 is not supported yet; convert it with `openssl pkcs12 -in cert.pfx -out cert.pem -nodes`"
            )));
        };
        let blocks = pem_blocks(text);
        if blocks.is_empty() {
            return Err(Error::input(format!(
                "{what} holds no PEM block: give a PEM file with the certificate and its private key (PKCS#12 is not supported yet; convert with `openssl pkcs12 -in cert.pfx -out cert.pem -nodes`)"
            )));
        }
        let mut cert = None;
        let mut key = None;
        for (label, der) in blocks {
            match label.as_str() {
                "CERTIFICATE" if cert.is_none() => cert = Some(der),
                "PRIVATE KEY" => {
                    key = Some(
                        RsaKeyPair::from_pkcs8(&der).map_err(|e| bad_key(what, &e.to_string()))?,
                    )
                }
                "RSA PRIVATE KEY" => {
                    key = Some(
                        RsaKeyPair::from_der(&der).map_err(|e| bad_key(what, &e.to_string()))?,
                    )
                }
                "ENCRYPTED PRIVATE KEY" => {
                    return Err(Error::input(format!(
                        "{what} holds a password-protected key: that is not supported yet; export it without a password (`openssl pkey -in {what} -out key.pem`) and keep the file mode 0600"
                    )));
                }
                "EC PRIVATE KEY" => {
                    return Err(Error::input(format!(
                        "{what} holds an EC key: Entra app certificates must be RSA"
                    )));
                }
                _ => {}
            }
        }
        let cert = cert.ok_or_else(|| Error::input(format!("{what} holds no CERTIFICATE block: put the certificate and its private key in one PEM file")))?;
        let key = key.ok_or_else(|| Error::input(format!("{what} holds no private key: put the certificate and its private key in one PEM file")))?;
        Ok(ClientCertificate {
            key,
            thumbprint_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(&cert)),
        })
    }

    /// The DER RSAPublicKey (for tests that verify a signature).
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }

    /// A signed client assertion for `client_id` at `token_url`, valid 10 minutes.
    pub fn assertion(&self, client_id: &str, token_url: &str) -> Result<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let header = json!({ "alg": "RS256", "typ": "JWT", "x5t#S256": self.thumbprint_s256 });
        let claims = json!({
            "aud": token_url,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + 600,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| {
                Error::internal("could not sign the client assertion with the certificate's key")
            })?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

fn bad_key(what: &str, why: &str) -> Error {
    Error::input(format!(
        "{what}: the private key could not be read ({why}); it must be an unencrypted RSA key of 2048 to 8192 bits"
    ))
}

/// `(label, DER)` of each PEM block.
fn pem_blocks(text: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut label: Option<String> = None;
    let mut body = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(l) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            label = Some(l.to_string());
            body.clear();
        } else if let Some(l) = line
            .strip_prefix("-----END ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            if label.as_deref() == Some(l)
                && let Ok(der) = STANDARD.decode(body.as_bytes())
            {
                out.push((l.to_string(), der));
            }
            label = None;
        } else if label.is_some() && !line.contains(':') {
            body.push_str(line);
        }
    }
    out
}
