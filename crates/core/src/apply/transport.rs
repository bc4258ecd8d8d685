//! How apply reaches Graph and the SCIM target: one [`Transport`] through
//! which every request of a plan goes, live or read-only. A read-only
//! transport (`--dry-run`) answers every write itself with
//! [`Answer::not_sent`] and records it; only GETs reach the network, so a dry
//! run cannot write whatever the executor does. `$batch` bodies are run
//! through [`GraphClient::batch`] (inner retries, answers paired by id) and
//! handed back in Graph's `{"responses": […]}` shape so a plan's binds read
//! them; paged probes get every page merged into one body.

use crate::error::{Error, Result};
use crate::graph::GraphClient;
use crate::graph::batch::BatchRequest;
use crate::net::Idempotent;
use crate::plan::model::{Method, Target};
use crate::scim::ScimClient;
use crate::scim::client::Resource;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One answer, whatever its status.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    /// The `Date` header (Graph answers only).
    pub date: Option<String>,
    /// False when a read-only transport kept the request.
    pub sent: bool,
}

impl Answer {
    /// What a read-only transport answers a write with.
    pub fn not_sent() -> Answer {
        Answer {
            status: 0,
            body: Value::Null,
            date: None,
            sent: false,
        }
    }
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// A response header by name (only `Date` is kept).
    pub fn header(&self, name: &str) -> Option<&str> {
        name.eq_ignore_ascii_case("date")
            .then_some(self.date.as_deref())
            .flatten()
    }
}

/// A write a read-only transport kept instead of sending.
#[derive(Debug, Clone)]
pub struct KeptWrite {
    pub target: Target,
    pub method: Method,
    pub url: String,
    pub body: Option<Value>,
}

/// Graph and (when the plan reads it) the SCIM target, live or read-only.
pub struct Transport {
    graph: GraphClient,
    scim: Option<ScimClient>,
    read_only: bool,
    kept: Mutex<Vec<KeptWrite>>,
    graph_writes: AtomicUsize,
}

fn reqwest_method(m: Method) -> reqwest::Method {
    match m {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

impl Transport {
    /// Every request is sent.
    pub fn live(graph: GraphClient, scim: Option<ScimClient>) -> Transport {
        Transport::new(graph, scim, false)
    }

    /// Only GETs are sent; writes are kept, never sent.
    pub fn read_only(graph: GraphClient, scim: Option<ScimClient>) -> Transport {
        Transport::new(graph, scim, true)
    }

    fn new(graph: GraphClient, scim: Option<ScimClient>, read_only: bool) -> Transport {
        Transport {
            graph,
            scim,
            read_only,
            kept: Mutex::new(Vec::new()),
            graph_writes: AtomicUsize::new(0),
        }
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    pub fn graph(&self) -> &GraphClient {
        &self.graph
    }

    /// The writes a read-only transport kept, in order.
    pub fn kept_writes(&self) -> Vec<KeptWrite> {
        self.kept.lock().expect("kept writes").clone()
    }

    /// Graph writes sent so far (inner `$batch` writes count one each).
    pub fn graph_writes(&self) -> usize {
        self.graph_writes.load(Ordering::Relaxed)
    }

    /// Send one request of a plan (already filled). `idempotent` says
    /// whether a timed-out attempt may be sent again.
    pub async fn send(
        &self,
        target: Target,
        method: Method,
        url: &str,
        body: Option<&Value>,
        idempotent: Idempotent,
    ) -> Result<Answer> {
        if method != Method::Get && self.read_only {
            self.kept.lock().expect("kept writes").push(KeptWrite {
                target,
                method,
                url: url.to_string(),
                body: body.cloned(),
            });
            return Ok(Answer::not_sent());
        }
        match target {
            Target::Scim => self.scim_get(method, url).await,
            Target::Graph if url == "/$batch" => self.batch(body).await,
            Target::Graph => {
                if method != Method::Get {
                    self.graph_writes.fetch_add(1, Ordering::Relaxed);
                }
                let r = self
                    .graph
                    .send(reqwest_method(method), url, body, idempotent)
                    .await?;
                Ok(Answer {
                    status: r.status,
                    body: r.body,
                    date: r.date,
                    sent: true,
                })
            }
        }
    }

    /// A GET with every page merged into one body: Graph's `value` over
    /// `@odata.nextLink`, SCIM's `Resources` over `startIndex`.
    pub async fn get_all_pages(&self, target: Target, url: &str) -> Result<Answer> {
        match target {
            Target::Graph => {
                let items = self.graph.list(url).await?;
                Ok(Answer {
                    status: 200,
                    body: json!({ "value": items }),
                    date: None,
                    sent: true,
                })
            }
            Target::Scim => {
                let scim = self.scim()?;
                let (resource, extra) = if url.trim_start_matches('/').starts_with("Groups") {
                    (
                        Resource::Groups,
                        vec![("excludedAttributes", "members".to_string())],
                    )
                } else {
                    (Resource::Users, vec![])
                };
                let mut all = Vec::new();
                scim.for_each_page(resource, None, &extra, 100, |page, _| {
                    all.extend(page);
                    Ok(())
                })
                .await?;
                Ok(Answer {
                    status: 200,
                    body: json!({ "totalResults": all.len(), "Resources": all }),
                    date: None,
                    sent: true,
                })
            }
        }
    }

    fn scim(&self) -> Result<&ScimClient> {
        self.scim.as_ref().ok_or_else(|| {
            Error::usage("this plan reads the SCIM target: give --scim-url (and its token)")
        })
    }

    async fn scim_get(&self, method: Method, url: &str) -> Result<Answer> {
        if method != Method::Get {
            return Err(Error::internal(format!(
                "a plan may only read the SCIM target, not {} {url}",
                method.as_str()
            )));
        }
        let (status, body) = self.scim()?.get_path(url).await?;
        Ok(Answer {
            status,
            body,
            date: None,
            sent: true,
        })
    }

    /// A plan's `$batch`: inner requests by id, answers in Graph's shape.
    async fn batch(&self, body: Option<&Value>) -> Result<Answer> {
        let inner = body
            .and_then(|b| b.get("requests"))
            .and_then(Value::as_array)
            .ok_or_else(|| Error::internal("a $batch request without `requests`"))?;
        let mut requests = Vec::with_capacity(inner.len());
        for r in inner {
            let text = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let method = match text("method").as_str() {
                "GET" => reqwest::Method::GET,
                "POST" => reqwest::Method::POST,
                "PATCH" => reqwest::Method::PATCH,
                "PUT" => reqwest::Method::PUT,
                "DELETE" => reqwest::Method::DELETE,
                other => {
                    return Err(Error::internal(format!(
                        "a $batch request with method `{other}`"
                    )));
                }
            };
            if method != reqwest::Method::GET {
                self.graph_writes.fetch_add(1, Ordering::Relaxed);
            }
            requests.push(BatchRequest::new(
                text("id"),
                method,
                text("url"),
                r.get("body").cloned(),
            ));
        }
        if requests.is_empty() {
            return Ok(Answer {
                status: 200,
                body: json!({ "responses": [] }),
                date: None,
                sent: false,
            });
        }
        let answers = self.graph.batch(requests).await?;
        let responses: Vec<Value> = answers
            .into_iter()
            .map(|a| json!({ "id": a.id, "status": a.status, "body": a.body }))
            .collect();
        Ok(Answer {
            status: 200,
            body: json!({ "responses": responses }),
            date: None,
            sent: true,
        })
    }
}
