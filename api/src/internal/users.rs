//! The admin API for local users: reset a password (the first `admin`'s included, whose
//! generated password is printed only once). The new password is hashed (argon2id) on this
//! node and only the hash is proposed; the password itself never enters the log, the store or a
//! log line.

use actix_web::{web, HttpResponse};
use mcpauth_state::{Command, Outcome, Refusal};
use serde::Deserialize;
use serde_json::json;

use super::{AdminError, InternalState};
use crate::passwords;

/// Shorter passwords are refused: this is the only check a local account has.
const MIN_PASSWORD_CHARS: usize = 12;

#[derive(Deserialize)]
pub struct NewPassword {
    password: String,
}

/// PUT /admin/users/{username}/password `{"password": "..."}`
pub async fn set_password(
    state: web::Data<InternalState>,
    username: web::Path<String>,
    body: web::Json<NewPassword>,
) -> Result<HttpResponse, AdminError> {
    let username = username.into_inner();
    let password = body.into_inner().password;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AdminError::BadRequest(format!(
            "the password must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    if state.cluster.read(|s| s.user(&username).is_none()) {
        return Err(AdminError::NotFound(format!("no local user {username:?}")));
    }
    let password_hash = web::block(move || passwords::hash(&password))
        .await
        .map_err(|e| AdminError::Unexpected(e.to_string()))?
        .map_err(|e| AdminError::Unexpected(e.to_string()))?;
    let command = Command::SetUserPassword {
        username: username.clone(),
        password_hash,
    };
    match state.cluster.propose(command).await? {
        Outcome::Done => {
            tracing::info!(%username, "password changed through the admin API");
            Ok(HttpResponse::Ok().json(json!({ "username": username, "password_changed": true })))
        }
        Outcome::Refused(Refusal::UnknownUser) => {
            Err(AdminError::NotFound(format!("no local user {username:?}")))
        }
        other => Err(AdminError::Unexpected(format!("{other:?}"))),
    }
}
