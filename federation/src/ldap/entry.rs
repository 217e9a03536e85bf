//! Reading directory entries: attribute values, the subject (including Active Directory's
//! binary objectGUID), group names from DNs, and filters filled in one pass.

use std::panic::AssertUnwindSafe;

use ldap3::{ResultEntry, SearchEntry};

use crate::UpstreamError;

/// `template` with each key replaced by its value, in one pass (a value is never re-scanned).
pub(super) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    'scan: while let Some(c) = rest.chars().next() {
        for (key, value) in values {
            if let Some(after) = rest.strip_prefix(key) {
                out.push_str(value);
                rest = after;
                continue 'scan;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// ldap3 panics on an entry it cannot decode; a broken directory must not take the worker down.
pub(super) fn parse_entry(raw: ResultEntry) -> Result<SearchEntry, UpstreamError> {
    std::panic::catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(raw))).map_err(|_| {
        UpstreamError::Invalid("the directory sent an entry that cannot be decoded".into())
    })
}

/// The text values of `attribute` (attribute names are case-insensitive).
pub(super) fn text_values<'a>(entry: &'a SearchEntry, attribute: &str) -> &'a [String] {
    entry
        .attrs
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(attribute))
        .map(|(_, values)| values.as_slice())
        .unwrap_or(&[])
}

pub(super) fn first_text_value(entry: &SearchEntry, attribute: &str) -> Option<String> {
    text_values(entry, attribute)
        .iter()
        .map(|v| v.trim())
        .find(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The subject: the attribute's text, except `objectGUID` (Active Directory, 16 binary bytes)
/// in its usual GUID form, and any other binary value in hex.
pub(super) fn subject_of(entry: &SearchEntry, attribute: &str) -> Option<String> {
    let binary = entry
        .bin_attrs
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(attribute))
        .and_then(|(_, values)| values.first());
    if attribute.eq_ignore_ascii_case("objectGUID") {
        // ldap3 files a value that happens to be valid UTF-8 as text: take the bytes either way.
        let bytes = match binary {
            Some(b) => b.as_slice(),
            None => text_values(entry, attribute).first()?.as_bytes(),
        };
        return guid_string(bytes);
    }
    if let Some(text) = first_text_value(entry, attribute) {
        return Some(text);
    }
    binary
        .filter(|b| !b.is_empty())
        .map(|b| b.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Active Directory's GUID text form: the first three fields are little-endian.
fn guid_string(bytes: &[u8]) -> Option<String> {
    let b: &[u8; 16] = bytes.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13],
        b[14], b[15]
    ))
}

/// A group's name from a `memberOf`-style value: the value of the DN's first RDN
/// (`cn=engineers,ou=groups,...` gives `engineers`), or the value itself if it is not a DN.
pub(super) fn group_name_of(value: &str) -> Option<String> {
    let value = value.trim();
    let name = match value.split_once('=') {
        Some((_, rest)) => first_rdn_value(rest),
        None => value.to_owned(),
    };
    Some(name).filter(|n| !n.is_empty())
}

/// The (RFC 4514) value at the start of `rest`, unescaped, up to the first unescaped `,`, `+`
/// or `;`.
fn first_rdn_value(rest: &str) -> String {
    let bytes = rest.trim_start().as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let pair = bytes
                    .get(i + 1)
                    .copied()
                    .and_then(hex)
                    .zip(bytes.get(i + 2).copied().and_then(hex));
                if let Some((high, low)) = pair {
                    out.push(high << 4 | low);
                    i += 3;
                } else if let Some(&next) = bytes.get(i + 1) {
                    out.push(next);
                    i += 2;
                } else {
                    i += 1;
                }
            }
            b',' | b'+' | b';' => break,
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_in_one_pass() {
        assert_eq!(
            fill(
                "(&(member={dn})(uid={username}))",
                &[("{dn}", "{username}"), ("{username}", "a\\2a")]
            ),
            "(&(member={username})(uid=a\\2a))"
        );
        assert_eq!(
            fill("(uid={username})é", &[("{username}", "é")]),
            "(uid=é)é"
        );
    }

    #[test]
    fn group_names_from_dns() {
        assert_eq!(
            group_name_of("cn=engineers,ou=groups,dc=example,dc=test").as_deref(),
            Some("engineers")
        );
        assert_eq!(
            group_name_of("CN=R\\26D\\2C Europe,OU=x").as_deref(),
            Some("R&D, Europe")
        );
        assert_eq!(group_name_of("cn=a\\,b+uid=c,dc=x").as_deref(), Some("a,b"));
        assert_eq!(
            group_name_of("cn=caf\\c3\\a9,dc=x").as_deref(),
            Some("café")
        );
        assert_eq!(group_name_of("plain-name").as_deref(), Some("plain-name"));
        assert_eq!(group_name_of("cn=,dc=x"), None);
    }

    #[test]
    fn guid_in_active_directory_form() {
        let bytes: Vec<u8> = (0u8..16).collect();
        assert_eq!(
            guid_string(&bytes).as_deref(),
            Some("03020100-0504-0706-0809-0a0b0c0d0e0f")
        );
        assert_eq!(guid_string(&bytes[..15]), None);
    }
}
