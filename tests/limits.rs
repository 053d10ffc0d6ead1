//! Input limits: oversized KSR/SKR/trust-anchor files are refused before they
//! are read (from the file's length, or after the limit for a device or
//! pipe), and hostile XML (billion laughs, external entities, deep nesting,
//! huge attributes) is refused without exhausting memory.
//!
//! Every CLI run here is bounded: the child's address space is limited with
//! `ulimit -v` (1 GiB), so a parser that tried to expand entities, or a CLI
//! that read a 10 GB file into memory, would die of a failed allocation
//! (a signal, not exit 2) and fail the test. A run that does not finish
//! within a generous deadline is killed and fails the test (a hang guard,
//! not a speed assertion).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{kskit_init, s};
use kskit::formats::{parse_ksr_any, parse_skr_any, FormatError, MAX_INPUT};

/// Address-space bound for the child, in KiB (1 GiB).
const CHILD_VMEM_KIB: u64 = 1024 * 1024;
/// A run that takes longer than this is hung (generous: debug builds, busy machine).
const HANG_GUARD: Duration = Duration::from_secs(120);

struct Bounded {
    code: Option<i32>,
    stderr: String,
}

/// Runs `kskit ARGS` in `dir` with its address space bounded by
/// [`CHILD_VMEM_KIB`], killing it after [`HANG_GUARD`].
fn run_bounded(dir: &Path, args: &[&str]) -> Bounded {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!("ulimit -v {CHILD_VMEM_KIB} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_kskit"))
        .args(args)
        .current_dir(dir)
        .env_remove("KSKIT_CONFIG")
        .env_remove("KSKIT_PIN")
        .env("KSKIT_PASSPHRASE", common::PASSPHRASE);
    let (code, stderr) = common::run_with_guard(&mut c, HANG_GUARD, &format!("kskit {args:?}"));
    Bounded { code, stderr }
}

/// Asserts a bounded run was refused with exit 2 (a clean error, not a crash
/// or an out-of-memory death) and that its message contains every `needle`.
#[track_caller]
fn assert_refused(r: &Bounded, needles: &[&str]) {
    assert_eq!(r.code, Some(2), "expected a clean refusal (exit 2), got {:?}:\n{}", r.code, r.stderr);
    for n in needles {
        assert!(r.stderr.contains(n), "message does not name {n:?}:\n{}", r.stderr);
    }
}

/// A kskit directory, a trust anchor for the SKR commands, and the temp dir.
fn setup() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = kskit_init(tmp.path(), "ksk", "example.com.");
    let ta = tmp.path().join("ta.ds");
    std::fs::write(&ta, "example.com. IN DS 12345 13 2 0000000000000000000000000000000000000000000000000000000000000000\n").expect("write ta");
    (tmp, dir, ta)
}

/// A sparse file of `len` bytes (takes no disk space).
fn sparse(path: &Path, len: u64) {
    let f = std::fs::File::create(path).expect("create");
    f.set_len(len).expect("set_len");
}

/// Every command that reads a KSR or an SKR, on `file`.
fn readers<'a>(file: &'a str, ta: &'a str) -> Vec<Vec<&'a str>> {
    vec![
        vec!["ksr", "verify", file],
        vec!["skr", "verify", file, "--trust-anchor", ta],
        vec!["skr", "import", file, "--without-ksr", "--trust-anchor", ta],
    ]
}

#[test]
fn ten_gigabyte_file_is_refused_from_its_length() {
    let (tmp, dir, ta) = setup();
    let big = tmp.path().join("big.xml");
    sparse(&big, 10 * 1024 * 1024 * 1024);
    for args in readers(s(&big), s(&ta)) {
        let r = run_bounded(&dir, &args);
        assert_refused(&r, &[&MAX_INPUT.to_string(), "more than the limit", "big.xml"]);
    }
    // The trust anchor goes through the same limit (read after a valid SKR).
    let demo = tmp.path().join("demo");
    common::ok(common::run_kskit(tmp.path(), &["demo", "--dir", s(&demo)]), "kskit demo");
    let skr = demo.join("response.skr.xml");
    let r = run_bounded(&dir, &["skr", "verify", s(&skr), "--trust-anchor", s(&big)]);
    assert_refused(&r, &[&MAX_INPUT.to_string()]);
}

#[test]
fn one_byte_over_the_limit_is_refused_and_the_limit_itself_is_not() {
    let (tmp, dir, _ta) = setup();
    let over = tmp.path().join("over.txt");
    sparse(&over, MAX_INPUT as u64 + 1);
    let r = run_bounded(&dir, &["ksr", "verify", s(&over)]);
    assert_refused(&r, &[&format!("{} bytes", MAX_INPUT + 1), &MAX_INPUT.to_string()]);
    // Exactly the limit is read and parsed (and then fails as a KSR: NUL bytes are no format).
    let at = tmp.path().join("at.txt");
    sparse(&at, MAX_INPUT as u64);
    let r = run_bounded(&dir, &["ksr", "verify", s(&at)]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(!r.stderr.contains("more than the limit"), "a file of exactly the limit was refused as too large:\n{}", r.stderr);
    assert!(r.stderr.contains("not a valid KSR"), "{}", r.stderr);
}

#[test]
fn endless_device_is_cut_off_at_the_limit() {
    // /dev/zero reports no length: the read itself stops past the limit.
    let (_tmp, dir, _ta) = setup();
    let r = run_bounded(&dir, &["ksr", "verify", "/dev/zero"]);
    assert_refused(&r, &[&MAX_INPUT.to_string(), "/dev/zero"]);
}

/// Hostile XML documents, each with words its refusal must name.
fn hostile_xml() -> Vec<(&'static str, String, Vec<&'static str>)> {
    let mut laughs = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE KSR [\n <!ENTITY lol \"lol\">\n");
    for i in 1..=9 {
        let prev = if i == 1 { "lol".to_string() } else { format!("lol{}", i - 1) };
        laughs.push_str(&format!(" <!ENTITY lol{i} \"{}\">\n", format!("&{prev};").repeat(10)));
    }
    laughs.push_str("]>\n<KSR id=\"&lol9;\" domain=\".\"><Request>&lol9;</Request></KSR>\n");
    let external = "<?xml version=\"1.0\"?>\n<!DOCTYPE KSR [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<KSR id=\"x\" domain=\".\">&xxe;</KSR>\n".to_string();
    let external_dtd = "<?xml version=\"1.0\"?>\n<!DOCTYPE KSR SYSTEM \"http://127.0.0.1:9/ksr.dtd\">\n<KSR id=\"x\" domain=\".\"/>\n".to_string();
    let deep = format!("<KSR id=\"x\" domain=\".\">{}{}</KSR>", "<a>".repeat(10_000), "</a>".repeat(10_000));
    let deep_unclosed = format!("<KSR id=\"x\" domain=\".\">{}", "<Request>".repeat(10_000));
    let attr_1mb = format!("<KSR id=\"{}\" domain=\".\"/>", "A".repeat(kskit::formats::iana::MAX_TEXT + 1));
    let text_2mb = format!("<KSR id=\"x\" domain=\".\"><Request>{}</Request></KSR>", "A".repeat(2 * 1024 * 1024));
    vec![
        ("billion laughs", laughs, vec!["DOCTYPE"]),
        ("external entity", external, vec!["DOCTYPE"]),
        ("external DTD", external_dtd, vec!["DOCTYPE"]),
        ("10000 nested elements", deep, vec!["nested deeper than 32"]),
        ("10000 unclosed elements", deep_unclosed, vec!["nested deeper than 32"]),
        ("1 MiB attribute", attr_1mb, vec!["attribute", "longer than"]),
        ("2 MiB text", text_2mb, vec!["longer than"]),
    ]
}

#[test]
fn hostile_xml_is_refused_by_the_parsers() {
    for (what, xml, needles) in hostile_xml() {
        for (kind, r) in [
            ("KSR", parse_ksr_any(xml.as_bytes()).map(|_| ())),
            ("SKR", parse_skr_any(xml.as_bytes()).map(|_| ())),
        ] {
            let e = match r {
                Err(e @ FormatError::Xml { .. }) => e.to_string(),
                other => panic!("{what} as {kind}: expected an XML error, got {other:?}"),
            };
            for n in &needles {
                assert!(e.contains(n), "{what} as {kind}: error does not name {n:?}: {e}");
            }
        }
    }
}

#[test]
fn hostile_xml_is_refused_by_the_cli_within_bounded_memory() {
    let (tmp, dir, ta) = setup();
    for (i, (what, xml, needles)) in hostile_xml().into_iter().enumerate() {
        let f = tmp.path().join(format!("hostile-{i}.xml"));
        std::fs::write(&f, &xml).expect("write");
        for args in readers(s(&f), s(&ta)) {
            let r = run_bounded(&dir, &args);
            assert_eq!(r.code, Some(2), "{what}: kskit {args:?} exited {:?}:\n{}", r.code, r.stderr);
            for n in &needles {
                assert!(r.stderr.contains(n), "{what}: kskit {args:?} does not name {n:?}:\n{}", r.stderr);
            }
        }
    }
    // Nothing was imported.
    let skr_dir = dir.join("keystore").join("skr");
    let imported = std::fs::read_dir(&skr_dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(imported, 0, "a refused SKR left files under {}", skr_dir.display());
}

#[test]
fn twenty_megabyte_attribute_is_refused_by_size() {
    let (tmp, dir, ta) = setup();
    let xml = format!("<KSR id=\"{}\" domain=\".\"/>", "A".repeat(20 * 1024 * 1024));
    assert!(matches!(parse_ksr_any(xml.as_bytes()), Err(FormatError::TooLarge { .. })));
    assert!(matches!(parse_skr_any(xml.as_bytes()), Err(FormatError::TooLarge { .. })));
    let f = tmp.path().join("attr20.xml");
    std::fs::write(&f, &xml).expect("write");
    for args in readers(s(&f), s(&ta)) {
        let r = run_bounded(&dir, &args);
        assert_refused(&r, &[&MAX_INPUT.to_string(), "more than the limit"]);
    }
}

#[test]
fn many_records_in_the_text_format_stay_bounded() {
    // A text SKR just under the limit made of one repeated record: parsed or
    // refused, but within the memory bound and with a clean exit.
    let (tmp, dir, ta) = setup();
    let rec = "example.com. 3600 IN DNSKEY 256 3 13 jVW3s5AfAwIQeOY3TwrwjJarogOb8/XxX9bmtyivGwDSYGT3DPXaigxOC4gWm4YQqg28Dpu31CgzWXjf5bI5Ng==\n";
    let mut text = String::from(";; SignedKeyResponse 1.0 20261123000000 (2026-11-23T00:00:00Z)\n");
    while text.len() + rec.len() < MAX_INPUT {
        text.push_str(rec);
    }
    let f = tmp.path().join("many.txt");
    std::fs::write(&f, &text).expect("write");
    let r = run_bounded(&dir, &["skr", "verify", s(&f), "--trust-anchor", s(&ta)]);
    assert!(matches!(r.code, Some(1) | Some(2)), "kskit skr verify on 16 MiB of records exited {:?}:\n{}", r.code, r.stderr);
}
