//! The config keys of issue 10 as the binary reads them: what an unset key means, what an
//! empty list means, and which mistakes stop the start.

use std::path::PathBuf;

use mcpauth_api::oauth::registration_policy::RegistrationMode;

use super::*;

/// Load settings from a config file holding `toml`, with `args` on top.
fn load(toml: &str, mut args: ServeArgs) -> Result<Settings, SettingsError> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path: PathBuf = dir.path().join("mcpauth.toml");
    std::fs::write(&path, toml).expect("write config");
    args.config = Some(path);
    Settings::load(args)
}

fn load_file(toml: &str) -> Result<Settings, SettingsError> {
    load(toml, ServeArgs::default())
}

fn invalid(toml: &str) -> String {
    match load_file(toml) {
        Err(SettingsError::Invalid(message)) => message,
        other => panic!("expected an invalid setting for {toml:?}, got {other:?}"),
    }
}

#[test]
fn unset_redirect_schemes_are_the_known_clients_and_an_empty_list_is_none() {
    let unset = load_file("").unwrap();
    assert_eq!(
        unset.allowed_redirect_schemes,
        ["cursor", "vscode", "vscode-insiders", "windsurf", "zed"]
    );
    let empty = load_file("allowed_redirect_schemes = []").unwrap();
    assert!(empty.allowed_redirect_schemes.is_empty());
    let own = load_file(r#"allowed_redirect_schemes = ["com.example.app"]"#).unwrap();
    assert_eq!(own.allowed_redirect_schemes, ["com.example.app"]);
    let flags = load(
        "allowed_redirect_schemes = []",
        ServeArgs {
            allowed_redirect_schemes: vec!["cursor".into()],
            ..ServeArgs::default()
        },
    )
    .unwrap();
    assert_eq!(
        flags.allowed_redirect_schemes,
        ["cursor"],
        "flags replace the file"
    );
}

#[test]
fn dangerous_or_malformed_redirect_schemes_stop_the_start() {
    for (toml, needle) in [
        (
            r#"allowed_redirect_schemes = ["javascript"]"#,
            "never allowed",
        ),
        (
            r#"allowed_redirect_schemes = ["cursor", "data"]"#,
            "never allowed",
        ),
        (
            r#"allowed_redirect_schemes = ["https"]"#,
            "needs no allowing",
        ),
        (
            r#"allowed_redirect_schemes = ["cursor://"]"#,
            "not a URI scheme",
        ),
    ] {
        let message = invalid(toml);
        assert!(message.contains(needle), "{toml}: {message}");
    }
}

#[test]
fn default_scopes_default_to_mcp_and_must_be_supported() {
    assert_eq!(load_file("").unwrap().default_scopes, ["mcp"]);
    let chosen = load_file(r#"default_scopes = ["openid", "mcp"]"#).unwrap();
    assert_eq!(chosen.default_scopes, ["openid", "mcp"]);
    assert!(load_file("default_scopes = []")
        .unwrap()
        .default_scopes
        .is_empty());
    let message = invalid(r#"default_scopes = ["files:read"]"#);
    assert!(message.contains("files:read"), "{message}");
    let message = invalid(
        r#"scopes = ["openid"]
default_scopes = ["mcp"]"#,
    );
    assert!(message.contains("\"mcp\""), "{message}");
}

#[test]
fn registration_is_open_unless_switched_off() {
    assert_eq!(
        load_file("").unwrap().registration.mode,
        RegistrationMode::Open
    );
    let off = load_file(r#"registration = "off""#).unwrap();
    assert_eq!(off.registration.mode, RegistrationMode::Off);
    let flag = load(
        r#"registration = "off""#,
        ServeArgs {
            registration: Some(RegistrationMode::Open),
            ..ServeArgs::default()
        },
    )
    .unwrap();
    assert_eq!(
        flag.registration.mode,
        RegistrationMode::Open,
        "the flag wins"
    );
    assert!(matches!(
        load_file(r#"registration = "closed""#),
        Err(SettingsError::Parse { .. })
    ));
}

#[test]
fn redirect_patterns_compile_at_start_or_stop_it() {
    let settings = load_file(
        r#"registration_redirect_patterns = ['https://app\.example\.com/cb', 'http://127\.0\.0\.1(:\d+)?/cb']"#,
    )
    .unwrap();
    assert!(settings
        .registration
        .permits_redirect("http://127.0.0.1:5/cb"));
    assert!(!settings
        .registration
        .permits_redirect("https://app.example.com/cb2"));
    let message =
        invalid(r#"registration_redirect_patterns = ['https://ok\.example/', 'https://(bad']"#);
    assert!(
        message.contains("https://(bad") && message.contains("not a valid regular expression"),
        "{message}"
    );
}
