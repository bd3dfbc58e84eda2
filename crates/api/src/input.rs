//! Request input at the edge, shared by both surfaces: JSON bodies ([`Json`]), query strings
//! ([`Query`]) and path parameters ([`Path`]).
//!
//! - **Control characters** (C0, DEL, C1: `char::is_control`) are refused in every string of a
//!   body or query, keys included, as invalid input, before any handler or database sees
//!   them (issue 7.9). A route whose field is multi-line text says so with a [`Controls`]
//!   policy, which then allows tab, line feed and carriage return in that field only.
//! - **Errors** are one [`InputError`] (the part, a field name when known, a fixed reason),
//!   never the deserializer's text; each surface renders it through the [`InputErrorHandler`]
//!   it registers (compat: 200 "invalid parameters"; REST: a 400 envelope) (issue 7.12).
//! - **Authentication first** (issue 7.12): actix polls all extractors of a handler together,
//!   so a bad body used to answer before a missing credential. The auth extractors close an
//!   [`AuthGate`] on the request when they start and open it when they finish; these
//!   extractors wait for it before reading anything, so an unauthenticated request is refused
//!   as such (401) whatever its body, and its body is never read.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};

use actix_web::dev::Payload;
use actix_web::error::JsonPayloadError;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Which part of the request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Body,
    Query,
}

/// Why it was refused: a fixed phrase, never the parser's own text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Not parseable as JSON / as a query string.
    Malformed,
    /// A JSON body that is not an object where the route takes one.
    NotAnObject,
    /// The body is not `application/json`.
    ContentType,
    /// Larger than the surface's limit.
    TooLarge,
    /// A required field is absent.
    Missing,
    /// A value of the wrong type or out of range.
    WrongType,
    /// A C0/C1 control character (NUL included).
    ControlCharacter,
}

impl Reason {
    fn as_str(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::NotAnObject => "must be a JSON object",
            Reason::ContentType => "content type must be application/json",
            Reason::TooLarge => "too large",
            Reason::Missing => "missing",
            Reason::WrongType => "wrong type or value",
            Reason::ControlCharacter => "control characters are not allowed",
        }
    }
}

/// A refused body or query: the part, the field when known, and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub part: Part,
    /// Only ever a plain identifier (ASCII letters, digits, `_`, at most 64): a field name
    /// the route knows, never a fragment of the client's input.
    pub field: Option<String>,
    pub reason: Reason,
}

impl InputError {
    fn new(part: Part, field: Option<&str>, reason: Reason) -> Self {
        Self {
            part,
            field: field.filter(|f| is_identifier(f)).map(str::to_owned),
            reason,
        }
    }

    /// The body errors actix's JSON reader reports (size, content type, syntax).
    pub fn from_payload(err: &JsonPayloadError) -> Self {
        let reason = match err {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                Reason::TooLarge
            }
            JsonPayloadError::ContentType => Reason::ContentType,
            _ => Reason::Malformed,
        };
        Self::new(Part::Body, None, reason)
    }
}

impl fmt::Display for InputError {
    /// `body: malformed`, `body field password: wrong type or value`, ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let part = match self.part {
            Part::Body => "body",
            Part::Query => "query",
        };
        match &self.field {
            Some(field) => write!(f, "{part} field {field}: {}", self.reason.as_str()),
            None => write!(f, "{part}: {}", self.reason.as_str()),
        }
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// How a surface answers an [`InputError`]; registered with `app_data` next to its
/// `JsonConfig`, like actix's own extractor configurations.
#[derive(Clone, Copy)]
pub struct InputErrorHandler(pub fn(&InputError, &HttpRequest) -> actix_web::Error);

/// The surface's answer to `err` (a plain 400 when no surface registered a handler).
pub fn reject(err: &InputError, req: &HttpRequest) -> actix_web::Error {
    tracing::debug!(error = %err, "rejected request input");
    match req.app_data::<InputErrorHandler>() {
        Some(handler) => (handler.0)(err, req),
        None => actix_web::error::ErrorBadRequest(err.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication before input
// ---------------------------------------------------------------------------------------------

/// Closed while the request's authentication runs (see the module documentation).
#[derive(Clone, Default)]
pub struct AuthGate(Rc<GateState>);

#[derive(Default)]
struct GateState {
    open: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
}

/// Opens its gate when dropped: when the auth extractor's future completes (either way) or
/// is dropped.
pub struct GateGuard(AuthGate);

impl AuthGate {
    /// Closes a gate on `req` for the time the returned guard lives. Auth extractors call it
    /// synchronously in `from_request`, so the gate exists before any extractor is polled.
    pub fn close(req: &HttpRequest) -> GateGuard {
        let gate = AuthGate::default();
        req.extensions_mut().insert(gate.clone());
        GateGuard(gate)
    }

    /// Waits until the request's authentication (if any) has finished.
    async fn passed(req: &HttpRequest) {
        let Some(gate) = req.extensions().get::<AuthGate>().cloned() else {
            return;
        };
        poll_fn(|cx| {
            if gate.0.open.get() {
                Poll::Ready(())
            } else {
                gate.0.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
    }
}

impl Drop for GateGuard {
    fn drop(&mut self) {
        self.0.0.open.set(true);
        for waker in self.0.0.waiters.borrow_mut().drain(..) {
            waker.wake();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Control characters
// ---------------------------------------------------------------------------------------------

/// Which fields of a body may carry line breaks and tabs.
pub trait Controls: 'static {
    /// Top-level fields whose strings may contain `\t`, `\n` and `\r` (never NUL or any other
    /// control character).
    const MULTILINE: &'static [&'static str];
}

/// The default: no control character anywhere.
pub struct NoControls;

impl Controls for NoControls {
    const MULTILINE: &'static [&'static str] = &[];
}

fn refused_char(c: char, multiline: bool) -> bool {
    c.is_control() && !(multiline && matches!(c, '\t' | '\n' | '\r'))
}

fn clean(s: &str, multiline: bool) -> bool {
    !s.chars().any(|c| refused_char(c, multiline))
}

/// Whether every string in `v` (object keys included) is free of refused characters.
fn clean_value(v: &Value, multiline: bool) -> bool {
    match v {
        Value::String(s) => clean(s, multiline),
        Value::Array(items) => items.iter().all(|i| clean_value(i, multiline)),
        Value::Object(map) => map
            .iter()
            .all(|(k, v)| clean(k, false) && clean_value(v, multiline)),
        Value::Null | Value::Bool(_) | Value::Number(_) => true,
    }
}

/// The shared control-character check of a body that a route reads itself (a raw body whose
/// absence is meaningful) rather than through [`Json`].
pub fn check_value(value: &Value) -> Result<(), InputError> {
    check_body(value, NoControls::MULTILINE)
}

fn check_body(value: &Value, multiline: &[&str]) -> Result<(), InputError> {
    let refused =
        |field: Option<&str>| InputError::new(Part::Body, field, Reason::ControlCharacter);
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if !clean(key, false) {
                    return Err(refused(None));
                }
                if !clean_value(v, multiline.contains(&key.as_str())) {
                    return Err(refused(Some(key)));
                }
            }
            Ok(())
        }
        other if clean_value(other, false) => Ok(()),
        _ => Err(refused(None)),
    }
}

// ---------------------------------------------------------------------------------------------
// Extractors
// ---------------------------------------------------------------------------------------------

type LocalFuture<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

/// A JSON body: read after authentication, refused when it holds a control character (see
/// [`Controls`]), deserialized into `T` with errors as [`InputError`]s. The surface's
/// `JsonConfig` still sets the size limit and content type.
pub struct Json<T, P: Controls = NoControls>(T, PhantomData<P>);

impl<T, P: Controls> Json<T, P> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T, P: Controls> Deref for Json<T, P> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static, P: Controls> FromRequest for Json<T, P> {
    type Error = actix_web::Error;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            AuthGate::passed(&req).await;
            let value = web::Json::<Value>::from_request(&req, &mut payload)
                .await?
                .into_inner();
            // Every body of both surfaces is an object: serde would also read a struct from
            // an array (`[null, null]`), which no client means.
            if !value.is_object() {
                let e = InputError::new(Part::Body, None, Reason::NotAnObject);
                return Err(reject(&e, &req));
            }
            check_body(&value, P::MULTILINE).map_err(|e| reject(&e, &req))?;
            let body = deserialize_body::<T>(&value).map_err(|e| reject(&e, &req))?;
            Ok(Json(body, PhantomData))
        })
    }
}

/// `T` from `value`; on failure, names the field that fails on its own (every body of ours
/// defaults its fields, so a field that fails alone is the culprit).
fn deserialize_body<T: DeserializeOwned>(value: &Value) -> Result<T, InputError> {
    let err = match T::deserialize(value) {
        Ok(body) => return Ok(body),
        Err(e) => e,
    };
    let Value::Object(map) = value else {
        return Err(InputError::new(Part::Body, None, Reason::NotAnObject));
    };
    if let Some(field) = missing_field(&err.to_string()) {
        return Err(InputError::new(Part::Body, Some(field), Reason::Missing));
    }
    let culprit = map.iter().find_map(|(k, v)| {
        let alone = Value::Object([(k.clone(), v.clone())].into_iter().collect());
        match T::deserialize(&alone) {
            Err(e) if missing_field(&e.to_string()).is_none() => Some(k.as_str()),
            _ => None,
        }
    });
    Err(InputError::new(Part::Body, culprit, Reason::WrongType))
}

/// The field of serde's "missing field `name`" (only its name is kept, and only when it is a
/// plain identifier).
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    let name = &rest[..rest.find('`')?];
    is_identifier(name).then_some(name)
}

/// A query string: read after authentication, refused when a key or value holds a control
/// character, deserialized into `T` with errors as [`InputError`]s.
pub struct Query<T>(T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            AuthGate::passed(&req).await;
            parse_query::<T>(req.query_string()).map_err(|e| reject(&e, &req))
        })
    }
}

fn parse_query<T: DeserializeOwned>(query: &str) -> Result<Query<T>, InputError> {
    let pairs = |segment: &str| web::Query::<Vec<(String, String)>>::from_query(segment);
    let all = pairs(query).map_err(|_| InputError::new(Part::Query, None, Reason::Malformed))?;
    for (key, value) in all.iter() {
        if !clean(key, false) {
            return Err(InputError::new(Part::Query, None, Reason::ControlCharacter));
        }
        if !clean(value, false) {
            return Err(InputError::new(
                Part::Query,
                Some(key),
                Reason::ControlCharacter,
            ));
        }
    }
    match web::Query::<T>::from_query(query) {
        Ok(q) => Ok(Query(q.into_inner())),
        Err(_) => {
            // The parameter that fails on its own, if one does.
            let culprit = query.split('&').find_map(|segment| {
                let key = pairs(segment).ok()?.first()?.0.clone();
                web::Query::<T>::from_query(segment).is_err().then_some(key)
            });
            Err(InputError::new(
                Part::Query,
                culprit.as_deref(),
                Reason::WrongType,
            ))
        }
    }
}

/// A path parameter, extracted after authentication; errors are the surface's `PathConfig`
/// answer (404).
pub struct Path<T>(T);

impl<T> Path<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Path<T> {
    type Error = actix_web::Error;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            AuthGate::passed(&req).await;
            let path = web::Path::<T>::from_request(&req, &mut Payload::None).await?;
            Ok(Path(path.into_inner()))
        })
    }
}

#[cfg(test)]
mod tests;
