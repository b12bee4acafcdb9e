//! Directory sync: the SCIM 2.0 service provider at `/scim/v2` (RFC 7644).
//!
//! Requests carry the bearer token of an API client with the scope `scim` (an
//! administrator's session works too); answers are `application/scim+json`, errors in
//! SCIM's shape (`schemas`, `status` as a string, `scimType`, `detail`). A route parses,
//! calls one `keyfleet_core::directory` use case, renders: the rules (who may, what is
//! audited, conflicts, lifecycle) live there. `/Bulk` is not offered: Entra ID and Okta do
//! not use it, and each operation here is already one transaction.
//!
//! These routes are not in the OpenAPI document: their contract is RFC 7644 and the
//! discovery documents (`/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`) the service
//! serves about itself.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use keyfleet_core::CoreError;
use keyfleet_core::directory::{self, DirectoryError, ListRequest, Resource};
use keyfleet_scim::resource::{project, with_meta};
use keyfleet_scim::schema::{self, error_document, list_response};
use keyfleet_scim::{ScimError, ScimType};
use serde_json::Value;

use super::ctx;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::{AppState, rfc3339};

/// The media type of every answer.
pub const SCIM_JSON: &str = "application/scim+json";

/// Routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/scim/v2/ServiceProviderConfig", get(service_provider_config))
        .route("/scim/v2/ResourceTypes", get(resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(resource_type))
        .route("/scim/v2/Schemas", get(schemas))
        .route("/scim/v2/Schemas/{id}", get(schema_by_id))
        .route("/scim/v2/Users", get(list_users).post(create_user))
        .route("/scim/v2/.search", axum::routing::post(search_everything))
        .route("/scim/v2/Users/.search", axum::routing::post(search_users))
        .route("/scim/v2/Groups/.search", axum::routing::post(search_groups))
        .route(
            "/scim/v2/Users/{id}",
            get(get_user).put(replace_user).patch(patch_user).delete(delete_user),
        )
        .route("/scim/v2/Groups", get(list_groups).post(create_group))
        .route(
            "/scim/v2/Groups/{id}",
            get(get_group)
                .put(replace_group)
                .patch(patch_group)
                .delete(delete_group),
        )
        .route("/scim/v2", axum::routing::any(unknown))
        .route("/scim/v2/{*rest}", axum::routing::any(unknown))
}

/// A search across every resource type (RFC 7644 §3.4.3): not offered; 501 as the RFC says.
async fn search_everything() -> ScimFailure {
    ScimFailure(ScimError {
        status: 501,
        scim_type: None,
        detail: "search across resource types is not supported; search /Users or /Groups".into(),
    })
}

/// Anything else under `/scim/v2`: 404 in SCIM's shape.
async fn unknown() -> ScimFailure {
    ScimFailure(ScimError {
        status: 404,
        scim_type: None,
        detail: "no such endpoint".into(),
    })
}

/// A SCIM error answer.
pub struct ScimFailure(ScimError);

impl From<ScimError> for ScimFailure {
    fn from(e: ScimError) -> Self {
        Self(e)
    }
}

impl From<ApiError> for ScimFailure {
    fn from(e: ApiError) -> Self {
        let status = e.status();
        e.log_internal();
        let detail = e.detail().unwrap_or("the request failed").to_owned();
        Self(ScimError {
            status: status.as_u16(),
            scim_type: None,
            detail,
        })
    }
}

impl From<DirectoryError> for ScimFailure {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::Scim(e) => Self(e),
            DirectoryError::Core(CoreError::Invalid { message, .. }) => Self(ScimError::value(message)),
            DirectoryError::Core(core) => ApiError::from(core).into(),
        }
    }
}

impl IntoResponse for ScimFailure {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut res = (status, error_document(&self.0).to_string()).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
        res
    }
}

type ScimResult = Result<Response, ScimFailure>;

/// The caller, with a refusal in SCIM's shape.
pub struct ScimCaller(Caller);

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = ScimFailure;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(Caller::from_request_parts(parts, state).await?))
    }
}

fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    res
}

/// The base URL of the service (`meta.location`s), from the first configured origin.
fn base(state: &AppState) -> String {
    let origin = state.settings.origins.first().map_or("", String::as_str);
    format!("{origin}/scim/v2")
}

fn body(bytes: &Bytes) -> Result<Value, ScimFailure> {
    serde_json::from_slice(bytes).map_err(|_| ScimFailure(ScimError::syntax("the request body is not valid JSON")))
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Makes the relative `$ref`s of a document (`../Users/ID`) absolute under `base`.
fn absolute_refs(v: &mut Value, base: &str) {
    match v {
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                match item {
                    Value::String(s) if k == "$ref" && s.starts_with("../") => *s = format!("{base}/{}", &s[3..]),
                    other => absolute_refs(other, base),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| absolute_refs(i, base)),
        _ => {}
    }
}

/// A resource's document with `meta`, projected as the query asks.
fn document(state: &AppState, r: Resource, kind: &str, q: &HashMap<String, String>) -> Value {
    let base = base(state);
    let location = format!("{base}/{kind}s/{}", r.id);
    let mut doc = r.doc;
    absolute_refs(&mut doc, &base);
    let doc = with_meta(
        doc,
        kind,
        &rfc3339(r.created),
        &rfc3339(r.last_modified),
        &location,
        &r.version,
    );
    project(doc, param(q, "attributes"), param(q, "excludedAttributes"))
}

/// A resource answer with its `ETag` (and `Location` on creation).
fn answer(state: &AppState, status: StatusCode, r: Resource, kind: &str, q: &HashMap<String, String>) -> Response {
    let etag = r.version.clone();
    let doc = document(state, r, kind, q);
    let location = doc["meta"]["location"].as_str().map(str::to_owned);
    let mut res = scim_json(status, &doc);
    if let Ok(v) = HeaderValue::from_str(&etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Some(v) = location.and_then(|l| HeaderValue::from_str(&l).ok())
    {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// A query parameter, its name compared ignoring case (RFC 7644 names them in camelCase;
/// some clients do not).
fn param<'q>(q: &'q HashMap<String, String>, name: &str) -> Option<&'q str> {
    q.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn int_param(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ScimFailure> {
    param(q, name)
        .map(|v| {
            v.trim().parse::<i64>().map_err(|_| {
                ScimFailure(ScimError::bad(
                    ScimType::InvalidValue,
                    format!("{name} must be an integer"),
                ))
            })
        })
        .transpose()
}

fn list_request(q: &HashMap<String, String>) -> Result<ListRequest, ScimFailure> {
    let descending = match param(q, "sortOrder").map(str::to_ascii_lowercase).as_deref() {
        None | Some("ascending") => false,
        Some("descending") => true,
        Some(_) => return Err(ScimFailure(ScimError::value("sortOrder is ascending or descending"))),
    };
    let excluded = param(q, "excludedAttributes").unwrap_or_default().to_ascii_lowercase();
    let attributes = param(q, "attributes").map(str::to_ascii_lowercase);
    let with_members = !excluded.split(',').any(|a| a.trim() == "members")
        && attributes
            .as_deref()
            .is_none_or(|a| a.split(',').any(|x| x.trim().starts_with("members")));
    Ok(ListRequest {
        filter: param(q, "filter").map(str::to_owned),
        sort_by: param(q, "sortBy").map(str::to_owned),
        descending,
        start_index: int_param(q, "startIndex")?,
        count: int_param(q, "count")?,
        with_members,
    })
}

async fn service_provider_config(State(state): State<AppState>) -> Response {
    scim_json(StatusCode::OK, &schema::service_provider_config(&base(&state)))
}

fn by_id(docs: Vec<Value>, id: &str) -> ScimResult {
    docs.into_iter()
        .find(|d| d["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
        .map(|d| scim_json(StatusCode::OK, &d))
        .ok_or_else(|| {
            ScimFailure(ScimError {
                status: 404,
                scim_type: None,
                detail: "no such resource".into(),
            })
        })
}

async fn resource_types(State(state): State<AppState>) -> Response {
    let types = schema::resource_types(&base(&state));
    scim_json(StatusCode::OK, &list_response(types.len() as u64, 1, types))
}

async fn resource_type(State(state): State<AppState>, Path(id): Path<String>) -> ScimResult {
    by_id(schema::resource_types(&base(&state)), &id)
}

async fn schemas(State(state): State<AppState>) -> Response {
    let docs = schema::schemas(&base(&state));
    scim_json(StatusCode::OK, &list_response(docs.len() as u64, 1, docs))
}

async fn schema_by_id(State(state): State<AppState>, Path(id): Path<String>) -> ScimResult {
    by_id(schema::schemas(&base(&state)), &id)
}

fn listed(
    state: &AppState,
    kind: &str,
    req: &ListRequest,
    out: directory::Listed,
    q: &HashMap<String, String>,
) -> Response {
    let docs = out.resources.into_iter().map(|r| document(state, r, kind, q)).collect();
    scim_json(StatusCode::OK, &list_response(out.total, req.start(), docs))
}

/// A `SearchRequest` body (RFC 7644 §3.4.3) as the query parameters a `GET` would carry.
fn search_query(bytes: &Bytes) -> Result<HashMap<String, String>, ScimFailure> {
    let doc = body(bytes)?;
    let obj = doc
        .as_object()
        .ok_or_else(|| ScimFailure(ScimError::syntax("a search request is a JSON object")))?;
    let mut q = HashMap::new();
    for (k, v) in obj {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","),
            _ => continue,
        };
        if k != "schemas" {
            q.insert(k.clone(), text);
        }
    }
    Ok(q)
}

async fn search_users(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimCaller(caller): ScimCaller,
    bytes: Bytes,
) -> ScimResult {
    let q = search_query(&bytes)?;
    let (c, p) = ctx(&state, &caller, &headers);
    let req = list_request(&q)?;
    let out = directory::users::list(&c, &p, &req).await?;
    Ok(listed(&state, "User", &req, out, &q))
}

async fn search_groups(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimCaller(caller): ScimCaller,
    bytes: Bytes,
) -> ScimResult {
    let q = search_query(&bytes)?;
    let (c, p) = ctx(&state, &caller, &headers);
    let req = list_request(&q)?;
    let out = directory::groups::list(&c, &p, &req).await?;
    Ok(listed(&state, "Group", &req, out, &q))
}

async fn list_users(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimCaller(caller): ScimCaller,
    Query(q): Query<HashMap<String, String>>,
) -> ScimResult {
    let (c, p) = ctx(&state, &caller, &headers);
    let req = list_request(&q)?;
    let out = directory::users::list(&c, &p, &req).await?;
    Ok(listed(&state, "User", &req, out, &q))
}

async fn create_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimCaller(caller): ScimCaller,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> ScimResult {
    let (c, p) = ctx(&state, &caller, &headers);
    let r = directory::users::create(&c, &p, &body(&bytes)?).await?;
    Ok(answer(&state, StatusCode::CREATED, r, "User", &q))
}

async fn get_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimCaller(caller): ScimCaller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ScimResult {
    let (c, p) = ctx(&state, &caller, &headers);
    let r = directory::users::get(&c, &p, &id).await?;
    Ok(answer(&state, StatusCode::OK, r, "User", &q))
}

async fn replace_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimCaller(caller): ScimCaller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> ScimResult {
    let (c, p) = ctx(&state, &caller, &headers);
    let r = directory::users::replace(&c, &p, &id, &body(&bytes)?, if_match(&headers).as_deref()).await?;
    Ok(answer(&state, StatusCode::OK, r, "User", &q))
}

async fn patch_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimCaller(caller): ScimCaller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> ScimResult {
    let (c, p) = ctx(&state, &caller, &headers);
    let r = directory::users::patch(&c, &p, &id, &body(&bytes)?, if_match(&headers).as_deref()).await?;
    Ok(answer(&state, StatusCode::OK, r, "User", &q))
}

async fn delete_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimCaller(caller): ScimCaller,
    Path(id): Path<String>,
) -> ScimResult {
    let (c, p) = ctx(&state, &caller, &headers);
    directory::users::delete(&c, &p, &id, if_match(&headers).as_deref()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_groups(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimCaller(caller): ScimCaller,
    Query(q): Query<HashMap<String, String>>,
) -> ScimResult {
    let (c, p) = ctx(&state, &caller, &headers);
    let req = list_request(&q)?;
    let out = directory::groups::list(&c, &p, &req).await?;
    Ok(listed(&state, "Group", &req, out, &q))
}

async fn create_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimCaller(caller): ScimCaller,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> ScimResult {
    let (c, p) = ctx(&state, &caller, &headers);
    let r = directory::groups::create(&c, &p, &body(&bytes)?).await?;
    Ok(answer(&state, StatusCode::CREATED, r, "Group", &q))
}

async fn get_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimCaller(caller): ScimCaller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ScimResult {
    let (c, p) = ctx(&state, &caller, &headers);
    let with_members = list_request(&q)?.with_members;
    let r = directory::groups::get(&c, &p, &id, with_members).await?;
    Ok(answer(&state, StatusCode::OK, r, "Group", &q))
}

async fn replace_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimCaller(caller): ScimCaller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> ScimResult {
    let (c, p) = ctx(&state, &caller, &headers);
    let r = directory::groups::replace(&c, &p, &id, &body(&bytes)?, if_match(&headers).as_deref()).await?;
    Ok(answer(&state, StatusCode::OK, r, "Group", &q))
}

async fn patch_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimCaller(caller): ScimCaller,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    bytes: Bytes,
) -> ScimResult {
    let (c, p) = ctx(&state, &caller, &headers);
    let r = directory::groups::patch(&c, &p, &id, &body(&bytes)?, if_match(&headers).as_deref()).await?;
    Ok(answer(&state, StatusCode::OK, r, "Group", &q))
}

async fn delete_group(
    State(state): State<AppState>,
    headers: HeaderMap,
    ScimCaller(caller): ScimCaller,
    Path(id): Path<String>,
) -> ScimResult {
    let (c, p) = ctx(&state, &caller, &headers);
    directory::groups::delete(&c, &p, &id, if_match(&headers).as_deref()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
