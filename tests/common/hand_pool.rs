//! What the hand-written pools share: their JSON answers and serving them on loopback.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::Query;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

/// A request's query parameters.
pub type Params = Query<HashMap<String, String>>;

pub fn json_body(value: Value) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// `{"err_no": 0, "data": data}`
pub fn ok(data: Value) -> Response {
    json_body(json!({"err_no": 0, "data": data}))
}

/// A hand-written pool serving on loopback; stops when dropped.
pub struct Served<P> {
    /// Base URL up to `/v1`.
    pub url: String,
    pub pool: Arc<P>,
    server: tokio::task::JoinHandle<()>,
}

impl<P> Drop for Served<P> {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Serves `app` (its routes under `/v1`) on a free loopback port.
pub async fn serve<P>(pool: Arc<P>, app: Router) -> Served<P> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Served { url, pool, server }
}
