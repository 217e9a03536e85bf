//! Every `[[identity_provider]]` configuration the README offers for copy-paste must be one
//! mcpauth accepts: each TOML block is read as the config file would be and validated.

use mcpauth_crypto::Sealer;
use mcpauth_federation::config::ProviderSpec;

fn readme_provider_blocks() -> Vec<String> {
    let readme = include_str!("../../README.md");
    readme
        .split("```toml\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .filter(|block| block.contains("[[identity_provider]]"))
        .map(str::to_owned)
        .collect()
}

#[derive(serde::Deserialize)]
struct File {
    identity_provider: Vec<toml::Value>,
}

#[test]
fn every_provider_configuration_in_the_readme_is_valid() {
    let blocks = readme_provider_blocks();
    assert!(
        blocks.len() >= 10,
        "expected the README's provider examples, found {}",
        blocks.len()
    );
    let sealer = Sealer::new(&[7u8; 32]).expect("sealer");
    let mut kinds = std::collections::BTreeSet::new();
    for block in blocks {
        // The LDAP example's CA is elided; put a syntactically complete one in its place.
        let block = block.replace("...\n-----END", "MIIB\n-----END");
        let file: File = toml::from_str(&block).unwrap_or_else(|e| panic!("{e}\n{block}"));
        for table in file.identity_provider {
            let json = serde_json::to_value(table).expect("json");
            let spec = ProviderSpec::from_json(json).unwrap_or_else(|e| panic!("{e}\n{block}"));
            let stored = spec
                .into_stored(&sealer, 1_800_000_000)
                .unwrap_or_else(|e| panic!("{e}\n{block}"));
            kinds.insert(stored.kind.clone());
            assert!(!stored.config_json.contains("\"client_secret\""));
            assert!(!stored.config_json.contains("bind_password"));
        }
    }
    let expected: std::collections::BTreeSet<String> = ["ldap", "oauth2", "oidc", "saml"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(kinds, expected);
}
