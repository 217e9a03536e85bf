//! Reading an HTML page's first form and filling it in as a person would: the username and
//! password where they belong, every other field as the page set it, and the button that
//! means "allow" (never the one that means "deny").

use scraper::{ElementRef, Html, Selector};
use url::Url;

use crate::error::OpError;

/// What a person types into sign-in forms.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// A form ready to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilledForm {
    pub action: Url,
    pub method: Method,
    pub fields: Vec<(String, String)>,
    /// Whether a password was typed into it (a login form).
    pub has_password: bool,
}

/// A submit control: `<button>` (type submit, the default) or `<input type=submit|image>`.
struct SubmitButton {
    name: Option<String>,
    value: String,
    label: String,
}

const POSITIVE: &[&str] = &[
    "allow",
    "accept",
    "approve",
    "authorize",
    "authorise",
    "consent",
    "continue",
    "confirm",
    "grant",
    "yes",
    "sign in",
    "sign-in",
    "signin",
    "log in",
    "login",
    "submit",
];
const NEGATIVE: &[&str] = &[
    "deny", "abort", "cancel", "reject", "decline", "refuse", "no", "back",
];
const USERNAME_HINTS: &[&str] = &["user", "login", "email", "mail", "account", "identifier"];

fn selector(css: &'static str) -> Result<Selector, OpError> {
    Selector::parse(css).map_err(|e| OpError::protocol("selector", format!("{css}: {e}")))
}

fn words(text: &str) -> String {
    text.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn means(text: &str, list: &[&str]) -> bool {
    let text = words(text);
    list.iter().any(|w| {
        // whole words only, so "no" does not match "now" nor "notice"
        text.split(|c: char| !c.is_alphanumeric() && c != '-')
            .any(|token| token == *w)
            || (w.contains(' ') && text.contains(w))
    })
}

impl SubmitButton {
    fn text(&self) -> String {
        format!(
            "{} {} {}",
            self.name.as_deref().unwrap_or(""),
            self.value,
            self.label
        )
    }
}

/// The page's first `<form>`, filled in; `None` when the page has no form.
pub fn first_form(
    html: &str,
    page_url: &Url,
    credentials: &Credentials,
) -> Result<Option<FilledForm>, OpError> {
    let document = Html::parse_document(html);
    let form_selector = selector("form")?;
    let Some(form) = document.select(&form_selector).next() else {
        return Ok(None);
    };
    let action = match form.value().attr("action").map(str::trim) {
        Some(action) if !action.is_empty() => page_url.join(action).map_err(|e| {
            OpError::protocol("form action", format!("{action:?} on {page_url}: {e}"))
        })?,
        _ => page_url.clone(),
    };
    let method = match form.value().attr("method") {
        Some(m) if m.eq_ignore_ascii_case("post") => Method::Post,
        _ => Method::Get,
    };
    let mut fields = Vec::new();
    let mut buttons = Vec::new();
    let mut has_password = false;
    let controls = selector("input, button, select, textarea")?;
    for control in form.select(&controls) {
        has_password |= control
            .value()
            .attr("type")
            .is_some_and(|t| t.eq_ignore_ascii_case("password"));
        collect(control, credentials, &mut fields, &mut buttons)?;
    }
    let chosen = buttons
        .iter()
        .find(|b| means(&b.text(), POSITIVE) && !means(&b.text(), NEGATIVE))
        .or_else(|| buttons.iter().find(|b| !means(&b.text(), NEGATIVE)));
    if buttons.iter().all(|b| means(&b.text(), NEGATIVE)) && !buttons.is_empty() {
        return Err(OpError::protocol(
            "form",
            "the form's only buttons refuse (deny, cancel)",
        ));
    }
    if let Some(SubmitButton {
        name: Some(name),
        value,
        ..
    }) = chosen
    {
        fields.push((name.clone(), value.clone()));
    }
    Ok(Some(FilledForm {
        action,
        method,
        fields,
        has_password,
    }))
}

fn collect(
    control: ElementRef<'_>,
    credentials: &Credentials,
    fields: &mut Vec<(String, String)>,
    buttons: &mut Vec<SubmitButton>,
) -> Result<(), OpError> {
    let element = control.value();
    if element.attr("disabled").is_some() {
        return Ok(());
    }
    let name = element.attr("name").map(str::to_string);
    let value = element.attr("value").unwrap_or("").to_string();
    match element.name() {
        "button" => {
            let kind = element
                .attr("type")
                .unwrap_or("submit")
                .to_ascii_lowercase();
            if kind == "submit" {
                buttons.push(SubmitButton {
                    name,
                    value,
                    label: control.text().collect::<String>(),
                });
            }
        }
        "input" => {
            let kind = element.attr("type").unwrap_or("text").to_ascii_lowercase();
            match kind.as_str() {
                "submit" | "image" => buttons.push(SubmitButton {
                    name,
                    label: value.clone(),
                    value,
                }),
                "button" | "reset" | "file" => {}
                "checkbox" | "radio" => {
                    if let (Some(name), Some(_)) = (name, element.attr("checked")) {
                        let value = element.attr("value").unwrap_or("on").to_string();
                        fields.push((name, value));
                    }
                }
                "password" => {
                    if let Some(name) = name {
                        fields.push((name, credentials.password.clone()));
                    }
                }
                "text" | "email" | "" => {
                    if let Some(name) = name {
                        let lower = name.to_lowercase();
                        let id = element.attr("autocomplete").unwrap_or("");
                        if USERNAME_HINTS.iter().any(|h| lower.contains(h)) || id == "username" {
                            fields.push((name, credentials.username.clone()));
                        } else {
                            fields.push((name, value));
                        }
                    }
                }
                _ => {
                    if let Some(name) = name {
                        fields.push((name, value));
                    }
                }
            }
        }
        "select" => {
            if let Some(name) = name {
                let options = selector("option")?;
                let mut all = control.select(&options);
                let chosen = control
                    .select(&options)
                    .find(|o| o.value().attr("selected").is_some())
                    .or_else(|| all.next());
                if let Some(option) = chosen {
                    let value = option
                        .value()
                        .attr("value")
                        .map(str::to_string)
                        .unwrap_or_else(|| option.text().collect::<String>().trim().to_string());
                    fields.push((name, value));
                }
            }
        }
        "textarea" => {
            if let Some(name) = name {
                fields.push((name, control.text().collect()));
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            username: "alice".into(),
            password: "s3cret".into(),
        }
    }

    fn page() -> Url {
        Url::parse("http://127.0.0.1:3100/interaction/abc").expect("url")
    }

    #[test]
    fn mcpauth_login_form() {
        let html = r#"<form method="post" action="/login">
<input type="hidden" name="csrf" value="t0k">
<input type="hidden" name="return_to" value="/authorize?client_id=x&amp;state=y">
<input type="text" id="username" name="username" autocomplete="username" required autofocus>
<input type="password" id="password" name="password" required>
<button type="submit">Sign in</button></form>"#;
        let form = first_form(html, &page(), &creds())
            .expect("parsed")
            .expect("a form");
        assert_eq!(form.action.as_str(), "http://127.0.0.1:3100/login");
        assert_eq!(form.method, Method::Post);
        assert!(form.has_password);
        assert_eq!(
            form.fields,
            vec![
                ("csrf".to_string(), "t0k".to_string()),
                (
                    "return_to".to_string(),
                    "/authorize?client_id=x&state=y".to_string()
                ),
                ("username".to_string(), "alice".to_string()),
                ("password".to_string(), "s3cret".to_string()),
            ]
        );
    }

    #[test]
    fn consent_picks_allow_never_deny() {
        let html = r#"<form method="post" action="consent">
<input type="hidden" name="csrf" value="c">
<button type="submit" name="decision" value="deny">Deny</button>
<button type="submit" name="decision" value="allow">Allow</button>
</form>"#;
        let form = first_form(html, &page(), &creds())
            .expect("parsed")
            .expect("a form");
        assert_eq!(
            form.action.as_str(),
            "http://127.0.0.1:3100/interaction/consent"
        );
        assert!(form
            .fields
            .contains(&("decision".to_string(), "allow".to_string())));
        assert!(!form
            .fields
            .contains(&("decision".to_string(), "deny".to_string())));
    }

    #[test]
    fn oidc_provider_dev_interactions() {
        let login = r#"<form autocomplete="off" action="/interaction/abc/login" method="post">
  <input type="hidden" name="prompt" value="login"/>
  <input required type="text" name="login" placeholder="Enter any login" >
  <input required type="password" name="password" placeholder="and password" >
  <button type="submit" class="login login-submit">Sign-in</button>
</form><a href="/interaction/abc/abort">[ Cancel ]</a>"#;
        let form = first_form(login, &page(), &creds())
            .expect("parsed")
            .expect("a form");
        assert_eq!(
            form.fields,
            vec![
                ("prompt".to_string(), "login".to_string()),
                ("login".to_string(), "alice".to_string()),
                ("password".to_string(), "s3cret".to_string()),
            ]
        );
        let consent = r#"<form autocomplete="off" action="/interaction/abc/confirm" method="post">
  <input type="hidden" name="prompt" value="consent"/>
  <button autofocus type="submit" class="login login-submit">Continue</button>
</form>"#;
        let form = first_form(consent, &page(), &creds())
            .expect("parsed")
            .expect("a form");
        assert_eq!(
            form.action.as_str(),
            "http://127.0.0.1:3100/interaction/abc/confirm"
        );
        assert_eq!(
            form.fields,
            vec![("prompt".to_string(), "consent".to_string())]
        );
        assert!(!form.has_password);
    }

    #[test]
    fn inputs_as_buttons_checkboxes_and_selects() {
        let html = r#"<form action="https://other.example/go">
<input type="submit" name="cancel" value="Cancel">
<input type="submit" name="ok" value="Accept">
<input type="checkbox" name="remember" checked>
<input type="checkbox" name="spam" value="1">
<select name="lang"><option value="en">English</option><option value="fr" selected>Français</option></select>
<textarea name="note">hi</textarea>
<input type="email" name="email">
</form><form action="/second"><input name="x"></form>"#;
        let form = first_form(html, &page(), &creds())
            .expect("parsed")
            .expect("a form");
        assert_eq!(form.method, Method::Get);
        assert_eq!(form.action.as_str(), "https://other.example/go");
        assert_eq!(
            form.fields,
            vec![
                ("remember".to_string(), "on".to_string()),
                ("lang".to_string(), "fr".to_string()),
                ("note".to_string(), "hi".to_string()),
                ("email".to_string(), "alice".to_string()),
                ("ok".to_string(), "Accept".to_string()),
            ]
        );
    }

    #[test]
    fn a_page_without_a_form() {
        let html = "<h1>Error</h1><p>nothing to submit</p>";
        assert!(first_form(html, &page(), &creds())
            .expect("parsed")
            .is_none());
    }

    #[test]
    fn only_refusing_buttons_is_an_error() {
        let html = r#"<form method="post"><button name="d" value="deny">Deny</button></form>"#;
        assert!(first_form(html, &page(), &creds()).is_err());
    }
}
