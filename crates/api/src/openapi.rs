//! The OpenAPI 3.1 document of both surfaces, built from the same calls that register the
//! routes, so a route cannot exist without its description (ADR 0018).
//!
//! Every handler carries a `#[utoipa::path]` annotation (method, full path, parameters,
//! request body, responses). A surface registers it with [`Routes::op`] (or [`Routes::op_at`]
//! when actix needs a regex in the pattern): the route is served at the annotation's path and
//! method, and the annotation's operation joins the document. The document is served at
//! `/api/openapi.json` with Swagger UI (assets inside the binary, no CDN) at `/api/docs/`.

use std::cell::RefCell;
use std::rc::Rc;

use actix_web::{HttpResponse, Route, Scope, guard, web};
use utoipa::openapi::path::{HttpMethod, Paths};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr};

/// One registered operation, as actix matches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub method: actix_web::http::Method,
    /// The documented path (`/api/user/{id}`).
    pub path: String,
    /// The actix patterns it is served at, relative to the application root
    /// (`/api/user/{id:\d+}`, and its trailing-slash twin on the compat surface).
    pub patterns: Vec<String>,
}

#[derive(Default)]
struct Collected {
    paths: Paths,
    schemas: Vec<(String, RefOr<Schema>)>,
    registered: Vec<Registered>,
    /// Registrations whose pattern disagrees with their annotation (a programming error,
    /// reported by `tests::every_route_is_registered_where_its_description_says`).
    mistakes: Vec<String>,
}

/// Collects the operations the surfaces register. Cheap to clone (one shared collection).
#[derive(Clone, Default)]
pub struct Collector(Rc<RefCell<Collected>>);

impl Collector {
    pub fn new() -> Self {
        Self::default()
    }

    /// The operations registered so far.
    pub fn registered(&self) -> Vec<Registered> {
        self.0.borrow().registered.clone()
    }

    /// Registrations whose pattern disagrees with their annotation.
    pub fn mistakes(&self) -> Vec<String> {
        self.0.borrow().mistakes.clone()
    }

    /// The document: the collected paths and schemas on `base()`.
    pub fn document(&self) -> OpenApi {
        let collected = self.0.borrow();
        let mut doc = base();
        doc.paths = collected.paths.clone();
        let components = doc.components.get_or_insert_with(Default::default);
        for (name, schema) in &collected.schemas {
            components.schemas.insert(name.clone(), schema.clone());
        }
        doc
    }
}

/// Whether a surface also answers each path with its trailing slash toggled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrailingSlash {
    /// Exactly the documented path (the REST surface).
    Exact,
    /// The documented path and its twin with or without the final `/` (the compat surface:
    /// New API's console calls `/api/user/` and `/api/data/self/`; gin redirects either way).
    Both,
}

type Customize = Box<dyn FnOnce(actix_web::Resource) -> actix_web::Resource>;

/// Routes registered from their annotations, for a scope mounted at `prefix` or for the
/// application root (`prefix` `""`).
pub struct Routes {
    prefix: &'static str,
    slash: TrailingSlash,
    collector: Collector,
    resources: Vec<actix_web::Resource>,
}

impl Routes {
    /// Routes whose scope is mounted at `prefix` (`/api`, `/api/v1`, or `""` for the root).
    pub fn new(prefix: &'static str, slash: TrailingSlash, collector: &Collector) -> Self {
        Self {
            prefix,
            slash,
            collector: collector.clone(),
            resources: Vec::new(),
        }
    }

    /// Serves `route` at the path and method(s) of the annotation `P`.
    pub fn op<P: utoipa::Path + utoipa::__dev::SchemaReferences>(self, route: Route) -> Self {
        let path = P::path();
        self.add::<P>(path.clone(), path, route, None)
    }

    /// [`Self::op`] with `data` for this route only (a larger body limit, say).
    pub fn op_with_data<P: utoipa::Path + utoipa::__dev::SchemaReferences, D: 'static>(
        self,
        data: D,
        route: Route,
    ) -> Self {
        let path = P::path();
        self.add::<P>(
            path.clone(),
            path,
            route,
            Some(Box::new(move |r: actix_web::Resource| r.app_data(data))),
        )
    }

    /// Serves `route` at `pattern`, an actix pattern for the annotation `P`'s path with regexes
    /// in its segments (`/api/user/{id:\d+}` for `/api/user/{id}`).
    pub fn op_at<P: utoipa::Path + utoipa::__dev::SchemaReferences>(
        self,
        pattern: &str,
        route: Route,
    ) -> Self {
        self.add::<P>(P::path(), pattern.to_owned(), route, None)
    }

    fn add<P: utoipa::Path + utoipa::__dev::SchemaReferences>(
        mut self,
        path: String,
        pattern: String,
        route: Route,
        customize: Option<Customize>,
    ) -> Self {
        let collector = self.collector.clone();
        let mut collected = collector.0.borrow_mut();
        if strip_regexes(&pattern) != path {
            collected
                .mistakes
                .push(format!("{pattern} is registered for the documented {path}"));
        }
        let Some(relative) = pattern.strip_prefix(self.prefix) else {
            collected
                .mistakes
                .push(format!("{pattern} is outside its scope {}", self.prefix));
            drop(collected);
            return self;
        };
        let mut patterns = vec![relative.to_owned()];
        if self.slash == TrailingSlash::Both {
            match relative.strip_suffix('/') {
                Some(bare) if !bare.is_empty() => patterns.push(bare.to_owned()),
                Some(_) => {}
                None => patterns.push(format!("{relative}/")),
            }
        }
        let methods = P::methods();
        if methods.len() != 1 {
            collected.mistakes.push(format!(
                "{path} is annotated with {} methods",
                methods.len()
            ));
            drop(collected);
            return self;
        }
        let method = actix_method(&methods[0]);
        collected.registered.push(Registered {
            method: method.clone(),
            path: path.clone(),
            patterns: patterns
                .iter()
                .map(|p| format!("{}{p}", self.prefix))
                .collect(),
        });
        collected
            .paths
            .add_path_operation(&path, methods, P::operation());
        let mut schemas = Vec::new();
        P::schemas(&mut schemas);
        for (name, schema) in schemas {
            match collected.schemas.iter().find(|(n, _)| *n == name) {
                Some((_, known)) if *known != schema => collected
                    .mistakes
                    .push(format!("two different schemas are named {name}")),
                Some(_) => {}
                None => collected.schemas.push((name, schema)),
            }
        }
        drop(collected);
        let mut resource = web::resource(patterns)
            .guard(guard::Method(method))
            .route(route);
        if let Some(customize) = customize {
            resource = customize(resource);
        }
        self.resources.push(resource);
        self
    }

    /// `scope` with every route.
    pub fn into_scope<T>(self, scope: Scope<T>) -> Scope<T>
    where
        T: actix_web::dev::ServiceFactory<
                actix_web::dev::ServiceRequest,
                Config = (),
                Error = actix_web::Error,
                InitError = (),
            >,
    {
        self.resources.into_iter().fold(scope, Scope::service)
    }

    /// Every route, at the application root.
    pub fn register(self, cfg: &mut web::ServiceConfig) {
        for resource in self.resources {
            cfg.service(resource);
        }
    }
}

/// `/api/user/{id:\d+}` -> `/api/user/{id}`.
fn strip_regexes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut in_name = false;
    let mut in_regex = false;
    let mut depth = 0usize;
    for c in pattern.chars() {
        match c {
            '{' if !in_name && !in_regex => {
                in_name = true;
                out.push(c);
            }
            ':' if in_name => {
                in_name = false;
                in_regex = true;
            }
            '{' if in_regex => depth += 1,
            '}' if in_regex && depth > 0 => depth -= 1,
            '}' if in_name || in_regex => {
                in_name = false;
                in_regex = false;
                out.push(c);
            }
            _ if in_regex => {}
            _ => out.push(c),
        }
    }
    out
}

fn actix_method(m: &HttpMethod) -> actix_web::http::Method {
    use actix_web::http::Method;
    match m {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// The parts of the document that are not operations: title, version, security schemes.
fn base() -> OpenApi {
    use utoipa::openapi::{ComponentsBuilder, InfoBuilder, LicenseBuilder, OpenApiBuilder};
    let info = InfoBuilder::new()
        .title("Tollgate")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Accounts, quota and payments for AI API gateways. `/api/v1/*` is the REST \
             surface (real status codes, `{code, message, data, timestamp}`); the other \
             `/api/*` routes follow New API (`{success, message, data}`, HTTP 200 for most \
             refusals). See docs/api.md.",
        ))
        .license(Some(LicenseBuilder::new().name("Apache-2.0").build()))
        .build();
    let components = ComponentsBuilder::new()
        .security_scheme(
            SESSION,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "session",
                "The console's session cookie, set by `POST /api/user/login`; send \
                 `New-Api-User: <id>` with it.",
            ))),
        )
        .security_scheme(
            ACCESS_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "The compat access token from `GET /api/user/token` (with or without \
                 `Bearer `); send `New-Api-User: <id>` with it.",
            ))),
        )
        .security_scheme(
            NEW_API_USER,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "New-Api-User",
                "The id of the user the session cookie or access token belongs to.",
            ))),
        )
        .security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from `POST /api/v1/auth/login`."))
                    .build(),
            ),
        )
        .security_scheme(
            METRICS_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`metrics.bearer_token`, when configured (`GET /metrics` only).",
                    ))
                    .build(),
            ),
        )
        .build();
    OpenApiBuilder::new()
        .info(info)
        .components(Some(components))
        .build()
}

/// Security scheme names (the annotations spell them as literals).
const SESSION: &str = "session";
const ACCESS_TOKEN: &str = "access_token";
const NEW_API_USER: &str = "new_api_user";
const BEARER: &str = "bearer";
const METRICS_TOKEN: &str = "metrics_token";

/// New API's envelope: every compat reply has it, refusals included (HTTP 200 with
/// `success: false` for most of them; 401 when authentication is missing, 429 when limited).
/// `data` is absent on refusals and on some successes.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CompatEnvelope {
    pub success: bool,
    pub message: String,
    #[schema(nullable)]
    pub data: Option<serde_json::Value>,
}

/// The reply of `POST /api/user/amount`, `/pay`, `/stripe/amount` and `/stripe/pay`, which
/// New API's console reads outside the envelope: `message` is `success` or `error`; `data` the
/// price (a string with two decimals), the order, or the refusal's text.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PriceReply {
    pub message: String,
    #[schema(nullable)]
    pub data: Option<serde_json::Value>,
    /// The gateway's address (`/pay` only).
    pub url: Option<String>,
}

/// The document of every route, built once at start-up by registering the surfaces into a
/// throwaway app.
pub fn document() -> OpenApi {
    let collector = Collector::new();
    let _ =
        actix_web::App::new().configure(|cfg| crate::startup::configure_surfaces(cfg, &collector));
    collector.document()
}

/// `/api/openapi.json` and the docs UI at `/api/docs/` (`/api/docs` redirects there).
pub fn configure(cfg: &mut web::ServiceConfig, doc: OpenApi) {
    cfg.route(
        "/api/docs",
        web::get().to(|| async {
            HttpResponse::PermanentRedirect()
                .insert_header((actix_web::http::header::LOCATION, "/api/docs/"))
                .finish()
        }),
    )
    .service(utoipa_swagger_ui::SwaggerUi::new("/api/docs/{_:.*}").url("/api/openapi.json", doc));
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::App;
    use actix_web::test as actix_test;

    /// Every registration, as a collector saw it.
    fn collected() -> Collector {
        let collector = Collector::new();
        let _ = App::new().configure(|cfg| crate::startup::configure_surfaces(cfg, &collector));
        collector
    }

    /// A concrete path for `pattern`: each `{name...}` segment becomes `1`.
    fn concrete(pattern: &str) -> String {
        let mut out = String::new();
        let mut depth = 0usize;
        for c in pattern.chars() {
            match c {
                '{' => {
                    if depth == 0 {
                        out.push('1');
                    }
                    depth += 1;
                }
                '}' => depth -= 1,
                _ if depth > 0 => {}
                _ => out.push(c),
            }
        }
        out
    }

    #[test]
    fn every_route_is_registered_where_its_description_says() {
        let collector = collected();
        assert_eq!(collector.mistakes(), Vec::<String>::new());
        assert!(
            collector.registered().len() > 60,
            "{:?}",
            collector.registered()
        );
    }

    #[test]
    fn the_document_describes_exactly_the_registered_operations() {
        let collector = collected();
        let doc = serde_json::to_value(collector.document()).unwrap();
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, _) in item.as_object().unwrap() {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
        documented.sort();
        let mut registered: Vec<(String, String)> = collector
            .registered()
            .into_iter()
            .map(|r| (r.method.to_string(), r.path))
            .collect();
        registered.sort();
        registered.dedup();
        assert_eq!(documented, registered);
        assert_eq!(doc["openapi"], "3.1.0");
    }

    /// Each operation of the document is routed by actix to the handler registered for it,
    /// at every pattern it is served at: a request to it matches that resource, never the
    /// default service (the unknown-path 404).
    #[actix_web::test]
    async fn every_documented_operation_reaches_its_route() {
        let collector = collected();
        let app = actix_test::init_service(
            App::new()
                .configure(|cfg| crate::startup::configure_surfaces(cfg, &Collector::new()))
                .default_service(web::to(HttpResponse::NotFound)),
        )
        .await;
        for op in collector.registered() {
            for pattern in &op.patterns {
                let uri = concrete(pattern);
                let req = actix_test::TestRequest::default()
                    .method(op.method.clone())
                    .uri(&uri)
                    .to_request();
                let res = match actix_test::try_call_service(&app, req).await {
                    Ok(res) => res,
                    Err(e) => panic!("{} {uri}: {e}", op.method),
                };
                // A resource with several patterns reports its first one.
                let matched = res.request().match_pattern();
                assert!(
                    matched.as_ref().is_some_and(|m| op.patterns.contains(m)),
                    "{} {uri} did not reach the route of {} (matched {matched:?}, answered {})",
                    op.method,
                    op.path,
                    res.status()
                );
            }
        }
    }

    /// A route registered around [`Routes`] would be served but not described. The surfaces'
    /// sources register through `Routes::op` only.
    #[test]
    fn no_surface_registers_a_route_around_the_document() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut offenders = Vec::new();
        let mut stack = vec![std::path::PathBuf::from(dir)];
        while let Some(path) = stack.pop() {
            if path.is_dir() {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            // A module's `tests.rs` is all test code.
            if path.extension().is_none_or(|e| e != "rs")
                || path.ends_with("openapi.rs")
                || path.ends_with("tests.rs")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // Tests may build throwaway apps; only the code before `mod tests` counts.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for needle in [".route(", "web::resource(", ".to(|"] {
                if code.contains(needle) {
                    offenders.push(format!("{}: {needle}", path.display()));
                }
            }
        }
        assert_eq!(offenders, Vec::<String>::new());
    }

    /// The limits the schema states are the domain's (ADR 0019: the domain holds each rule,
    /// the schema repeats it for clients and schemathesis).
    #[test]
    fn the_schema_states_the_domains_limits() {
        use tollgate_domain::user::{Email, Password, Username};
        let doc = serde_json::to_value(collected().document()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let limit = |schema: &str, field: &str, key: &str| {
            schemas[schema]["properties"][field][key]
                .as_u64()
                .unwrap_or_else(|| panic!("{schema}.{field}.{key}: {}", schemas[schema]))
        };
        let chars = |n: usize| u64::try_from(n).unwrap();
        assert_eq!(
            limit("RegisterBody", "username", "maxLength"),
            chars(Username::MAX_CHARS)
        );
        assert_eq!(
            limit("RegisterBody", "password", "minLength"),
            chars(Password::MIN_CHARS)
        );
        assert_eq!(
            limit("RegisterBody", "password", "maxLength"),
            chars(Password::MAX_CHARS)
        );
        assert_eq!(
            limit("RegisterBody", "email", "maxLength"),
            chars(Email::MAX_LEN)
        );
        assert_eq!(
            limit("ProfileBody", "username", "maxLength"),
            chars(Username::MAX_CHARS)
        );
        assert_eq!(
            limit("PasswordBody", "new_password", "minLength"),
            chars(Password::MIN_CHARS)
        );
        assert_eq!(
            limit("PasswordBody", "new_password", "maxLength"),
            chars(Password::MAX_CHARS)
        );
        assert_eq!(
            limit("ProfileBody", "avatar", "maxLength"),
            chars(tollgate_domain::user::AvatarUrl::MAX_CHARS)
        );
        let redemption = tollgate_domain::redemption::NewRedemptionBatch::MAX_NAME_CHARS;
        assert_eq!(
            limit("RedemptionCreateBody", "name", "maxLength"),
            chars(redemption)
        );
    }

    #[test]
    fn regexes_are_dropped_from_patterns() {
        assert_eq!(strip_regexes("/api/user/{id:\\d+}"), "/api/user/{id}");
        assert_eq!(strip_regexes("/a/{x:[0-9]{1,3}}/b"), "/a/{x}/b");
        assert_eq!(strip_regexes("/api/user/{id}/2fa"), "/api/user/{id}/2fa");
    }
}
