//! `kskit check --live` and `kskit cds check` against real name servers:
//! knotd instances on 127.0.0.1, 127.0.0.2 (and ::1), one port, each serving
//! a pre-signed zone with DNSSEC signing off, good or broken by editing
//! records. No mock servers.
//!
//! - `check --live`: a zone signed by `kskit sign-zone` from a `kskit demo`
//!   ZSK side (SKR imported), so "the bundle in force" is the real one.
//! - `cds check`: a zone built and signed here with kskit's library (a KSK
//!   and a ZSK in software), so that a validly signed CDS can point at a key
//!   that does not sign the DNSKEY RRset.
//!
//! knotd missing: FAIL when CI=true, else skip with a note.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kskit::backends::soft::{self, SoftKey};
use kskit::backends::Signer as _;
use kskit::dnssec::presentation::{format_record, parse_records};
use kskit::dnssec::record::rtype;
use kskit::dnssec::sign::sign_rrset;
use kskit::dnssec::name::same_name;
use kskit::dnssec::{parse_name, Algorithm, DigestType, Dnskey, RData, Record, RrSet};
use serde_json::Value;

/// One knotd serving `zone` from `text` on `addrs` at `port`; killed when dropped.
struct ZoneServer {
    _k: Knotd,
    dir: tempfile::TempDir,
}

impl ZoneServer {
    fn log(&self) -> String {
        knotd_log(self.dir.path())
    }
}

fn serve(zone: &str, text: &str, addrs: &[&str], port: u16) -> ZoneServer {
    let dir = tempfile::tempdir().unwrap();
    let listen: Vec<String> = addrs.iter().map(|a| format!("{a}@{port}")).collect();
    std::fs::write(dir.path().join("zone.db"), text).unwrap();
    // Served as written: never re-signed, synced or journaled.
    let template = "    zonefile-sync: -1\n    zonefile-load: whole\n    journal-content: none\n";
    let child = start_knotd(dir.path(), &format!("[ {} ]", listen.join(", ")), template, &format!("  - domain: {zone}\n    file: zone.db\n"));
    let s = ZoneServer { _k: Knotd(child), dir };
    // Wait (bounded) until every address answers the SOA authoritatively.
    let name = parse_name(zone).unwrap();
    let opts = kskit::parent::query::QueryOptions { timeout: Duration::from_millis(300), tcp_only: false, recursion_desired: false, dnssec_ok: false };
    for a in addrs {
        let sa: std::net::SocketAddr = if a.contains(':') { format!("[{a}]:{port}") } else { format!("{a}:{port}") }.parse().unwrap();
        let mut up = false;
        for _ in 0..100 {
            if let (_, Ok(m)) = kskit::parent::query::exchange(sa, &name, hickory_proto::rr::RecordType::SOA, &opts) {
                if m.metadata.authoritative && !m.answers.is_empty() {
                    up = true;
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(up, "knotd does not serve {zone} at {sa}:\n{}", s.log());
    }
    s
}

/// Whether ::1 can be bound here (some containers have no IPv6 loopback).
fn have_v6() -> bool {
    std::net::UdpSocket::bind("[::1]:0").is_ok()
}

/// A port free on 127.0.0.1, 127.0.0.2 and (when there) ::1, UDP and TCP.
fn lab_port() -> u16 {
    for _ in 0..50 {
        let p = free_port();
        let ok2 = ["127.0.0.2", "127.0.0.3"].iter().all(|a| std::net::UdpSocket::bind((*a, p)).is_ok() && std::net::TcpListener::bind((*a, p)).is_ok());
        let ok6 = !have_v6() || (std::net::UdpSocket::bind(("::1", p)).is_ok() && std::net::TcpListener::bind(("::1", p)).is_ok());
        if ok2 && ok6 {
            return p;
        }
    }
    panic!("no port free on 127.0.0.1, 127.0.0.2 and ::1");
}

fn json_of(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(o)))
}

fn findings(v: &Value) -> Vec<(String, String, String)> {
    v["live"]["findings"]
        .as_array()
        .map(|a| a.iter().map(|f| (f["id"].as_str().unwrap_or("").to_string(), f["status"].as_str().unwrap_or("").to_string(), f["message"].as_str().unwrap_or("").to_string())).collect())
        .unwrap_or_default()
}

#[track_caller]
fn assert_finding(v: &Value, id: &str, status: &str, needle: &str) {
    let f = findings(v);
    assert!(f.iter().any(|(i, s, m)| i == id && s == status && m.contains(needle)), "no {status} {id} finding containing {needle:?} in {f:#?}");
}

// ---------------------------------------------------------------- check --live

/// The unsigned zone: two NS names, ns1 with an IPv4 and (when there is
/// one) an IPv6 loopback address, ns2 on 127.0.0.2. SOA expire 2 days.
fn unsigned_zone(v6: bool) -> String {
    format!(
        "$ORIGIN example.com.\n$TTL 3600\n@ SOA ns1.example.com. hostmaster.example.com. 1 3600 600 172800 300\n\
         @ NS ns1.example.com.\n@ NS ns2.example.com.\nns1 A 127.0.0.1\n{}ns2 A 127.0.0.2\nwww A 192.0.2.80\n",
        if v6 { "ns1 AAAA ::1\n" } else { "" }
    )
}

/// `kskit demo` and `kskit sign-zone` of [`unsigned_zone`]: the ZSK side
/// directory and the signed zone text.
fn demo_signed(t: &Path, v6: bool) -> (PathBuf, String) {
    let d = kskit_demo(t, None);
    let signed = demo_sign_zone(&d, &unsigned_zone(v6), &t.join("signed.db"), &[]);
    (d.join("zsk-side"), signed)
}

/// `kskit --json check --live` in `zdir`, discovering the servers through
/// the zone's own first server (it answers NS, A and AAAA itself).
fn check_live(zdir: &Path, port: u16, extra: &[&str]) -> (i32, Value, String) {
    let resolver = format!("127.0.0.1:{port}");
    let p = port.to_string();
    let mut args = vec!["--json", "check", "--live", "--resolver", &resolver, "--ns-port", &p, "--timeout", "2", "--sample", "www.example.com/A"];
    args.extend(extra);
    let o = run_kskit(zdir, &args);
    (o.status.code().unwrap_or(-1), json_of(&o), text(&o))
}

/// Two servers, as the NS records say: ns1 (127.0.0.1 and ::1) and ns2 (127.0.0.2).
fn two_servers(zone1: &str, zone2: &str, v6: bool, port: u16) -> (ZoneServer, ZoneServer) {
    let a1: Vec<&str> = if v6 { vec!["127.0.0.1", "::1"] } else { vec!["127.0.0.1"] };
    (serve("example.com.", zone1, &a1, port), serve("example.com.", zone2, &["127.0.0.2"], port))
}

#[test]
fn live_good_zone_at_every_ns_address_is_ok_and_metrics_are_written() {
    if !knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let v6 = have_v6();
    let (zdir, signed) = demo_signed(t.path(), v6);
    let port = lab_port();
    let (_a, _b) = two_servers(&signed, &signed, v6, port);
    let metrics = t.path().join("kskit.prom");
    let (code, v, out) = check_live(&zdir, port, &["--metrics", s(&metrics)]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["status"], "OK");
    assert_eq!(v["live"]["status"], "OK", "{out}");
    let servers = v["live"]["servers"].as_array().unwrap();
    // every address of every NS name, over UDP and over TCP
    assert_eq!(servers.len(), if v6 { 6 } else { 4 }, "{out}");
    for want in ["127.0.0.1", "127.0.0.2"] {
        assert!(servers.iter().any(|x| x["server"].as_str().unwrap().starts_with(want) && x["transport"] == "tcp"), "{want} not asked over TCP: {out}");
    }
    if v6 {
        assert!(servers.iter().any(|x| x["server"].as_str().unwrap().starts_with("[::1]")), "::1 not asked: {out}");
    }
    assert!(v["live"]["bundle"].as_str().unwrap().contains("bundle"), "{out}");
    let m = std::fs::read_to_string(&metrics).unwrap();
    assert!(m.contains("kskit_check_status{zone=\"example.com.\"} 0"), "{m}");
    assert!(m.contains("# TYPE kskit_skr_coverage_days gauge"), "{m}");
    assert!(m.lines().any(|l| l.starts_with("kskit_live_dnskey_response_bytes{zone=\"example.com.\",server=\"127.0.0.2:")), "{m}");
    assert!(m.lines().any(|l| l.starts_with("kskit_live_rrsig_expiry_seconds{") && l.contains("rrset=\"www.example.com. A\"")), "{m}");
    // thresholds: a warning margin longer than the signatures' validity warns
    let (code, v, out) = check_live(&zdir, port, &["--sig-warn", "400", "--sig-crit", "1"]);
    assert_eq!(code, 1, "{out}");
    assert_finding(&v, "LIVE-RRSIG-MARGIN", "WARNING", "signatures expire in");
    // the plugin line in text mode
    let o = run_kskit(&zdir, &["check", "--live", "--server", &format!("127.0.0.2:{port}"), "--timeout", "2"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).starts_with("KSKIT OK - example.com.: 1 server address(es)"), "{}", text(&o));
}

/// A zone really signed in the past: `kskit demo` run 60 days ago
/// (libfaketime), its zone signed by `kskit sign-zone --at` 59 days ago.
/// Every RRSIG is genuine (it verifies at its own time) and expired now.
#[test]
fn live_zone_signed_in_the_past_has_expired_rrsigs_and_is_critical() {
    if !knotd_present() || !require_tools("libfaketime", "libfaketime", &[], &[FAKETIME_LIB]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let d = kskit_demo(t.path(), Some(now - time::Duration::days(60)));
    let at = kskit::timeutil::format_rfc3339(now - time::Duration::days(59));
    let out = t.path().join("signed.db");
    let signed = demo_sign_zone(&d, &unsigned_zone(false), &out, &["--at", &at]);
    // Valid at the time it was signed: nothing but time is wrong with it.
    let o = run_kskit(t.path(), &["verify-zone", s(&out), "--trust-anchor", s(&d.join("trust-anchor.ds")), "--now", &at]);
    assert_eq!(o.status.code(), Some(0), "the zone signed in the past does not verify at its own time:\n{}", text(&o));
    let o = run_kskit(t.path(), &["verify-zone", s(&out), "--trust-anchor", s(&d.join("trust-anchor.ds"))]);
    assert_eq!(o.status.code(), Some(1), "its signatures are not expired now:\n{}", text(&o));
    let port = lab_port();
    let (_a, _b) = two_servers(&signed, &signed, false, port);
    let (code, v, out) = check_live(&d.join("zsk-side"), port, &[]);
    assert_eq!(code, 2, "{out}");
    for q in ["example.com. SOA", "example.com. DNSKEY", "www.example.com. A"] {
        assert_finding(&v, "LIVE-RRSIG-VALID", "CRITICAL", &format!("{q}: RRSIG expired (at "));
    }
    // The expiry named is in the past, before now.
    let f = findings(&v);
    let (_, _, msg) = f.iter().find(|(i, _, m)| i == "LIVE-RRSIG-VALID" && m.starts_with("example.com. SOA")).unwrap();
    let stamp = msg.split("(at ").nth(1).unwrap().trim_end_matches(')');
    let stamp = &stamp[..14];
    let when = time::PrimitiveDateTime::parse(stamp, time::macros::format_description!("[year][month][day][hour][minute][second]")).unwrap().assume_utc();
    assert!(when < now && when > now - time::Duration::days(59), "{msg}");
}

/// A different DNSKEY: the first DNSKEY line with a changed public key octet.
fn altered_dnskey(zone: &str, n: usize) -> Vec<String> {
    let line = zone.lines().find(|l| l.split_whitespace().nth(3) == Some("DNSKEY")).expect("a DNSKEY line");
    let f: Vec<&str> = line.split_whitespace().collect();
    let key: String = f[7..].concat();
    (0..n)
        .map(|i| {
            let mut k: Vec<char> = key.chars().collect();
            let c = if k[10 + i] == 'A' { 'B' } else { 'A' };
            k[10 + i] = c;
            format!("{} {} IN DNSKEY 256 3 13 {}", f[0], f[1], k.into_iter().collect::<String>())
        })
        .collect()
}

#[test]
fn live_dnskey_set_not_the_bundle_in_force_is_critical() {
    if !knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (zdir, signed) = demo_signed(t.path(), false);
    let broken = format!("{signed}{}\n", altered_dnskey(&signed, 1).join("\n"));
    let port = lab_port();
    let (_a, _b) = two_servers(&signed, &broken, false, port);
    let (code, v, out) = check_live(&zdir, port, &[]);
    assert_eq!(code, 2, "{out}");
    assert_finding(&v, "LIVE-DNSKEY-BUNDLE", "CRITICAL", "is not the bundle in force");
    assert_finding(&v, "LIVE-SERVERS-AGREE", "CRITICAL", "servers disagree on example.com. DNSKEY");
    let f = findings(&v);
    let bundle: Vec<_> = f.iter().filter(|(i, ..)| i == "LIVE-DNSKEY-BUNDLE").collect();
    assert!(v["live"]["findings"].as_array().unwrap().iter().filter(|x| x["id"] == "LIVE-DNSKEY-BUNDLE").all(|x| x["server"].as_str().unwrap().starts_with("127.0.0.2")), "{bundle:?}");
}

#[test]
fn live_dnskey_response_too_large_for_udp_is_reported() {
    if !knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (zdir, signed) = demo_signed(t.path(), false);
    let big = format!("{signed}{}\n", altered_dnskey(&signed, 14).join("\n"));
    let port = lab_port();
    let (_a, _b) = two_servers(&big, &big, false, port);
    let (code, v, out) = check_live(&zdir, port, &[]);
    assert_eq!(code, 2, "{out}");
    assert_finding(&v, "LIVE-DNSKEY-SIZE", "WARNING", "is truncated over UDP");
    let udp = v["live"]["servers"].as_array().unwrap().iter().find(|x| x["transport"] == "udp").unwrap().clone();
    assert_eq!(udp["dnskey_truncated"], true, "{udp}");
    assert!(udp["dnskey_size"].as_u64().unwrap() > 1232, "{udp}");
}

#[test]
fn live_server_answering_without_rrsigs_is_critical() {
    if !knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (zdir, signed) = demo_signed(t.path(), false);
    let stripped: String = signed.lines().filter(|l| l.split_whitespace().nth(3) != Some("RRSIG")).map(|l| format!("{l}\n")).collect();
    let port = lab_port();
    let (_a, _b) = two_servers(&signed, &stripped, false, port);
    let (code, v, out) = check_live(&zdir, port, &[]);
    assert_eq!(code, 2, "{out}");
    assert_finding(&v, "LIVE-RRSIG-PRESENT", "CRITICAL", "example.com. DNSKEY: answered without RRSIG to a DO query");
    let bad: Vec<&Value> = v["live"]["findings"].as_array().unwrap().iter().filter(|x| x["id"] == "LIVE-RRSIG-PRESENT").collect();
    assert!(!bad.is_empty() && bad.iter().all(|x| x["server"].as_str().unwrap().starts_with("127.0.0.2")), "{bad:?}");
}

/// The lines of a signed zone (one record a line, `owner TTL IN TYPE ...`)
/// without those `drop` selects, given the fields; returns the text and
/// how many lines were dropped.
fn without_lines(zone: &str, drop: impl Fn(&[&str]) -> bool) -> (String, usize) {
    let mut n = 0;
    let kept: String = zone
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let d = drop(&f);
            n += usize::from(d);
            !d
        })
        .map(|l| format!("{l}\n"))
        .collect();
    (kept, n)
}

#[test]
fn live_unsigned_or_missing_denial_of_existence_is_critical() {
    if !knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (zdir, signed) = demo_signed(t.path(), false);
    // ns1: no NSEC records at all; ns2: NSEC records without their RRSIGs.
    let (no_nsec, n) = without_lines(&signed, |f| f.get(3) == Some(&"NSEC") || (f.get(3) == Some(&"RRSIG") && f.get(4) == Some(&"NSEC")));
    assert!(n >= 2, "no NSEC dropped");
    let (unsigned, n) = without_lines(&signed, |f| f.get(3) == Some(&"RRSIG") && f.get(4) == Some(&"NSEC"));
    assert!(n >= 1, "no RRSIG NSEC dropped");
    let port = lab_port();
    let (_a, _b) = two_servers(&no_nsec, &unsigned, false, port);
    let (code, v, out) = check_live(&zdir, port, &[]);
    assert_eq!(code, 2, "{out}");
    let probe = v["live"]["probe"].as_str().expect("the probe name").to_string();
    assert!(probe.starts_with("kskit-nx-") && probe.ends_with(".example.com. A"), "{probe}");
    let denial: Vec<(String, String, String)> = v["live"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "LIVE-DENIAL")
        .map(|f| (f["server"].as_str().unwrap().to_string(), f["status"].as_str().unwrap().to_string(), f["message"].as_str().unwrap().to_string()))
        .collect();
    // every address and transport of both servers, and nothing else at fault
    assert_eq!(denial.len(), 4, "{denial:#?}");
    for (server, status, msg) in &denial {
        assert_eq!(status, "CRITICAL");
        assert!(msg.starts_with(&format!("{probe} (NXDOMAIN): ")), "{msg}");
        if server.starts_with("127.0.0.1") {
            assert!(msg.contains("no NSEC or NSEC3 record in the authority section"), "{msg}");
        } else {
            assert!(server.starts_with("127.0.0.2"), "{server}");
            assert!(msg.contains(" NSEC: no RRSIG: the denial of existence is unsigned"), "{msg}");
        }
    }
    let others: Vec<_> = findings(&v).into_iter().filter(|(i, ..)| i != "LIVE-DENIAL").collect();
    assert!(others.is_empty(), "only the denial is broken: {others:#?}");
}

/// example.net. signed here by kskit's zone signer with two algorithms
/// (ECDSAP256SHA256 and ED25519: a KSK and a ZSK each; the DNSKEY RRset
/// signed by both KSKs), with NSEC3 (RFC 9276 parameters) as the denial.
fn two_algorithm_zone() -> String {
    use kskit::signzone::{format_zone, sign_zone, Denial, SignOptions, Verify};
    let zone = parse_name("example.net.").unwrap();
    let unsigned = "$ORIGIN example.net.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.1\nwww A 192.0.2.80\n";
    let recs = parse_records(unsigned, Some(&zone), Some(3600)).unwrap();
    let gen = |a: Algorithm, f: u16| soft::generate(a, None, f).unwrap();
    let (k13, z13, k15, z15) = (gen(Algorithm::EcdsaP256Sha256, 257), gen(Algorithm::EcdsaP256Sha256, 256), gen(Algorithm::Ed25519, 257), gen(Algorithm::Ed25519, 256));
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as u32;
    let dnskeys: Vec<Record> = [&k13, &z13, &k15, &z15].iter().map(|k| Record::new(zone.clone(), 3600, RData::Dnskey(k.dnskey().clone()))).collect();
    let set = RrSet::from_records(&dnskeys).unwrap();
    let mut presigned = dnskeys.clone();
    for k in [&k13, &k15] {
        presigned.push(Record::new(zone.clone(), 3600, RData::Rrsig(sign_rrset(k, &set, &zone, now - 3600, now + 10 * 86400).unwrap())));
    }
    let opts = SignOptions {
        inception: now - 3600,
        expiration: now + 10 * 86400,
        jitter: 0,
        threads: 1,
        denial: Denial::Nsec3 { param: kskit::dnssec::denial::Nsec3Param::rfc9276(), opt_out: false },
        verify: Verify::All,
    };
    let z = sign_zone(&zone, &recs, &presigned, &[&z13, &z15], &opts).unwrap();
    format_zone(&z, "; two algorithms")
}

/// `kskit --json check --live-only --zone example.net.` of `servers`, in a
/// directory without kskit.toml (a zone signed elsewhere).
fn check_live_only(dir: &Path, servers: &[String]) -> (i32, Value, String) {
    let mut args: Vec<&str> = vec!["--json", "check", "--live-only", "--zone", "example.net.", "--timeout", "2", "--sample", "www.example.net/A"];
    for s in servers {
        args.extend(["--server", s.as_str()]);
    }
    let o = run_kskit(dir, &args);
    (o.status.code().unwrap_or(-1), json_of(&o), text(&o))
}

#[test]
fn live_one_algorithm_missing_from_the_soa_signatures_is_critical() {
    if !knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let signed = two_algorithm_zone();
    // The same zone without the ED25519 RRSIG over the SOA RRset: still
    // validly signed by ECDSAP256SHA256 (RFC 6840 §5.11 validators accept
    // it), but the signer's rule (RFC 4035 §2.2) is broken.
    let (broken, n) = without_lines(&signed, |f| f.get(3) == Some(&"RRSIG") && f.get(4) == Some(&"SOA") && f.get(5) == Some(&"15"));
    assert_eq!(n, 1, "one RRSIG SOA of algorithm 15:\n{signed}");
    let port = lab_port();
    let (_a, _b) = (serve("example.net.", &signed, &["127.0.0.1"], port), serve("example.net.", &broken, &["127.0.0.2"], port));
    // The good server alone: every check passes, the NSEC3 denial included.
    let (code, v, out) = check_live_only(t.path(), &[format!("127.0.0.1:{port}")]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["status"], "OK", "{out}");
    assert!(v["live"]["bundle"].is_null(), "no SKR bundle compared: {out}");
    let (code, v, out) = check_live_only(t.path(), &[format!("127.0.0.1:{port}"), format!("127.0.0.2:{port}")]);
    assert_eq!(code, 2, "{out}");
    assert_finding(&v, "LIVE-RRSIG-ALGORITHMS", "CRITICAL", "example.net. SOA: no valid RRSIG of algorithm 15 (ED25519) of the served DNSKEY RRset (signed by algorithm 13 (ECDSAP256SHA256) only");
    let all = v["live"]["findings"].as_array().unwrap();
    assert!(all.iter().all(|f| f["server"].as_str().unwrap().starts_with("127.0.0.2")), "only the broken server is at fault: {all:#?}");
    assert!(all.iter().all(|f| f["id"] == "LIVE-RRSIG-ALGORITHMS" || f["id"] == "LIVE-SERVERS-AGREE"), "{all:#?}");
    // the text plugin line names it too
    let o = run_kskit(t.path(), &["check", "--live-only", "--zone", "example.net.", "--server", &format!("127.0.0.2:{port}"), "--timeout", "2"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).starts_with("KSKIT CRITICAL - example.net.: LIVE-RRSIG-ALGORITHMS 127.0.0.2:"), "{}", text(&o));
}

#[test]
fn live_cds_differing_between_servers_is_critical() {
    if !knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (zdir, signed) = demo_signed(t.path(), false);
    assert!(signed.contains(" CDS "), "the demo bundle publishes CDS:\n{signed}");
    let other: String = signed
        .lines()
        .map(|l| if l.split_whitespace().nth(3) == Some("CDS") { l.replacen(" 2 ", " 4 ", 1) } else { l.to_string() } + "\n")
        .collect();
    assert_ne!(other, signed);
    let port = lab_port();
    let (_a, _b) = two_servers(&signed, &other, false, port);
    let (code, v, out) = check_live(&zdir, port, &[]);
    assert_eq!(code, 2, "{out}");
    assert_finding(&v, "LIVE-SERVERS-AGREE", "CRITICAL", "servers disagree on example.com. CDS");
}

// ---------------------------------------------------------------- cds check

const LAB: &str = "example.org.";

/// A zone built and signed here: SOA, NS, A, the DNSKEY RRset {KSK, ZSK}
/// signed by the KSK, CDS (SHA-256) and CDNSKEY for `cds_keys` signed by
/// the KSK unless `unsigned_cds`; everything else signed by the ZSK.
fn lab_zone(ksk: &SoftKey, zsk: &SoftKey, cds_keys: &[&Dnskey], unsigned_cds: bool) -> String {
    lab_zone_ns(ksk, zsk, cds_keys, unsigned_cds, "@ NS ns1\nns1 A 127.0.0.1\n")
}

/// [`lab_zone`] with the NS (and glue) records given as zone text.
fn lab_zone_ns(ksk: &SoftKey, zsk: &SoftKey, cds_keys: &[&Dnskey], unsigned_cds: bool, ns: &str) -> String {
    let zone = parse_name(LAB).unwrap();
    let mut extra = Vec::new();
    for k in cds_keys {
        extra.push(Record::new(zone.clone(), 3600, RData::Cds(k.ds(&zone, DigestType::Sha256))));
        extra.push(Record::new(zone.clone(), 3600, RData::Cdnskey((*k).clone())));
    }
    signed_zone(LAB, ns, ksk, zsk, extra, unsigned_cds)
}

/// A zone `origin` with SOA, `body` (zone text) and `extra` records, the
/// DNSKEY RRset {KSK, ZSK} signed by the KSK, CDS and CDNSKEY signed by the
/// KSK unless `unsigned_cds`, everything else by the ZSK; valid from an
/// hour ago for 10 days.
fn signed_zone(origin: &str, body: &str, ksk: &SoftKey, zsk: &SoftKey, extra: Vec<Record>, unsigned_cds: bool) -> String {
    let zone = parse_name(origin).unwrap();
    let base = format!("$ORIGIN {origin}\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n{body}");
    let mut recs = parse_records(&base, Some(&zone), Some(3600)).unwrap();
    for k in [ksk, zsk] {
        recs.push(Record::new(zone.clone(), 3600, RData::Dnskey(k.dnskey().clone())));
    }
    recs.extend(extra);
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as u32;
    let mut out: Vec<String> = recs.iter().map(format_record).collect();
    let mut keys: Vec<(String, u16)> = Vec::new();
    for r in &recs {
        let k = (r.name.to_string().to_lowercase(), r.rtype());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    for (n, t) in keys {
        let set: Vec<Record> = recs.iter().filter(|r| r.name.to_string().to_lowercase() == n && r.rtype() == t).cloned().collect();
        let rrset = RrSet::from_records(&set).unwrap();
        let by_ksk = matches!(t, rtype::DNSKEY | rtype::CDS | rtype::CDNSKEY) && same_name(&rrset.name, &zone);
        if unsigned_cds && matches!(t, rtype::CDS | rtype::CDNSKEY) {
            continue;
        }
        let sig = sign_rrset(if by_ksk { ksk } else { zsk }, &rrset, &zone, now - 3600, now + 10 * 86400).unwrap();
        out.push(format_record(&Record::new(rrset.name.clone(), 3600, RData::Rrsig(sig))));
    }
    out.join("\n") + "\n"
}

fn keys() -> (SoftKey, SoftKey) {
    (soft::generate(Algorithm::EcdsaP256Sha256, None, 257).unwrap(), soft::generate(Algorithm::EcdsaP256Sha256, None, 256).unwrap())
}

/// `kskit [--json] cds check --zone example.org.` against the servers, with the current DS of `ds_key`.
fn cds_check(t: &Path, servers: &[String], ds_key: Option<&SoftKey>, extra: &[&str]) -> (i32, String) {
    let mut args: Vec<String> = vec!["cds".into(), "check".into(), "--zone".into(), LAB.into(), "--timeout".into(), "2".into()];
    for s in servers {
        args.extend(["--server".into(), s.clone()]);
    }
    if let Some(k) = ds_key {
        let zone = parse_name(LAB).unwrap();
        let p = t.join("current.ds");
        std::fs::write(&p, format_record(&Record::new(zone.clone(), 3600, RData::Ds(k.dnskey().ds(&zone, DigestType::Sha256))))).unwrap();
        args.extend(["--ds".into(), s(&p).to_string()]);
    }
    args.extend(extra.iter().map(|x| x.to_string()));
    let o = run_kskit(t, &args);
    (o.status.code().unwrap_or(-1), text(&o))
}

#[test]
fn cds_good_set_is_accepted_and_as_registry_prints_the_ds() {
    if !knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (ksk, zsk) = keys();
    let z = lab_zone(&ksk, &zsk, &[ksk.dnskey()], false);
    let port = lab_port();
    let (_a, _b) = (serve(LAB, &z, &["127.0.0.1"], port), serve(LAB, &z, &["127.0.0.2"], port));
    let servers = vec![format!("127.0.0.1:{port}"), format!("127.0.0.2:{port}")];
    let (code, out) = cds_check(t.path(), &servers, Some(&ksk), &[]);
    assert_eq!(code, 0, "{out}");
    for id in ["CDS-FETCHED", "CDS-SAME-EVERYWHERE", "CDS-BOTH-PRESENT", "CDS-CONSISTENT", "CDS-SIGNED", "CDS-CHAIN", "CDS-KEYS-SIGN-DNSKEY"] {
        assert!(out.contains(&format!("PASS {id}")), "{id} not passed:\n{out}");
    }
    let (code, out) = cds_check(t.path(), &servers, Some(&ksk), &["--as-registry"]);
    assert_eq!(code, 0, "{out}");
    let zone = parse_name(LAB).unwrap();
    let want = kskit::parent::ds_text(&ksk.dnskey().ds(&zone, DigestType::Sha256));
    assert_eq!(out.trim(), format!("{LAB} 3600 IN DS {want}"));
    // Without the current DS (and no bootstrapping) nothing authenticates it.
    let (code, out) = cds_check(t.path(), &servers, None, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL CDS-CHAIN"), "{out}");
    // With a DS of another key, the chain does not hold.
    let (other, _) = keys();
    let (code, out) = cds_check(t.path(), &servers, Some(&other), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("REJECT") && out.contains("CDS-CHAIN"), "{out}");
}

#[test]
fn cds_differing_between_two_servers_is_rejected() {
    if !knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (ksk, zsk) = keys();
    let (ksk2, _) = keys();
    let port = lab_port();
    // Both sets validly signed, each consistent: only the servers disagree.
    let (_a, _b) = (serve(LAB, &lab_zone(&ksk, &zsk, &[ksk.dnskey()], false), &["127.0.0.1"], port), serve(LAB, &lab_zone(&ksk, &zsk, &[ksk.dnskey(), ksk2.dnskey()], false), &["127.0.0.2"], port));
    let (code, out) = cds_check(t.path(), &[format!("127.0.0.1:{port}"), format!("127.0.0.2:{port}")], Some(&ksk), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL CDS-SAME-EVERYWHERE: the CDS RRset differs between servers"), "{out}");
    assert!(out.contains("a registry would REJECT the CDS/CDNSKEY of example.org.: CDS-FETCHED") || out.contains("REJECT the CDS/CDNSKEY of example.org.: CDS-SAME-EVERYWHERE"), "{out}");
}

#[test]
fn cds_unsigned_is_rejected() {
    if !knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (ksk, zsk) = keys();
    let port = lab_port();
    let _a = serve(LAB, &lab_zone(&ksk, &zsk, &[ksk.dnskey()], true), &["127.0.0.1"], port);
    let (code, out) = cds_check(t.path(), &[format!("127.0.0.1:{port}")], Some(&ksk), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL CDS-SIGNED") && out.contains("example.org. CDS: no RRSIG"), "{out}");
    let (code, out) = cds_check(t.path(), &[format!("127.0.0.1:{port}")], Some(&ksk), &["--as-registry"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("REJECT") && out.contains("CDS-SIGNED"), "{out}");
}

#[test]
fn cds_pointing_at_a_key_that_does_not_sign_the_dnskey_rrset_is_rejected() {
    if !knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (ksk, zsk) = keys();
    let port = lab_port();
    // The CDS and CDNSKEY name the ZSK: in the DNSKEY RRset, but it does not sign it.
    let _a = serve(LAB, &lab_zone(&ksk, &zsk, &[zsk.dnskey()], false), &["127.0.0.1"], port);
    let (code, out) = cds_check(t.path(), &[format!("127.0.0.1:{port}")], Some(&ksk), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PASS CDS-SIGNED"), "the CDS is validly signed:\n{out}");
    assert!(out.contains("FAIL CDS-KEYS-SIGN-DNSKEY") && out.contains(&format!("CDS {} 13 2", zsk.dnskey().key_tag())), "{out}");
}

#[test]
fn cds_delete_mixed_with_others_is_rejected() {
    if !knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (ksk, zsk) = keys();
    let port = lab_port();
    let z = lab_zone(&ksk, &zsk, &[ksk.dnskey()], false);
    // An unsigned delete CDS added to the set (its RRSIG no longer covers it either).
    let _a = serve(LAB, &format!("{z}{LAB} 3600 IN CDS 0 0 0 00\n"), &["127.0.0.1"], port);
    let (code, out) = cds_check(t.path(), &[format!("127.0.0.1:{port}")], Some(&ksk), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL CDS-DELETE-ALONE"), "{out}");
}

#[test]
fn cds_without_ds_is_accepted_only_through_rfc9615_signaling_records() {
    if !knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (ksk, zsk) = keys();
    let (sksk, szsk) = keys();
    let port = lab_port();
    // The child: its only NS name is in signal.test., served by 127.0.0.3.
    let child = lab_zone_ns(&ksk, &zsk, &[ksk.dnskey()], false, "@ NS ns1.signal.test.\n");
    let _c = serve(LAB, &child, &["127.0.0.1"], port);
    let child_name = parse_name(LAB).unwrap();
    let sig_name = parse_name("_dsboot.example.org._signal.ns1.signal.test.").unwrap();
    let signal = |cds_key: &SoftKey| {
        let recs = vec![
            Record::new(sig_name.clone(), 3600, RData::Cds(cds_key.dnskey().ds(&child_name, DigestType::Sha256))),
            Record::new(sig_name.clone(), 3600, RData::Cdnskey(cds_key.dnskey().clone())),
        ];
        signed_zone("signal.test.", "@ NS ns1\nns1 A 127.0.0.3\n", &sksk, &szsk, recs, false)
    };
    let anchor = t.path().join("signal.ds");
    let st = parse_name("signal.test.").unwrap();
    std::fs::write(&anchor, format_record(&Record::new(st.clone(), 3600, RData::Ds(sksk.dnskey().ds(&st, DigestType::Sha256))))).unwrap();
    let srv = vec![format!("127.0.0.1:{port}")];
    let sig_server = format!("127.0.0.3:{port}");
    let boot = ["--signal-anchor", s(&anchor), "--signal-server", &sig_server];
    {
        let _s = serve("signal.test.", &signal(&ksk), &["127.0.0.3"], port);
        let (code, out) = cds_check(t.path(), &srv, None, &boot);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("PASS CDS-CHAIN: no DS: authenticated by RFC 9615"), "{out}");
        // Another anchor for signal.test.: the signaling records do not validate.
        let (other, _) = keys();
        let bad = t.path().join("other.ds");
        std::fs::write(&bad, format_record(&Record::new(st.clone(), 3600, RData::Ds(other.dnskey().ds(&st, DigestType::Sha256))))).unwrap();
        let (code, out) = cds_check(t.path(), &srv, None, &["--signal-anchor", s(&bad), "--signal-server", &sig_server]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("FAIL CDS-CHAIN: RFC 9615: NS ns1.signal.test.:") && out.contains("trust anchor"), "{out}");
    }
    // Signaling records for another key than the child's CDS: rejected.
    let (ksk2, _) = keys();
    let _s = serve("signal.test.", &signal(&ksk2), &["127.0.0.3"], port);
    let (code, out) = cds_check(t.path(), &srv, None, &boot);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL CDS-CHAIN: RFC 9615: _dsboot.example.org._signal.ns1.signal.test. CDS") && out.contains("is not the child's CDS RRset"), "{out}");
}
