// The golden sample of format 3: the cluster version raised first (so apply() follows
// format 3's rules, and every entry after it is written framed), then every earlier command.
// Under format 3 rules carol's code is refused (her provider is off) and bob's grants carry
// his claims. See sample_format1.rs for the rules of these files.

#[allow(dead_code)]
fn sample_format3() -> Vec<Command> {
    let mut commands = vec![Command::SetClusterVersion { version: 3 }];
    commands.extend(sample_format2());
    commands
}
