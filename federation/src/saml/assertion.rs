//! Reading an assertion saml-rs accepted: the Response Issuer, the subject (NameID or an
//! attribute), the attributes, and until when a replay could be presented.

use mcpauth_state::UnixTime;
use saml_rs::xml::dom::{self, Node};
use saml_rs::xml::XmlLimits;
use saml_rs::{IdpDescriptor, NameIdFormat, SsoSession};

use super::VerifiedAssertion;
use crate::config::SamlConfig;
use crate::{Identity, UpstreamError};

/// Our reading of an accepted response: the Response Issuer, the identity and the expiry.
pub(super) fn read_assertion(
    session: &SsoSession,
    idp: &IdpDescriptor,
    config: &SamlConfig,
) -> Result<VerifiedAssertion, UpstreamError> {
    let xml = &session.raw_flow().saml_content;
    let doc = dom::parse_with_limits(xml, XmlLimits::default()).map_err(|_| {
        UpstreamError::Invalid("the SAML response is malformed (not well-formed XML)".into())
    })?;
    let root = &doc.root;
    if root.local_name == "Response" {
        if let Some(issuer) = child(root, "Issuer") {
            if issuer.text.trim() != idp.entity_id().as_str() {
                return Err(UpstreamError::Invalid(format!(
                    "the response's issuer is not the identity provider (expected {})",
                    idp.entity_id().as_str()
                )));
            }
        }
    }
    // The assertion saml-rs verified and read: IDs are unique (saml-rs refuses duplicates).
    let id = session.assertion_id().as_str();
    let assertion = if root.local_name == "Assertion" && root.attr("ID") == Some(id) {
        Some(root)
    } else {
        children(root, "Assertion").find(|a| a.attr("ID") == Some(id))
    }
    .ok_or_else(|| UpstreamError::Invalid("the verified assertion cannot be found".into()))?;

    let attributes = Attributes::of(assertion);
    let name_id = session.name_id();
    let name_id_value = name_id.value().trim();
    let subject = match &config.attributes.subject {
        Some(attribute) => attributes.first(attribute).ok_or_else(|| {
            UpstreamError::Invalid(format!(
                "the assertion has no {attribute:?} attribute, which is configured as the subject"
            ))
        })?,
        None => {
            if matches!(name_id.format(), Some(NameIdFormat::Transient)) {
                return Err(UpstreamError::Misconfigured(
                    "the IdP sent a transient NameID, which changes at every login: have it send a \
                     persistent one, or name a stable attribute in attributes.subject"
                        .into(),
                ));
            }
            if name_id_value.is_empty() {
                return Err(UpstreamError::Invalid(
                    "the assertion's NameID is empty".into(),
                ));
            }
            name_id_value.to_owned()
        }
    };
    let email = attributes.first(&config.attributes.email);
    let username = email
        .clone()
        .or_else(|| (!name_id_value.is_empty()).then(|| name_id_value.to_owned()));
    let identity = Identity {
        subject,
        username,
        email,
        name: attributes.first(&config.attributes.name),
        groups: attributes.all(&config.attributes.groups),
    };
    Ok(VerifiedAssertion {
        identity,
        assertion_id: id.to_owned(),
        expires_at: expires_at(assertion, config.clock_skew_secs)?,
    })
}

/// The latest NotOnOrAfter of the assertion (Conditions and bearer SubjectConfirmationData),
/// plus the skew: until then a replay could be accepted.
fn expires_at(assertion: &Node, skew: u64) -> Result<UnixTime, UpstreamError> {
    const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
    let conditions = children(assertion, "Conditions").filter_map(|c| c.attr("NotOnOrAfter"));
    let bearer = children(assertion, "Subject")
        .flat_map(|s| children(s, "SubjectConfirmation"))
        .filter(|c| c.attr("Method") == Some(BEARER))
        .flat_map(|c| children(c, "SubjectConfirmationData"))
        .filter_map(|d| d.attr("NotOnOrAfter"));
    let latest = conditions
        .chain(bearer)
        .map(parse_instant)
        .collect::<Option<Vec<i64>>>()
        .and_then(|all| all.into_iter().max())
        .ok_or_else(|| {
            UpstreamError::Invalid("the assertion's NotOnOrAfter cannot be read".into())
        })?;
    let skew = i64::try_from(skew).unwrap_or(i64::MAX);
    Ok(UnixTime::try_from(latest.saturating_add(skew)).unwrap_or(0))
}

/// The assertion's attributes, matched by Name, else by FriendlyName.
struct Attributes<'a> {
    /// (Name, FriendlyName, values)
    all: Vec<(&'a str, Option<&'a str>, Vec<&'a str>)>,
}

impl<'a> Attributes<'a> {
    fn of(assertion: &'a Node) -> Self {
        let all = children(assertion, "AttributeStatement")
            .flat_map(|s| children(s, "Attribute"))
            .map(|a| {
                let values = children(a, "AttributeValue")
                    .map(|v| v.text.trim())
                    .filter(|v| !v.is_empty())
                    .collect();
                (a.attr("Name").unwrap_or(""), a.attr("FriendlyName"), values)
            })
            .collect();
        Self { all }
    }

    fn all(&self, name: &str) -> Vec<String> {
        let by_name: Vec<String> = self
            .all
            .iter()
            .filter(|(n, _, _)| *n == name)
            .flat_map(|(_, _, v)| v.iter().map(|s| (*s).to_owned()))
            .collect();
        if !by_name.is_empty() {
            return by_name;
        }
        self.all
            .iter()
            .filter(|(_, friendly, _)| *friendly == Some(name))
            .flat_map(|(_, _, v)| v.iter().map(|s| (*s).to_owned()))
            .collect()
    }

    fn first(&self, name: &str) -> Option<String> {
        self.all(name).into_iter().next()
    }
}

pub(super) fn children<'a>(
    node: &'a Node,
    name: &'static str,
) -> impl Iterator<Item = &'a Node> + 'a {
    node.children.iter().filter(move |c| c.local_name == name)
}

pub(super) fn child<'a>(node: &'a Node, name: &'static str) -> Option<&'a Node> {
    children(node, name).next()
}

/// Unix seconds of an xs:dateTime (`2026-11-23T16:11:14Z`, fractions ignored, `Z` or `±hh:mm`).
pub(super) fn parse_instant(value: &str) -> Option<i64> {
    let s = value.trim();
    let digits = |from: usize, to: usize| -> Option<i64> {
        let part = s.get(from..to)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let sep = |at: usize, c: &[u8]| s.as_bytes().get(at).is_some_and(|b| c.contains(b));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 7)?, digits(8, 10)?);
    let (hour, minute, second) = (digits(11, 13)?, digits(14, 16)?, digits(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    if second > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    if let Some(fraction) = rest.strip_prefix('.') {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 {
            return None;
        }
        rest = &fraction[end..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes().get(3) != Some(&b':') {
                return None;
            }
            let (h, m) = (rest.get(1..3)?, rest.get(4..6)?);
            if !(h.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit()) {
                return None;
            }
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            sign * (h * 3600 + m * 60)
        }
    };
    // Days from 1970-01-01 (H. Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants() {
        assert_eq!(parse_instant("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_instant("2026-11-23T16:11:14Z"), Some(1_795_450_274));
        assert_eq!(
            parse_instant("2026-11-23T16:11:14.123456Z"),
            Some(1_795_450_274)
        );
        assert_eq!(
            parse_instant("2026-11-23T17:11:14+01:00"),
            Some(1_795_450_274)
        );
        assert_eq!(parse_instant("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(parse_instant("2026-11-23 16:11:14Z"), None);
        assert_eq!(parse_instant("2026-11-23T16:11:14"), None);
        assert_eq!(parse_instant("2026-13-23T16:11:14Z"), None);
        assert_eq!(parse_instant("2026-11-23T16:11:14.Z"), None);
    }

    #[test]
    fn attributes_by_name_then_friendly_name() {
        let xml = r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a"><saml:AttributeStatement>
            <saml:Attribute Name="urn:oid:0.9.2342.19200300.100.1.3" FriendlyName="mail"><saml:AttributeValue> ann@<!-- c -->example.test </saml:AttributeValue></saml:Attribute>
            <saml:Attribute Name="mail"><saml:AttributeValue>by-name@example.test</saml:AttributeValue></saml:Attribute>
            <saml:Attribute Name="urn:oid:1.3.6.1.4.1.5923.1.5.1.1" FriendlyName="isMemberOf"><saml:AttributeValue>a</saml:AttributeValue><saml:AttributeValue/><saml:AttributeValue>b</saml:AttributeValue></saml:Attribute>
            </saml:AttributeStatement></saml:Assertion>"#;
        let doc = dom::parse_with_limits(xml, XmlLimits::default()).expect("xml");
        let attributes = Attributes::of(&doc.root);
        assert_eq!(
            attributes.first("mail").as_deref(),
            Some("by-name@example.test")
        );
        assert_eq!(
            attributes
                .first("urn:oid:0.9.2342.19200300.100.1.3")
                .as_deref(),
            Some("ann@example.test")
        );
        assert_eq!(attributes.all("isMemberOf"), vec!["a", "b"]);
        assert_eq!(attributes.first("absent"), None);
    }
}
