//! The request log (`--request-log PATH`): one JSON line per request the twin
//! answers — Graph, token endpoints and SCIM alike — with method, path, query,
//! status, time, duration and whether it is a write (`"write": true`; a dry
//! run must leave none). Requests inside a `$batch` get their own lines.
//! A dropped connection (fault `reset`) is logged with status 0. Never bodies or headers; query values are kept
//! only for OData/SCIM query options (`$filter`, `$top`, `filter`,
//! `startIndex`…), every other value is written as `(redacted)`, so a token
//! or code sent in a query string cannot reach the file.

use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// Query names whose values are safe to log.
const SAFE_QUERY: &[&str] = &[
    "filter",
    "select",
    "top",
    "skiptoken",
    "count",
    "orderby",
    "expand",
    "search",
    "skip",
    "startindex",
    "sortby",
    "sortorder",
    "attributes",
    "excludedattributes",
    "api-version",
];

/// An append-only JSON-lines file.
#[derive(Debug)]
pub struct RequestLog {
    file: Mutex<std::fs::File>,
}

impl RequestLog {
    /// Open for appending; created with mode 0600 (filters name people).
    pub fn open(path: &Path) -> crate::error::Result<RequestLog> {
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts
            .open(path)
            .map_err(|e| crate::error::Error::io_at(path, e))?;
        Ok(RequestLog {
            file: Mutex::new(file),
        })
    }

    /// Write one line. `via` marks requests that arrived inside a `$batch`.
    pub fn record(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        status: u16,
        ms: u128,
        via: Option<&str>,
    ) {
        let mut line = json!({
            "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "method": method,
            "path": path,
            "query": sanitize_query(query),
            "status": status,
            "ms": ms,
            "write": is_write(method, path),
        });
        if let Some(v) = via {
            line["via"] = json!(v);
        }
        let mut text = line.to_string();
        text.push('\n');
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = f.write_all(text.as_bytes());
    }
}

/// Whether a request changes state: any method but GET/HEAD/OPTIONS, except
/// the token endpoints, the `$batch` envelope (its inner requests are logged
/// on their own lines, with `"via": "$batch"`) and SCIM `POST …/.search`.
pub fn is_write(method: &str, path: &str) -> bool {
    let read_method = matches!(method, "GET" | "HEAD" | "OPTIONS");
    let not_state = path.ends_with("/oauth2/v2.0/token")
        || path.ends_with("/oauth2/v2.0/devicecode")
        || path == "/v1.0/$batch"
        || path.ends_with("/.search");
    !read_method && !not_state
}

/// The query string with unsafe values replaced by `(redacted)`; None when empty.
pub fn sanitize_query(query: Option<&str>) -> Option<String> {
    let q = query.filter(|q| !q.is_empty())?;
    let parts: Vec<String> = url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| {
            let name = k.trim_start_matches('$').to_ascii_lowercase();
            if SAFE_QUERY.contains(&name.as_str()) {
                format!("{k}={v}")
            } else {
                format!("{k}=(redacted)")
            }
        })
        .collect();
    Some(parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_are_state_changes_only() {
        assert!(is_write(
            "POST",
            "/v1.0/servicePrincipals/x/synchronization/jobs"
        ));
        assert!(is_write("PATCH", "/scim/v2/Users/1"));
        assert!(!is_write("GET", "/v1.0/users"));
        assert!(!is_write("POST", "/v1.0/$batch"));
        assert!(!is_write("POST", "/t/oauth2/v2.0/token"));
        assert!(!is_write("POST", "/scim/v2/Users/.search"));
    }

    #[test]
    fn keeps_query_options_and_redacts_the_rest() {
        let q = sanitize_query(Some(
            "$filter=displayName%20eq%20%27Coda%27&$top=5&code=abc&client_secret=s3cr3t",
        ));
        assert_eq!(
            q.as_deref(),
            Some("$filter=displayName eq 'Coda'&$top=5&code=(redacted)&client_secret=(redacted)")
        );
        assert_eq!(sanitize_query(Some("")), None);
    }
}
