//! `kskit key ds` and `kskit trust-anchor` in the forms registrars ask for
//! (issue 18 point 4): each output is checked against the record it came
//! from, the DS digests against ldns-key2ds and dnssec-dsfromkey, the EPP
//! XML parsed with quick-xml for the RFC 5910 element names and values.

mod common;

use common::*;
use quick_xml::events::Event;
use serde_json::Value;

const NS: &str = "urn:ietf:params:xml:ns:secDNS-1.1";

struct Setup {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    id: String,
    dnskey: String,
}

fn setup(alg: &str) -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = kskit_init(tmp.path(), "k", "example.com");
    kskit_generate_ksk(&dir, alg);
    let keys = key_list(&dir);
    let id = keys[0]["id"].as_str().unwrap().to_string();
    let dnskey = ok(run_kskit(&dir, &["key", "dnskey", &id]), "key dnskey").trim().to_string();
    Setup { _tmp: tmp, dir, id, dnskey }
}

/// (key tag, algorithm, digest type, digest) of a DS presentation line.
fn ds_fields(line: &str) -> (u16, u8, u8, String) {
    let f: Vec<&str> = line.split_whitespace().collect();
    let i = f.iter().position(|x| *x == "DS").expect("a DS record");
    (f[i + 1].parse().unwrap(), f[i + 2].parse().unwrap(), f[i + 3].parse().unwrap(), f[i + 4..].concat().to_uppercase())
}

/// The DNSKEY fields of a presentation line: flags, protocol, algorithm, base64 key.
fn dnskey_fields(line: &str) -> (u16, u8, u8, String) {
    let f: Vec<&str> = line.split_whitespace().collect();
    let i = f.iter().position(|x| *x == "DNSKEY").expect("a DNSKEY record");
    (f[i + 1].parse().unwrap(), f[i + 2].parse().unwrap(), f[i + 3].parse().unwrap(), f[i + 4..].concat())
}

/// Parses an EPP fragment: checks the root is `secDNS:create` in the RFC 5910
/// namespace and returns, for every element whose children are text, the
/// list of (local name, text) inside each `child` element.
fn parse_epp(xml: &str, child: &str) -> Vec<Vec<(String, String)>> {
    let mut r = quick_xml::NsReader::from_str(xml);
    let mut out: Vec<Vec<(String, String)>> = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut cur_text = String::new();
    loop {
        match r.read_resolved_event().unwrap_or_else(|e| panic!("EPP XML is not well-formed: {e}\n{xml}")) {
            (ns, Event::Start(e)) => {
                let local = String::from_utf8(e.local_name().as_ref().to_vec()).unwrap();
                match ns {
                    quick_xml::name::ResolveResult::Bound(n) => assert_eq!(n.as_ref(), NS.as_bytes(), "element {local} in the wrong namespace"),
                    other => panic!("element {local} not in the secDNS namespace: {other:?}"),
                }
                assert_eq!(e.name().prefix().map(|p| p.as_ref().to_vec()), Some(b"secDNS".to_vec()));
                if stack.is_empty() {
                    assert_eq!(local, "create", "root element");
                }
                if local == child {
                    out.push(Vec::new());
                }
                stack.push(local);
                cur_text.clear();
            }
            (_, Event::Text(t)) => cur_text.push_str(&t.unescape().unwrap()),
            (_, Event::End(_)) => {
                let name = stack.pop().unwrap();
                if stack.last().map(String::as_str) == Some(child) {
                    out.last_mut().unwrap().push((name, cur_text.trim().to_string()));
                }
                cur_text.clear();
            }
            (_, Event::Eof) => break,
            _ => {}
        }
    }
    assert!(stack.is_empty());
    out
}

fn ldns_key2ds(dnskey: &str, digest_flag: &str) -> String {
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("Kexample.com.+000+00000.key");
    std::fs::write(&f, format!("{dnskey}\n")).unwrap();
    let o = output(std::process::Command::new("ldns-key2ds").args(["-n", digest_flag, s(&f)]));
    ok(o, "ldns-key2ds")
}

fn dsfromkey(dnskey: &str, digest: &str) -> String {
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("dnskey.txt");
    std::fs::write(&f, format!("{dnskey}\n")).unwrap();
    let o = output(std::process::Command::new("dnssec-dsfromkey").args(["-a", digest, "-f", s(&f), "example.com"]));
    ok(o, "dnssec-dsfromkey")
}

#[test]
fn key_ds_presentation_and_json_match_ldns_key2ds_and_dnssec_dsfromkey() {
    if !require_tools("ldns-key2ds and dnssec-dsfromkey", "ldnsutils, bind9-utils", &["ldns-key2ds", "dnssec-dsfromkey"], &[]) {
        return;
    }
    for alg in ["ECDSAP256SHA256", "RSASHA256"] {
        let su = setup(alg);
        let (flags, proto, algn, pubkey) = dnskey_fields(&su.dnskey);
        let pres = ok(run_kskit(&su.dir, &["key", "ds", &su.id, "--digest", "sha256,sha384", "--format", "presentation"]), "key ds");
        let lines: Vec<&str> = pres.lines().collect();
        assert_eq!(lines.len(), 2, "{pres}");
        let ldns256 = ds_fields(&ldns_key2ds(&su.dnskey, "-2"));
        let ldns384 = ds_fields(&ldns_key2ds(&su.dnskey, "-4"));
        let bind256 = ds_fields(&dsfromkey(&su.dnskey, "SHA-256"));
        let bind384 = ds_fields(&dsfromkey(&su.dnskey, "SHA-384"));
        assert_eq!(ds_fields(lines[0]), ldns256);
        assert_eq!(ds_fields(lines[0]), bind256);
        assert_eq!(ds_fields(lines[1]), ldns384);
        assert_eq!(ds_fields(lines[1]), bind384);

        // --format json and the global --json give the same document.
        let j1 = ok(run_kskit(&su.dir, &["key", "ds", &su.id, "--digest", "sha256,sha384", "--format", "json"]), "key ds json");
        let j2 = ok(run_kskit(&su.dir, &["--json", "key", "ds", &su.id, "--digest", "sha256,sha384"]), "key ds --json");
        assert_eq!(j1, j2);
        let v: Value = serde_json::from_str(&j1).unwrap();
        assert_eq!(v["id"], su.id.as_str());
        assert_eq!(v["zone"], "example.com.");
        for (d, (want, dtname)) in v["ds"].as_array().unwrap().iter().zip([(&bind256, "SHA-256"), (&bind384, "SHA-384")]) {
            assert_eq!(d["key_tag"].as_u64().unwrap(), u64::from(want.0));
            assert_eq!(v["key_tag"].as_u64().unwrap(), u64::from(want.0));
            assert_eq!(d["algorithm"]["number"].as_u64().unwrap(), u64::from(want.1));
            assert_eq!(d["algorithm"]["mnemonic"], alg);
            assert_eq!(d["digest_type"]["number"].as_u64().unwrap(), u64::from(want.2));
            assert_eq!(d["digest_type"]["name"], dtname);
            assert_eq!(d["digest"].as_str().unwrap(), want.3);
            assert_eq!(ds_fields(d["record"].as_str().unwrap()), *want);
        }
        let k = &v["dnskey"];
        assert_eq!(k["flags"].as_u64().unwrap(), u64::from(flags));
        assert_eq!(k["protocol"].as_u64().unwrap(), u64::from(proto));
        assert_eq!(k["algorithm"]["number"].as_u64().unwrap(), u64::from(algn));
        assert_eq!(k["public_key"].as_str().unwrap(), pubkey);
    }
}

#[test]
fn key_ds_epp_is_rfc5910_ds_data_and_key_data_with_the_records_values() {
    let su = setup("ECDSAP256SHA256");
    let pres = ok(run_kskit(&su.dir, &["key", "ds", &su.id, "--digest", "sha256,sha384"]), "key ds");
    let want: Vec<_> = pres.lines().map(ds_fields).collect();
    let xml = ok(run_kskit(&su.dir, &["key", "ds", &su.id, "--digest", "sha256,sha384", "--format", "epp"]), "key ds epp");
    let ds = parse_epp(&xml, "dsData");
    assert_eq!(ds.len(), 2, "{xml}");
    for (got, w) in ds.iter().zip(&want) {
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["keyTag", "alg", "digestType", "digest"], "RFC 5910 §4.1 element order");
        assert_eq!(got[0].1, w.0.to_string());
        assert_eq!(got[1].1, w.1.to_string());
        assert_eq!(got[2].1, w.2.to_string());
        assert_eq!(got[3].1, w.3);
    }

    let (flags, proto, alg, pubkey) = dnskey_fields(&su.dnskey);
    let xml = ok(run_kskit(&su.dir, &["key", "ds", &su.id, "--format", "epp-key"]), "key ds epp-key");
    let kd = parse_epp(&xml, "keyData");
    assert_eq!(kd.len(), 1, "{xml}");
    let names: Vec<&str> = kd[0].iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["flags", "protocol", "alg", "pubKey"], "RFC 5910 §4.2 element order");
    assert_eq!(kd[0][0].1, flags.to_string());
    assert_eq!(kd[0][1].1, proto.to_string());
    assert_eq!(kd[0][2].1, alg.to_string());
    assert_eq!(kd[0][3].1, pubkey);
}

#[test]
fn key_ds_fields_lists_names_and_numbers_of_the_record() {
    let su = setup("ECDSAP256SHA256");
    let (tag, alg, dt, digest) = ds_fields(&ok(run_kskit(&su.dir, &["key", "ds", &su.id]), "key ds"));
    let f = ok(run_kskit(&su.dir, &["key", "ds", &su.id, "--format", "fields"]), "key ds fields");
    let field = |name: &str| -> Vec<String> {
        f.lines()
            .filter_map(|l| l.trim().strip_prefix(&format!("{name}:")).map(|v| v.trim().to_string()))
            .collect()
    };
    assert_eq!(field("Domain"), ["example.com"]);
    assert_eq!(field("Key tag"), [tag.to_string()]);
    assert_eq!(field("Algorithm"), [format!("{alg} (ECDSAP256SHA256)"), format!("{alg} (ECDSAP256SHA256)")]);
    assert_eq!(field("Digest type"), [format!("{dt} (SHA-256)")]);
    assert_eq!(field("Digest"), [digest]);
    let (flags, proto, _, pubkey) = dnskey_fields(&su.dnskey);
    assert_eq!(field("Flags"), [format!("{flags} (KSK/SEP)")]);
    assert_eq!(field("Protocol"), [proto.to_string()]);
    assert_eq!(field("Public key"), [pubkey]);
}

#[test]
fn trust_anchor_offers_the_registrar_formats_for_the_same_key() {
    let su = setup("ECDSAP256SHA256");
    let key_ds = ok(run_kskit(&su.dir, &["key", "ds", &su.id]), "key ds");
    let ta_ds = ok(run_kskit(&su.dir, &["trust-anchor", "--format", "presentation"]), "trust-anchor presentation");
    assert_eq!(key_ds, ta_ds);
    assert_eq!(ta_ds, ok(run_kskit(&su.dir, &["trust-anchor", "--format", "ds"]), "trust-anchor ds"));
    for f in ["json", "epp", "epp-key", "fields"] {
        let a = ok(run_kskit(&su.dir, &["key", "ds", &su.id, "--format", f]), "key ds");
        let b = ok(run_kskit(&su.dir, &["trust-anchor", "--format", f]), "trust-anchor");
        assert_eq!(a, b, "format {f}");
    }
    let j384 = ok(run_kskit(&su.dir, &["trust-anchor", "--format", "json", "--digest", "sha384"]), "trust-anchor json sha384");
    let v: Value = serde_json::from_str(&j384).unwrap();
    assert_eq!(v["ds"][0]["digest_type"]["number"], 4);
    assert_eq!(v["ds"][0]["digest"].as_str().unwrap().len(), 96);
}
