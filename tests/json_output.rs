//! docs/json.md is the contract of `--json` (issue 18 point 6): this test
//! parses its tables, runs every documented command with `--json` on a
//! `kskit demo --dir` setup, and checks each listed field is present with its
//! listed type. Every leaf of the clap command tree must have a section, and
//! every section with fields must be run here (or be listed in SKIPPED with
//! the reason).

mod common;

use std::path::Path;

use clap::CommandFactory as _;
use common::*;
use serde_json::Value;

/// Sections of docs/json.md that this test does not run, and why.
const SKIPPED: &[(&str, &str)] = &[
    ("kskit hsm keygen", "needs an initialised PKCS#11 token: its JSON is checked by tests/pkcs11_softhsm.rs"),
    ("kskit hsm import", "needs an initialised PKCS#11 token: its JSON is checked by tests/pkcs11_softhsm.rs"),
    ("kskit hsm bench", "needs an initialised PKCS#11 token: its JSON is checked by tests/cycle_softhsm.rs (hsm_bench_json_reports_mechanism_keygen_time_and_refusals) and, against this file's table, by tests/token_faults.rs (hsm_bench_on_the_restricted_smartcard_profile_reports_what_it_lacks_and_never_tries_it)"),
    ("kskit rollover emergency", "needs a standby KSK (standby_ksk) and a KSK to declare lost: tests/emergency.rs checks its JSON against this file's table"),
    ("kskit cds check", "needs name servers serving a signed zone: tests/live_check.rs runs it (knotd)"),
    ("kskit sign-zone", "needs a zone and ZSKs in force at signing time: tests/handoff.rs runs it"),
    ("kskit verify-zone", "needs a signed zone: tests/verify_zone.rs checks its JSON fields (ok, problems, trust)"),
    ("kskit skr remove", "takes back the demo's import, which the commands after it need: tests/skr_timeline.rs runs it"),
];

fn leaves() -> Vec<String> {
    fn walk(prefix: &str, cmd: &clap::Command, out: &mut Vec<String>) {
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let name = format!("{prefix} {}", sub.get_name());
            if sub.get_subcommands().next().is_none() {
                out.push(name);
            } else {
                walk(&name, sub, out);
            }
        }
    }
    let mut root = kskit::cli::Cli::command();
    root.build();
    let mut out = vec![];
    walk("kskit", &root, &mut out);
    out
}

struct Demo {
    _t: tempfile::TempDir,
    d: std::path::PathBuf,
}

impl Demo {
    fn zsk(&self) -> std::path::PathBuf {
        self.d.join("zsk-side")
    }
    fn ksk(&self) -> std::path::PathBuf {
        self.d.join("ksk-side")
    }
    fn p(&self, f: &str) -> String {
        s(&self.d.join(f)).to_string()
    }
}

fn ksk_id(dir: &Path) -> String {
    key_list(dir).iter().find(|k| k["role"] == "ksk").expect("a KSK")["id"].as_str().unwrap().to_string()
}

#[test]
fn every_documented_json_output_parses_and_has_its_documented_fields() {
    let sections = json_doc();
    // Every leaf command is documented.
    let undocumented: Vec<String> = leaves().into_iter().filter(|l| !sections.contains_key(l)).collect();
    assert!(undocumented.is_empty(), "commands without a section in docs/json.md: {undocumented:?}");

    let t = tempfile::tempdir().unwrap();
    let d = t.path().join("demo");
    ok(run_kskit(t.path(), &["demo", "--dir", s(&d)]), "kskit demo");
    let demo = Demo { _t: t, d };
    let pass = demo.p("passphrase");
    let zsk = demo.zsk();
    let ksk = demo.ksk();
    let ksk_key = ksk_id(&ksk);
    let identity = age::x25519::Identity::generate();
    let id_file = demo.d.join("custodian.txt");
    {
        use age::secrecy::ExposeSecret as _;
        std::fs::write(&id_file, identity.to_string().expose_secret()).unwrap();
    }
    let recipient = identity.to_public().to_string();
    let zone_file = demo.d.join("zone.db");
    std::fs::write(&zone_file, "").unwrap();
    let transcript = demo.d.join("t.jsonl");
    std::fs::write(
        demo.d.join("quick.toml"),
        "title = \"quick\"\n[[steps]]\ntitle = \"Say\"\nrole = \"Ceremony Administrator\"\nsay = \"Say\"\ncommand = \"true\"\nconfirm = \"said\"\n",
    )
    .unwrap();
    let free_port = free_port().to_string();

    // Command (docs/json.md heading) -> (directory, arguments, accepted exit codes).
    let ksr = demo.p("request.ksr.xml");
    let skr = demo.p("response.skr.xml");
    let ta = demo.p("trust-anchor.ds");
    let runs: Vec<(&str, std::path::PathBuf, Vec<String>, &[i32])> = vec![
        ("kskit init", demo.d.clone(), vec!["init".into(), demo.p("other"), "--zone".into(), "example.net".into()], &[0]),
        ("kskit key generate", demo.d.join("other"), vec!["key".into(), "generate".into(), "--role".into(), "ksk".into(), "--algorithm".into(), "ED25519".into(), "--passphrase-file".into(), pass.clone()], &[0]),
        ("kskit key list", zsk.clone(), vec!["key".into(), "list".into()], &[0]),
        ("kskit key ds", ksk.clone(), vec!["key".into(), "ds".into(), ksk_key.clone()], &[0]),
        ("kskit key dnskey", ksk.clone(), vec!["key".into(), "dnskey".into(), ksk_key.clone()], &[0]),
        ("kskit key backup", ksk.clone(), vec!["key".into(), "backup".into(), ksk_key.clone(), "-o".into(), demo.p("backup.age"), "--recipient".into(), recipient.clone(), "--passphrase-file".into(), pass.clone()], &[0]),
        ("kskit key restore", demo.d.join("other"), vec!["key".into(), "restore".into(), demo.p("backup.age"), "--identity".into(), s(&id_file).into(), "--passphrase-file".into(), pass.clone()], &[0]),
        ("kskit key split", ksk.clone(), vec!["key".into(), "split".into(), ksk_key.clone(), "--threshold".into(), "2".into(), "--shares".into(), "3".into(), "-o".into(), demo.p("shares"), "--passphrase-file".into(), pass.clone()], &[0]),
        ("kskit key combine", ksk.clone(), vec!["key".into(), "combine".into(), demo.p("shares/share-1-of-3.json"), demo.p("shares/share-2-of-3.json"), "-o".into(), demo.p("combined.age"), "--passphrase-file".into(), pass.clone()], &[0]),
        ("kskit zsk pregenerate", zsk.clone(), vec!["zsk".into(), "pregenerate".into(), "--until".into(), "+400d".into(), "--passphrase-file".into(), pass.clone()], &[0]),
        ("kskit ksr generate", zsk.clone(), vec!["ksr".into(), "generate".into(), "--from".into(), "now".into(), "--until".into(), "+90d".into(), "-o".into(), demo.p("k2.xml"), "--passphrase-file".into(), pass.clone()], &[0]),
        ("kskit ksr verify", ksk.clone(), vec!["ksr".into(), "verify".into(), ksr.clone()], &[0]),
        ("kskit ksr sign", ksk.clone(), vec!["ksr".into(), "sign".into(), ksr.clone(), "--ksk".into(), ksk_key.clone(), "-o".into(), demo.p("s2.xml"), "--yes".into(), "--passphrase-file".into(), pass.clone()], &[0]),
        ("kskit ksr sign-batch", ksk.clone(), vec!["ksr".into(), "sign-batch".into(), ksr.clone(), "--ksk".into(), ksk_key.clone(), "-o".into(), demo.p("batch"), "--yes".into(), "--passphrase-file".into(), pass.clone()], &[0]),
        ("kskit policy check", ksk.clone(), vec!["policy".into(), "check".into()], &[0, 1]),
        ("kskit skr verify", zsk.clone(), vec!["skr".into(), "verify".into(), skr.clone(), "--ksr".into(), ksr.clone(), "--trust-anchor".into(), ta.clone()], &[0]),
        ("kskit skr import", zsk.clone(), vec!["skr".into(), "import".into(), skr.clone(), "--ksr".into(), ksr.clone(), "--trust-anchor".into(), ta.clone()], &[0]),
        ("kskit skr list", zsk.clone(), vec!["skr".into(), "list".into()], &[0]),
        ("kskit export", zsk.clone(), vec!["export".into(), "--to".into(), "knot".into(), "--output".into(), demo.p("knot.skr")], &[0]),
        ("kskit check", zsk.clone(), vec!["check".into()], &[0, 1, 2]),
        ("kskit digest", demo.d.clone(), vec!["digest".into(), ksr.clone()], &[0]),
        ("kskit trust-anchor", ksk.clone(), vec!["trust-anchor".into()], &[0]),
        ("kskit rollover plan", zsk.clone(), vec!["rollover".into(), "plan".into()], &[0]),
        ("kskit rollover status", zsk.clone(), vec!["rollover".into(), "status".into()], &[0]),
        ("kskit rollover step", zsk.clone(), vec!["rollover".into(), "step".into()], &[0, 1]),
        ("kskit parent poll", ksk.clone(), vec!["parent".into(), "poll".into(), "--server".into(), format!("127.0.0.1:{free_port}"), "--timeout".into(), "1".into()], &[1]),
        ("kskit hsm list", demo.d.clone(), vec!["hsm".into(), "list".into(), "--module".into(), SOFTHSM_MODULE.into()], &[0]),
        ("kskit ceremony run", demo.d.clone(), vec!["ceremony".into(), "run".into(), "quick.toml".into(), "--yes".into(), "--transcript".into(), s(&transcript).into()], &[0]),
        ("kskit ceremony verify-transcript", demo.d.clone(), vec!["ceremony".into(), "verify-transcript".into(), s(&transcript).into()], &[0]),
        ("kskit manpages", demo.d.clone(), vec!["manpages".into(), demo.p("man1")], &[0]),
        ("kskit version", demo.d.clone(), vec!["version".into(), "--verbose".into()], &[0]),
        ("kskit report", zsk.clone(), vec!["report".into(), "--html".into(), demo.p("report.html")], &[0]),
    ];
    let _ = &zone_file;
    let ran: Vec<&str> = runs.iter().map(|r| r.0).collect();
    for (name, sec) in &sections {
        if sec.no_json || sec.fields.is_empty() {
            continue;
        }
        let skipped = SKIPPED.iter().any(|(n, _)| n == name);
        assert!(skipped || ran.contains(&name.as_str()), "docs/json.md documents {name} but this test does not run it (add it or to SKIPPED with a reason)");
    }

    let mut problems = Vec::new();
    for (name, dir, args, codes) in &runs {
        let Some(sec) = sections.get(*name) else {
            problems.push(format!("{name}: run here but not documented in docs/json.md"));
            continue;
        };
        if *name == "kskit hsm list" && !require_tools("SoftHSM2", "softhsm2", &[], &[SOFTHSM_MODULE]) {
            continue;
        }
        let mut full = vec!["--json".to_string()];
        full.extend(args.iter().cloned());
        let o = run_kskit(dir, &full);
        let code = o.status.code().unwrap_or(-1);
        if !codes.contains(&code) {
            problems.push(format!("{name}: exit {code}, expected {codes:?}:\n{}", text(&o)));
            continue;
        }
        let out = String::from_utf8_lossy(&o.stdout);
        // `ceremony run` prints its summary after the JSON object.
        // `ceremony run` is interactive: its result object is the lines from `{` to `}`.
        let json_text: String = if *name == "kskit ceremony run" {
            let lines: Vec<&str> = out.lines().collect();
            let a = lines.iter().position(|l| *l == "{").unwrap_or(0);
            let b = lines.iter().rposition(|l| *l == "}").unwrap_or(lines.len().saturating_sub(1));
            lines[a..=b.max(a)].join("\n")
        } else {
            out.to_string()
        };
        let v: Value = match serde_json::from_str(&json_text) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{name}: output is not JSON ({e}):\n{out}"));
                continue;
            }
        };
        for (path, ty) in &sec.fields {
            check_json_path(&v, path, ty, &mut problems, &format!("{name}: {path}"));
        }
    }
    assert!(problems.is_empty(), "--json outputs disagree with docs/json.md:\n{}", problems.join("\n"));
}
