//! `mcpauth keys …`: the cluster's signing keys, through the internal admin API
//! (`/admin/signing-keys`): list them with their phase, or add the next key now. A rotation
//! by hand is published `publish_before_secs` ahead of signing, like a scheduled one: a key
//! that signed at once would reach resource servers before their cached JWKS holds it.

use mcpauth_api::key_rotation::{KeyPhase, KeysView};
use mcpauth_raft::reqwest::Method;
use serde_json::Value;

use crate::cli::KeysCommand;
use crate::cluster_cli::{block_on, CliError, Operator};

pub fn run(command: KeysCommand) -> Result<(), CliError> {
    block_on(async {
        match command {
            KeysCommand::List { cluster, json } => {
                let answer = Operator::new(&cluster)?
                    .call(Method::GET, "/admin/signing-keys", None)
                    .await?;
                if json {
                    print_json(&answer);
                } else {
                    print!("{}", table(&parse(&answer)?));
                }
            }
            KeysCommand::Rotate { cluster, json } => {
                let answer = Operator::new(&cluster)?
                    .call(
                        Method::POST,
                        "/admin/signing-keys/rotate",
                        Some(&Value::Object(Default::default())),
                    )
                    .await?;
                if json {
                    print_json(&answer);
                } else {
                    let view = parse(&answer["signing_keys"])?;
                    let kid = answer["added"].as_str().unwrap_or("?");
                    match view.keys.iter().find(|k| k.kid == kid) {
                        Some(key) => println!(
                            "added key {kid}: published now, signs from {} ({} s from now)",
                            utc(key.activates_at),
                            key.activates_at.saturating_sub(view.now)
                        ),
                        None => println!("added key {kid}"),
                    }
                    print!("{}", table(&view));
                }
            }
        }
        Ok(())
    })
}

fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

fn parse(value: &Value) -> Result<KeysView, CliError> {
    serde_json::from_value(value.clone())
        .map_err(|e| CliError::Setup(format!("unexpected answer from the node: {e}")))
}

/// The human-readable listing.
fn table(view: &KeysView) -> String {
    let mut out = format!(
        "{:<24} {:<9} {:<21} {:<21} {:<21}\n",
        "KID", "PHASE", "CREATED", "SIGNS FROM", "DROPPED AT"
    );
    for key in &view.keys {
        let phase = match key.phase {
            KeyPhase::Pending => "pending",
            KeyPhase::Active => "active",
            KeyPhase::Retiring => "retiring",
        };
        out.push_str(&format!(
            "{:<24} {:<9} {:<21} {:<21} {:<21}\n",
            key.kid,
            phase,
            utc(key.created_at),
            utc(key.activates_at),
            key.retires_at.map_or("-".into(), utc),
        ));
    }
    out.push_str(&format!(
        "rotation: every {} s, each key published {} s before it signs; next: {}\n",
        view.rotate_every_secs,
        view.publish_before_secs,
        view.next_rotation_at
            .map_or("after the pending key signs".into(), utc)
    ));
    out
}

/// A Unix time as `YYYY-MM-DD HH:MM:SSZ` (UTC), without a date library.
fn utc(t: u64) -> String {
    let (days, secs) = (t / 86_400, t % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcpauth_api::key_rotation::KeyView;

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00Z");
        assert_eq!(utc(1_767_225_599), "2025-12-31 23:59:59Z");
    }

    #[test]
    fn the_table_names_each_phase() {
        let key = |kid: &str, phase| KeyView {
            kid: kid.into(),
            alg: "ES256".into(),
            phase,
            created_at: 0,
            activates_at: 0,
            retires_at: None,
        };
        let view = KeysView {
            now: 0,
            keys: vec![
                key("old", KeyPhase::Retiring),
                key("cur", KeyPhase::Active),
                key("new", KeyPhase::Pending),
            ],
            rotate_every_secs: 10,
            publish_before_secs: 3,
            next_rotation_at: None,
        };
        let text = table(&view);
        for phase in [
            "retiring",
            "active",
            "pending",
            "after the pending key signs",
        ] {
            assert!(text.contains(phase), "{text}");
        }
    }
}
