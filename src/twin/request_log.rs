//! The request log (`--request-log PATH`): one JSON line per request the twin
//! answers — Graph, token endpoints and SCIM alike — with method, path, query,
//! status, time and duration. Never bodies or headers; query values are kept
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
    pub fn open(path: &Path) -> crate::error::Result<RequestLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
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
