//! A client of the in-process app: actix-web's test service, a cookie jar, and the flows a
//! test needs on the way to what it checks (register, sign in, consent, get a code).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{HeaderMap, LOCATION, SET_COOKIE};
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::web;
use futures::future::LocalBoxFuture;
use serde_json::{json, Value};

use super::{ADMIN_PASSWORD, REDIRECT_URI, RESOURCE};
use crate::app::{self, AppState};
use crate::secrets;

/// A response, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: web::Bytes,
}

impl Answer {
    async fn read<B: MessageBody>(response: ServiceResponse<B>) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let body = test::read_body(response).await;
        Answer {
            status,
            headers,
            body,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> &str {
        self.header(LOCATION.as_str())
            .unwrap_or_else(|| panic!("no Location in a {} answer", self.status))
    }

    /// The `(status, error)` of an OAuth error answer, after checking its RFC 6749 §5.2 shape.
    pub fn oauth_error(&self) -> (u16, String) {
        assert_eq!(self.header("cache-control"), Some("no-store"), "{self:?}");
        let body = self.json();
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{body}"
        );
        let error = body["error"].as_str().unwrap_or_default().to_owned();
        (self.status.as_u16(), error)
    }
}

type Call = Rc<dyn Fn(TestRequest) -> LocalBoxFuture<'static, Answer>>;

/// The app as one browser or client sees it: requests carry the cookies earlier answers set.
pub struct TestClient {
    call: Call,
    cookies: RefCell<BTreeMap<String, String>>,
}

/// The query pairs of a URL (or of a path with a query).
pub fn query_of(location: &str) -> BTreeMap<String, String> {
    let query = location.split_once('?').map(|(_, q)| q).unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// A fresh PKCE pair: (verifier, S256 challenge).
pub fn pkce() -> (String, String) {
    let verifier = secrets::new_secret();
    let challenge = secrets::pkce_challenge(&verifier);
    (verifier, challenge)
}

impl TestClient {
    pub(super) async fn new(state: web::Data<AppState>) -> TestClient {
        let service = Rc::new(test::init_service(app::app(state)).await);
        let call: Call = Rc::new(move |request: TestRequest| {
            let service = service.clone();
            Box::pin(async move {
                Answer::read(test::call_service(&*service, request.to_request()).await).await
            })
        });
        TestClient {
            call,
            cookies: RefCell::new(BTreeMap::new()),
        }
    }

    /// Send a request with this client's cookies; keep the cookies the answer sets.
    pub async fn send(&self, mut request: TestRequest) -> Answer {
        for (name, value) in self.cookies.borrow().iter() {
            request = request.cookie(Cookie::new(name.clone(), value.clone()));
        }
        let answer = (self.call)(request).await;
        for value in answer.headers.get_all(SET_COOKIE) {
            let Some(cookie) = value.to_str().ok().and_then(|v| Cookie::parse(v).ok()) else {
                continue;
            };
            let removed = cookie.max_age().is_some_and(|age| age.is_zero());
            let mut jar = self.cookies.borrow_mut();
            if removed {
                jar.remove(cookie.name());
            } else {
                jar.insert(cookie.name().to_owned(), cookie.value().to_owned());
            }
        }
        answer
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.borrow().get(name).cloned()
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(TestRequest::get().uri(path)).await
    }

    pub async fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> Answer {
        self.send(TestRequest::post().uri(path).set_form(pairs))
            .await
    }

    /// Register a client; panics unless it gets a 201.
    pub async fn register(&self, metadata: Value) -> Value {
        let answer = self
            .send(TestRequest::post().uri("/register").set_json(metadata))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
        answer.json()
    }

    /// A public client with the code and refresh grants; its client_id.
    pub async fn register_public(&self) -> String {
        let client = self
            .register(json!({
                "redirect_uris": [REDIRECT_URI],
                "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"],
                "client_name": "Test Client",
            }))
            .await;
        client["client_id"].as_str().unwrap_or_default().to_owned()
    }

    /// Sign in as the admin through the login form, coming back to `return_to`.
    pub async fn sign_in(&self, return_to: &str) -> Answer {
        let mut login = url::form_urlencoded::Serializer::new(String::from("/login?"));
        login.append_pair("return_to", return_to);
        let page = self.get(&login.finish()).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let csrf = self.cookie("mcpauth_csrf").unwrap_or_default();
        self.post_form(
            "/login",
            &[
                ("csrf", &csrf),
                ("return_to", return_to),
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
            ],
        )
        .await
    }

    /// Run an authorization request as a person who signs in and allows it; answers the
    /// redirect back to the client (its Location carries the code or an error).
    pub async fn authorize(&self, params: &[(&str, &str)]) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let mut answer = self.get(&format!("/authorize?{query}")).await;
        if answer.status == StatusCode::FOUND && answer.location().starts_with("/login?") {
            let return_to = query_of(answer.location())
                .remove("return_to")
                .unwrap_or_default();
            let back = self.sign_in(&return_to).await;
            assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.text());
            answer = self.get(back.location()).await;
        }
        if answer.status == StatusCode::OK {
            // The consent page: allow, with the request carried as the form does.
            let csrf = self.cookie("mcpauth_csrf").unwrap_or_default();
            let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf), ("decision", "allow")];
            form.extend(params.iter().filter(|(k, _)| *k != "prompt"));
            answer = self.post_form("/consent", &form).await;
        }
        assert!(answer.status.is_redirection(), "{}", answer.text());
        answer.location().to_owned()
    }

    /// A code for `client_id` (at [`REDIRECT_URI`], for [`RESOURCE`]) with a fresh PKCE pair:
    /// (code, verifier).
    pub async fn code_for(&self, client_id: &str, scope: &str) -> (String, String) {
        let (verifier, challenge) = pkce();
        let location = self
            .authorize(&[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", REDIRECT_URI),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("resource", RESOURCE),
                ("scope", scope),
            ])
            .await;
        let code = query_of(&location).remove("code");
        (
            code.unwrap_or_else(|| panic!("no code in {location}")),
            verifier,
        )
    }
}
