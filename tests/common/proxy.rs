//! A lying server: a proxy in front of the real server that forwards every
//! request and lets a test rewrite the answers (JSON bodies or raw bytes),
//! or answer in the server's place. A client pointed at it sees a server
//! that lies exactly as the test says, and is otherwise real.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

/// Rewrites a JSON answer in place.
type JsonRewrite = Box<dyn FnMut(&mut Value) + Send>;
/// Rewrites raw bytes in place.
type BytesRewrite = Box<dyn FnMut(&mut Vec<u8>) + Send>;
/// Answers instead of the server (given the request's JSON body), or
/// passes (`None`).
type Answer = Box<dyn FnMut(&Value) -> Option<(u16, Value)> + Send>;

enum Action {
    Json(JsonRewrite),
    Bytes(BytesRewrite),
    /// An answer, with these headers added.
    Answer(Answer, Vec<(&'static str, String)>),
}

struct Rule {
    method: Method,
    /// The request path starts with this.
    prefix: String,
    action: Action,
}

/// A running proxy.
pub struct LyingProxy {
    /// `http://127.0.0.1:PORT`: give this to clients.
    pub url: String,
    rules: Arc<Mutex<Vec<Rule>>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Upstream {
    base: String,
    http: reqwest::Client,
    rules: Arc<Mutex<Vec<Rule>>>,
}

impl LyingProxy {
    /// Starts a proxy in front of `upstream` (the real server's URL).
    pub async fn start(upstream: &str) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let rules = Arc::new(Mutex::new(Vec::new()));
        let state = Upstream {
            base: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            rules: rules.clone(),
        };
        let app = axum::Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, rules, task }
    }

    fn add(&self, method: Method, prefix: &str, action: Action) {
        self.rules.lock().unwrap().push(Rule {
            method,
            prefix: prefix.to_owned(),
            action,
        });
    }

    /// Rewrites the JSON answers to `method` requests under `prefix`.
    pub fn rewrite_json(
        &self,
        method: Method,
        prefix: &str,
        rewrite: impl FnMut(&mut Value) + Send + 'static,
    ) {
        self.add(method, prefix, Action::Json(Box::new(rewrite)));
    }

    /// Rewrites the raw answers (say, media blobs) under `prefix`.
    pub fn rewrite_bytes(
        &self,
        method: Method,
        prefix: &str,
        rewrite: impl FnMut(&mut Vec<u8>) + Send + 'static,
    ) {
        self.add(method, prefix, Action::Bytes(Box::new(rewrite)));
    }

    /// Answers requests under `prefix` itself when `answer` returns a
    /// status and body (the server never sees them); `None` forwards.
    pub fn answer(
        &self,
        method: Method,
        prefix: &str,
        answer: impl FnMut(&Value) -> Option<(u16, Value)> + Send + 'static,
    ) {
        self.answer_with_headers(method, prefix, Vec::new(), answer);
    }

    /// [`LyingProxy::answer`], with headers on the answer (a
    /// `Retry-After`, say).
    pub fn answer_with_headers(
        &self,
        method: Method,
        prefix: &str,
        headers: Vec<(&'static str, String)>,
        answer: impl FnMut(&Value) -> Option<(u16, Value)> + Send + 'static,
    ) {
        self.add(method, prefix, Action::Answer(Box::new(answer), headers));
    }

    /// Rewrites every entry of the inbox pages the client reads.
    pub fn rewrite_inbox(&self, mut rewrite: impl FnMut(&mut Value) + Send + 'static) {
        self.rewrite_json(Method::GET, "/v1/messages", move |page| {
            if let Some(entries) = page["messages"].as_array_mut() {
                for entry in entries {
                    rewrite(entry);
                }
            }
        });
    }

    /// Stops lying: every request is forwarded unchanged again.
    pub fn clear(&self) {
        self.rules.lock().unwrap().clear();
    }
}

impl Drop for LyingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    State(upstream): State<Upstream>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let matches = |rule: &Rule| rule.method == method && path.starts_with(&rule.prefix);
    let request_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    for rule in upstream
        .rules
        .lock()
        .unwrap()
        .iter_mut()
        .filter(|r| matches(r))
    {
        if let Action::Answer(answer, headers) = &mut rule.action
            && let Some((status, value)) = answer(&request_json)
        {
            let status = StatusCode::from_u16(status).unwrap();
            let mut response = (status, axum::Json(value)).into_response();
            for (name, value) in headers.iter() {
                response.headers_mut().insert(*name, value.parse().unwrap());
            }
            return response;
        }
    }
    let target = format!(
        "{}{}",
        upstream.base,
        uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut request = upstream.http.request(method.clone(), target).body(body);
    for name in ["authorization", "content-type", "content-length"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value.clone());
        }
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(err) => return (StatusCode::BAD_GATEWAY, err.to_string()).into_response(),
    };
    let status = response.status();
    let content_type = response.headers().get("content-type").cloned();
    let mut bytes = response.bytes().await.unwrap_or_default().to_vec();
    for rule in upstream
        .rules
        .lock()
        .unwrap()
        .iter_mut()
        .filter(|r| matches(r))
    {
        match &mut rule.action {
            Action::Json(rewrite) => {
                if let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) {
                    rewrite(&mut value);
                    bytes = serde_json::to_vec(&value).unwrap();
                }
            }
            Action::Bytes(rewrite) => rewrite(&mut bytes),
            Action::Answer(..) => {}
        }
    }
    let mut answer = (status, bytes).into_response();
    if let Some(content_type) = content_type {
        answer.headers_mut().insert("content-type", content_type);
    }
    answer
}
