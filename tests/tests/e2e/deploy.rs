//! The deployment template: valid CloudFormation (cfn-lint, installed by
//! `scripts/install-test-deps`), and a role that lets the function read its queue in Sqs mode
//! and send to its on-failure destination in Direct mode.

use std::process::Command;

use s3plug_tests::repo_root;

#[test]
fn the_sam_template_passes_cfn_lint_and_grants_the_queues_it_uses() {
    let lint = repo_root().join("target/lint-venv/bin/cfn-lint");
    assert!(
        lint.is_file(),
        "{} is missing: run scripts/install-test-deps (scripts/test does)",
        lint.display()
    );
    let template = repo_root().join("deploy/template.yaml");
    let output = Command::new(&lint)
        .arg(&template)
        .output()
        .expect("cfn-lint runs");
    assert!(
        output.status.success(),
        "cfn-lint: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&template).expect("the template");
    for action in [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:SendMessage",
    ] {
        assert!(text.contains(action), "the role lacks {action}");
    }
}
