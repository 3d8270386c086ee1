//! The tenant profile (`--tenant FILE`): the identities it maps are the
//! ones the cases invite and the fixtures are created with, the run and
//! its rerun lines name it, a case needing more identities than it has is
//! skipped with the reason, and a profile the suite cannot use stops the
//! run once, saying why.

use std::path::PathBuf;

use conformance_harness::Status;
use conformance_selftest::{run_suite, temp, workspace_root};
use serde_json::Value;

fn example() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("docs/tenant.example.json"))
        .expect("docs/tenant.example.json");
    serde_json::from_str(&text).expect("the example profile is JSON")
}

fn write(dir: &std::path::Path, profile: &Value) -> PathBuf {
    let path = dir.join("tenant.json");
    std::fs::write(&path, profile.to_string()).expect("profile written");
    path
}

fn requests(transcript: &Value) -> Vec<Value> {
    transcript["steps"][0]["exchanges"]
        .as_array()
        .expect("exchanges")
        .iter()
        .map(|e| e["request"].clone())
        .collect()
}

#[test]
fn the_cases_invite_the_profiles_identities_and_the_run_names_it() {
    let dir = temp("tenant-identities");
    let profile = example();
    let file = write(&dir, &profile);
    let (record, report) = (dir.join("rec"), dir.join("report"));
    let args: Vec<String> = [
        "--tenant",
        &file.display().to_string(),
        "--record",
        &record.display().to_string(),
        "--report",
        &report.display().to_string(),
        "--notification-timeout-ms",
        "5000",
        "case::invite::examples",
    ]
    .map(str::to_owned)
    .to_vec();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_suite(&args, &[]).expect("the suite runs");
    assert_eq!(run.code, Some(0), "{}", run.all_output());
    let users = &profile["identities"]["user"];
    let read = |name: &str| -> Value {
        let path = record.join(format!("case/invite/examples/{name}.json"));
        serde_json::from_str(&std::fs::read_to_string(path).expect("a transcript")).expect("JSON")
    };
    // Example 2 invites the third and fourth users; example 4 the phone.
    let two = read("example_2_invite_multiple_participants");
    let sent = two["steps"][0]["exchanges"]
        .as_array()
        .expect("exchanges")
        .iter()
        .find(|e| e["role"] == "case")
        .expect("the case's request")["request"]
        .to_string();
    for id in [&users[2], &users[3]] {
        let id = id.as_str().expect("an id");
        assert!(sent.contains(id), "{id} in {sent}");
    }
    let four = read("example_4_invite_pstn_participant").to_string();
    assert!(four.contains("+14255550100"), "{four}");
    // The calls are created as the profile says: its bot, its tenant, its
    // meeting, its auto-answering peer.
    let one = read("example_1_invite_one_participant");
    let creations: Vec<Value> = requests(&one)
        .into_iter()
        .filter(|r| r["path"] == "/communications/calls")
        .collect();
    assert_eq!(creations.len(), 2, "a group call and a peer-to-peer one");
    let fixtures = &profile["fixtures"];
    for body in creations.iter().map(|r| &r["body"]["json"]) {
        assert_eq!(body["tenantId"], fixtures["tenantId"]);
        assert_eq!(
            body["source"]["identity"]["application"]["id"],
            fixtures["botApplicationId"]
        );
    }
    assert!(creations
        .iter()
        .any(|r| r["body"]["json"]["chatInfo"] == fixtures["groupCall"]["chatInfo"]));
    assert!(creations
        .iter()
        .any(|r| r["body"]["json"]["targets"][0]["identity"] == fixtures["p2pTarget"]));
    // None of the samples went anywhere.
    for transcript in [&one, &two] {
        for request in requests(transcript) {
            let text = request.to_string();
            for sample in [
                "c8a3a2f6-1d0a-4a6e-9d55-0b1f0e7c3a11",
                "278405a3-f568-4b3e-b684-009193463064",
                "2891555a-92ff-42e6-80fa-6e1300c6b5c6",
            ] {
                assert!(!text.contains(sample), "sample {sample} sent: {text}");
            }
        }
    }
    // The transcript, the report and every rerun line name the profile.
    assert!(one["recorded"]["tenant"]
        .as_str()
        .is_some_and(|t| t.contains("contoso-lab")));
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(report.join("report.json")).expect("report.json"),
    )
    .expect("JSON");
    assert!(
        json["tenant"]
            .as_str()
            .is_some_and(|t| t.contains("contoso-lab")),
        "{}",
        json["tenant"]
    );
    let md = std::fs::read_to_string(report.join("report.md")).expect("report.md");
    assert!(
        md.contains("identities: tenant profile contoso-lab"),
        "{md}"
    );
    let outcome = run.outcome.as_ref().expect("in process");
    let trial = outcome
        .trial("case::invite::examples::example_1_invite_one_participant")
        .expect("ran");
    let rerun = &trial.verdict.as_ref().expect("a verdict").place.rerun;
    assert!(rerun.iter().all(|l| l.contains("tenant.json")), "{rerun:?}");
}

#[test]
fn a_case_needing_more_identities_than_the_profile_has_is_skipped_with_the_reason() {
    let dir = temp("tenant-short");
    let mut profile = example();
    profile["identities"]["user"] = serde_json::json!(["u-1", "u-2"]);
    let file = write(&dir, &profile);
    let file = file.display().to_string();
    let run = run_suite(&["--tenant", &file, "case::invite::group_"], &[]).expect("the suite runs");
    let five = run.status("case::invite::group_five_participants");
    match five {
        Some(Status::Ignored(reason)) => assert!(
            reason.contains("contoso-lab") && reason.contains("{{identity.user.2}}"),
            "{reason}"
        ),
        other => panic!("{other:?}\n{}", run.all_output()),
    }
}

#[test]
fn a_profile_the_suite_cannot_use_stops_the_run_once_saying_why() {
    let dir = temp("tenant-typo");
    let mut profile = example();
    profile["identities"]["usr"] = serde_json::json!(["u-1"]);
    let file = write(&dir, &profile);
    let file = file.display().to_string();
    let run =
        run_suite(&["--tenant", &file, "case::invite::examples"], &[]).expect("the suite runs");
    assert_eq!(run.code, Some(2), "{}", run.all_output());
    assert!(run.stderr.contains("identities.usr"), "{}", run.stderr);
    // A call detail it does not know is refused where a call is made.
    let mut profile = example();
    profile["fixtures"]["botAppId"] = serde_json::json!("x");
    let file = write(&dir, &profile);
    let file = file.display().to_string();
    let run = run_suite(
        &["--tenant", &file, "case::invite::examples::example_3"],
        &[],
    )
    .expect("the suite runs");
    assert_ne!(run.code, Some(0));
    let said = format!("{}{:?}", run.all_output(), run.failures);
    assert!(
        said.contains("fixtures.botAppId") || said.contains("botAppId"),
        "{said}"
    );
}

#[test]
fn the_profiles_timeouts_apply_unless_an_option_says_otherwise() {
    let dir = temp("tenant-timeouts");
    let mut profile = example();
    profile["timeouts"] = serde_json::json!({"response_ms": 4000, "notification_ms": 700});
    let file = write(&dir, &profile).display().to_string();
    let server = conformance_selftest::server(vec!["no-roster-update".parse().expect("a fault")]);
    let base = server.base_url();
    let trial = "case::invite::examples::example_3_invite_to_existing_call";
    let waited = |extra: &[&str]| {
        let mut args = vec![
            "--target",
            base.as_str(),
            "--tenant",
            &file,
            "--exact",
            trial,
        ];
        args.extend_from_slice(extra);
        let run = run_suite(&args, &[("CONFORMANCE_TOKEN", "t")]).expect("the suite runs");
        run.failures
            .get(trial)
            .cloned()
            .unwrap_or_else(|| run.all_output())
    };
    let by_profile = waited(&[]);
    assert!(by_profile.contains("within 700 ms"), "{by_profile}");
    let by_option = waited(&["--notification-timeout-ms", "900"]);
    assert!(by_option.contains("within 900 ms"), "{by_option}");
}
