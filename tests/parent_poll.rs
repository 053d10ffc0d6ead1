//! `kskit parent poll` against real authoritative servers: knotd instances on
//! 127.0.0.1 serving the parent zone `example.` that delegates
//! `child.example.`, with the DS RRset present, absent or stale per test; a
//! silent UDP socket stands in for a server that never answers.
//!
//! knotd missing: FAIL when CI=true, else skip with a note.

mod common;
use common::{free_port, ParentKnot};

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::RecordType;

const DS_NEW: &str = "12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";
const DS_STALE: &str = "54321 13 2 FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210FEDCBA9876543210";

fn kskit(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kskit"))
        .args(args)
        .current_dir(dir)
        .env_remove("KSKIT_CONFIG")
        .output()
        .expect("run kskit")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn expect_file(dir: &Path, records: &[&str]) -> PathBuf {
    let p = dir.join("expected.ds");
    let body: String = records.iter().map(|r| format!("child.example. 3600 IN {r}\n")).collect();
    std::fs::write(&p, body).unwrap();
    p
}

/// Runs `kskit --json parent poll` for child.example. against `servers`.
fn poll(dir: &Path, expected: &Path, servers: &[String], extra: &[&str]) -> (i32, serde_json::Value, String) {
    let mut args: Vec<String> = vec!["--json".into(), "parent".into(), "poll".into(), "--zone".into(), "child.example.".into()];
    for s in servers {
        args.push("--server".into());
        args.push(s.clone());
    }
    args.push("--expect-ds".into());
    args.push(expected.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = kskit(dir, &refs);
    let code = o.status.code().unwrap_or(-1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
    (code, v, text(&o))
}

fn server_entry<'a>(v: &'a serde_json::Value, addr: &str) -> &'a serde_json::Value {
    v["servers"].as_array().unwrap().iter().find(|s| s["server"] == addr).unwrap_or_else(|| panic!("no entry for {addr} in {v}"))
}

#[test]
fn ds_absent_is_not_seen() {
    if !common::knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let k = ParentKnot::start(&[], false);
    let exp = expect_file(t.path(), &[&format!("DS {DS_NEW}")]);
    let (code, v, out) = poll(t.path(), &exp, &[k.addr()], &[]);
    assert_eq!(code, 1, "{out}\n{}", k.log());
    assert_eq!(v["seen"], false);
    let s = server_entry(&v, &k.addr());
    assert_eq!(s["seen"], false);
    assert_eq!(s["aa"], true);
    assert_eq!(s["rcode"], "NOERROR");
    assert!(s["reason"].as_str().unwrap().contains("no DS"), "{v}");
}

#[test]
fn ds_on_both_servers_is_seen_and_json_has_every_server() {
    if !common::knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (ParentKnot::start(&[DS_NEW], false), ParentKnot::start(&[DS_NEW], false));
    let exp = expect_file(t.path(), &[&format!("DS {DS_NEW}")]);
    let (code, v, out) = poll(t.path(), &exp, &[a.addr(), b.addr()], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["seen"], true, "{v}");
    assert_eq!(v["zone"], "child.example.");
    assert_eq!(v["expected"][0], DS_NEW);
    assert_eq!(v["servers"].as_array().unwrap().len(), 2);
    for k in [&a, &b] {
        let s = server_entry(&v, &k.addr());
        assert_eq!(s["seen"], true);
        assert_eq!(s["transport"], "udp");
        assert_eq!(s["aa"], true);
        assert_eq!(s["ds"][0], DS_NEW);
    }
    // the same in text form
    let exp_s = exp.display().to_string();
    let o = kskit(t.path(), &["parent", "poll", "--zone", "child.example", "--server", &a.addr(), "--server", &b.addr(), "--expect-ds", &exp_s]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("SEEN: seen at all 2 server(s)"), "{}", text(&o));
}

#[test]
fn ds_on_one_of_two_servers_is_not_seen() {
    if !common::knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (ParentKnot::start(&[DS_NEW], false), ParentKnot::start(&[], false));
    let exp = expect_file(t.path(), &[&format!("DS {DS_NEW}")]);
    let (code, v, out) = poll(t.path(), &exp, &[a.addr(), b.addr()], &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(v["seen"], false);
    assert_eq!(server_entry(&v, &a.addr())["seen"], true);
    assert_eq!(server_entry(&v, &b.addr())["seen"], false);
    assert!(v["reason"].as_str().unwrap().contains("disagree"), "{v}");
}

#[test]
fn stale_extra_ds_is_not_seen() {
    if !common::knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (ParentKnot::start(&[DS_NEW, DS_STALE], false), ParentKnot::start(&[DS_NEW, DS_STALE], false));
    let exp = expect_file(t.path(), &[&format!("DS {DS_NEW}")]);
    let (code, v, out) = poll(t.path(), &exp, &[a.addr(), b.addr()], &[]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(v["seen"], false);
    let s = server_entry(&v, &a.addr());
    assert_eq!(s["ds"].as_array().unwrap().len(), 2);
    let why = s["reason"].as_str().unwrap();
    assert!(why.contains("unexpected") && why.contains("54321"), "{why}");
    // when the expected set has both, it is seen
    let exp2 = expect_file(t.path(), &[&format!("DS {DS_NEW}"), &format!("CDS {DS_STALE}")]);
    let (code, v, out) = poll(t.path(), &exp2, &[a.addr(), b.addr()], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["seen"], true);
}

#[test]
fn silent_server_times_out_and_is_not_seen() {
    if !common::knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let a = ParentKnot::start(&[DS_NEW], false);
    // bound, never read: queries to it go unanswered
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap().to_string();
    let exp = expect_file(t.path(), &[&format!("DS {DS_NEW}")]);
    let (code, v, out) = poll(t.path(), &exp, &[a.addr(), silent_addr.clone()], &["--timeout", "1"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(v["seen"], false);
    assert_eq!(server_entry(&v, &a.addr())["seen"], true);
    let s = server_entry(&v, &silent_addr);
    assert_eq!(s["seen"], false);
    assert_eq!(s["reason"], "timeout");
    assert_eq!(s["rcode"], serde_json::Value::Null);
    drop(silent);
}

#[test]
fn tcp_only_works() {
    if !common::knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let a = ParentKnot::start(&[DS_NEW], false);
    let exp = expect_file(t.path(), &[&format!("DS {DS_NEW}")]);
    let (code, v, out) = poll(t.path(), &exp, &[a.addr()], &["--tcp"]);
    assert_eq!(code, 0, "{out}");
    let s = server_entry(&v, &a.addr());
    assert_eq!(s["transport"], "tcp");
    assert_eq!(s["seen"], true);
    // TCP to a port where nothing listens is an error, not seen
    let closed = format!("127.0.0.1:{}", free_port());
    let (code, v, out) = poll(t.path(), &exp, std::slice::from_ref(&closed), &["--tcp", "--timeout", "1"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(server_entry(&v, &closed)["seen"], false);
}

#[test]
fn delete_request_is_seen_only_when_the_ds_is_gone() {
    if !common::knotd_present() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (gone, still) = (ParentKnot::start(&[], false), ParentKnot::start(&[DS_NEW], false));
    let exp = expect_file(t.path(), &["CDS 0 0 0 00"]);
    let (code, v, out) = poll(t.path(), &exp, &[gone.addr()], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["delete"], true);
    let (code, v, out) = poll(t.path(), &exp, &[gone.addr(), still.addr()], &[]);
    assert_eq!(code, 1, "{out}");
    assert!(server_entry(&v, &still.addr())["reason"].as_str().unwrap().contains("still present"), "{v}");
}

#[test]
fn discovery_through_a_given_resolver_finds_the_parent_ns() {
    if !common::knotd_present() {
        return;
    }
    // knotd answers `example. NS` with ns1.example. (A 127.0.0.9), as a
    // resolver would; the discovered server is then asked on port 53, where
    // nothing listens on 127.0.0.9: not seen, but the server list shows the
    // discovery worked.
    let t = tempfile::tempdir().unwrap();
    let a = ParentKnot::start(&[DS_NEW], false);
    let exp = expect_file(t.path(), &[&format!("DS {DS_NEW}")]);
    let (code, v, out) = poll(t.path(), &exp, &[], &["--resolver", &a.addr(), "--timeout", "1"]);
    assert_eq!(code, 1, "{out}");
    let servers = v["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "{v}");
    assert_eq!(servers[0]["server"], "127.0.0.9:53");
    assert_eq!(servers[0]["seen"], false);
}

#[test]
fn discovery_counts_an_ns_name_without_address_and_a_failed_lookup_as_not_seen_naming_them() {
    if !common::knotd_present() {
        return;
    }
    // The parent example. has three NS names: ns1 with an address (knotd
    // itself, holding the DS), ns2 with no address at all (NOERROR, no
    // data: the name exists, with a TXT record only) and ns3.elsewhere.
    // whose lookup knotd refuses (not its zone).
    // The one address seen is not enough: ns2 and ns3 are parent servers
    // too, so the DS is not confirmed, and both are named.
    let t = tempfile::tempdir().unwrap();
    let k = ParentKnot::start_with(&[DS_NEW], false, "@ NS ns1.example.\n@ NS ns2.example.\n@ NS ns3.elsewhere.\nns1 A 127.0.0.1\nns2 TXT \"no address\"\n", false);
    let exp = expect_file(t.path(), &[&format!("DS {DS_NEW}")]);
    let port = k.port.to_string();
    let (code, v, out) = poll(t.path(), &exp, &[], &["--resolver", &k.addr(), "--ns-port", &port, "--timeout", "2"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(v["seen"], false, "{v}");
    assert_eq!(v["ns_names"], 3, "{v}");
    assert_eq!(v["addresses"], 1, "{v}");
    let ns1 = server_entry(&v, &k.addr());
    assert_eq!(ns1["seen"], true, "{v}");
    assert_eq!(ns1["ns"][0], "ns1.example.", "{v}");
    let ns2 = server_entry(&v, "ns2.example.");
    assert_eq!(ns2["seen"], false);
    assert!(ns2["reason"].as_str().unwrap().contains("no A or AAAA address"), "{v}");
    assert!(ns2["transport"].is_null(), "nothing was asked for ns2: {v}");
    let ns3 = server_entry(&v, "ns3.elsewhere.");
    assert!(ns3["reason"].as_str().unwrap().contains("REFUSED"), "{v}");
    let reason = v["reason"].as_str().unwrap();
    assert!(reason.contains("not seen at 2 of 3") && reason.contains("ns2.example.") && reason.contains("ns3.elsewhere."), "{reason}");
    // the text report says so too, and counts what it asked
    let o = kskit(t.path(), &["parent", "poll", "--zone", "child.example.", "--expect-ds", &exp.display().to_string(), "--resolver", &k.addr(), "--ns-port", &port, "--timeout", "2"]);
    let txt = text(&o);
    assert_eq!(o.status.code(), Some(1), "{txt}");
    assert!(txt.contains("asked: 1 address(es) of 3 NS name(s)"), "{txt}");
    assert!(txt.contains("ns2.example. (not asked): NOT SEEN"), "{txt}");
    assert!(!txt.contains("SEEN: seen at all"), "{txt}");
}

#[test]
fn discovery_polls_the_ipv4_and_ipv6_addresses_of_every_ns_name() {
    if !common::knotd_present() {
        return;
    }
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("note: no IPv6 loopback here; IPv6 polling not tested");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let k = ParentKnot::start_with(&[DS_NEW], false, "@ NS ns1.example.\n@ NS ns2.example.\nns1 A 127.0.0.1\nns1 AAAA ::1\nns2 AAAA ::1\n", true);
    let exp = expect_file(t.path(), &[&format!("DS {DS_NEW}")]);
    let port = k.port.to_string();
    let (code, v, out) = poll(t.path(), &exp, &[], &["--resolver", &k.addr(), "--ns-port", &port, "--timeout", "2"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["ns_names"], 2, "{v}");
    assert_eq!(v["addresses"], 2, "{v}");
    let v6 = server_entry(&v, &format!("[::1]:{port}"));
    assert_eq!(v6["seen"], true, "{v}");
    assert_eq!(v6["ns"], serde_json::json!(["ns1.example.", "ns2.example."]), "{v}");
    assert_eq!(server_entry(&v, &k.addr())["seen"], true, "{v}");
    assert!(v["reason"].as_str().unwrap().contains("seen at all 2 server(s) of 2 NS name(s)"), "{v}");
}

#[test]
fn bad_arguments_exit_2() {
    // no knotd needed
    let t = tempfile::tempdir().unwrap();
    let exp = expect_file(t.path(), &[&format!("DS {DS_NEW}")]);
    let exp_s = exp.display().to_string();
    let o = kskit(t.path(), &["parent", "poll", "--zone", "child.example", "--server", "not an address", "--expect-ds", &exp_s]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("not an address"), "{}", text(&o));
    // no --expect-ds and no configuration: nothing to compare with
    let o = kskit(t.path(), &["parent", "poll", "--zone", "child.example", "--server", "127.0.0.1:9"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no configuration"), "{}", text(&o));
    // an expected record for another zone
    let other = t.path().join("other.ds");
    std::fs::write(&other, format!("other.example. 3600 IN DS {DS_NEW}\n")).unwrap();
    let o = kskit(t.path(), &["parent", "poll", "--zone", "child.example", "--server", "127.0.0.1:9", "--expect-ds", other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("other.example."), "{}", text(&o));
}

// ---- in-process fake servers: answers real servers do not give on demand ----

#[derive(Clone, Copy)]
enum Fake {
    /// AA clear, DS present: a lame server or a cached copy.
    Lame,
    /// Replies with the wrong id.
    WrongId,
    /// SERVFAIL.
    ServFail,
    /// UDP reply with TC set; the full answer only over TCP on the same port.
    Truncate,
}

fn ds_rdata() -> Vec<u8> {
    let mut v = vec![0x30, 0x39, 13, 2]; // 12345, ECDSAP256SHA256, SHA-256
    v.extend(data_encoding::HEXUPPER.decode(DS_NEW.rsplit(' ').next().unwrap().as_bytes()).unwrap());
    v
}

fn fake_reply(query: &Message, aa: bool, with_ds: bool) -> Message {
    use hickory_proto::rr::rdata::NULL;
    use hickory_proto::rr::{RData, Record};
    let mut m = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.authoritative = aa;
    m.add_queries(query.queries.clone());
    if with_ds {
        let owner = query.queries[0].name().clone();
        m.add_answer(Record::from_rdata(owner, 3600, RData::Unknown { code: RecordType::DS, rdata: NULL::with(ds_rdata()) }));
    }
    m
}

/// Serves `kind` on a UDP socket (and a TCP listener on the same port for
/// `Truncate`) for at most `max` queries or until 10 s without one.
fn fake_server(kind: Fake, max: usize) -> (String, std::thread::JoinHandle<()>) {
    // The UDP port the kernel picks may be taken for TCP (by another test's
    // connection): pick again until both bind.
    let (udp, tcp, addr) = (0..100)
        .find_map(|_| {
            let udp = UdpSocket::bind("127.0.0.1:0").ok()?;
            let addr = udp.local_addr().ok()?;
            let tcp = TcpListener::bind(addr).ok()?;
            Some((udp, tcp, addr))
        })
        .expect("no 127.0.0.1 port free for both UDP and TCP");
    udp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let h = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        for _ in 0..max {
            let Ok((n, peer)) = udp.recv_from(&mut buf) else { return };
            let Ok(q) = Message::from_vec(&buf[..n]) else { continue };
            let reply = match kind {
                Fake::Lame => fake_reply(&q, false, true),
                Fake::WrongId => {
                    let mut r = fake_reply(&q, true, true);
                    r.metadata.id = q.metadata.id.wrapping_add(1);
                    r
                }
                Fake::ServFail => {
                    let mut r = fake_reply(&q, true, false);
                    r.metadata.response_code = ResponseCode::ServFail;
                    r
                }
                Fake::Truncate => {
                    let mut r = fake_reply(&q, true, false);
                    r.metadata.truncation = true;
                    r
                }
            };
            let _ = udp.send_to(&reply.to_vec().unwrap(), peer);
            if let Fake::Truncate = kind {
                use std::io::{Read, Write};
                tcp.set_nonblocking(false).unwrap();
                let Ok((mut s, _)) = tcp.accept() else { return };
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut len = [0u8; 2];
                if s.read_exact(&mut len).is_err() {
                    return;
                }
                let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
                if s.read_exact(&mut msg).is_err() {
                    return;
                }
                let Ok(q) = Message::from_vec(&msg) else { return };
                let full = fake_reply(&q, true, true).to_vec().unwrap();
                let mut out = (full.len() as u16).to_be_bytes().to_vec();
                out.extend(full);
                let _ = s.write_all(&out);
            }
        }
    });
    (addr.to_string(), h)
}

#[test]
fn lame_wrong_id_and_servfail_are_not_seen_and_truncation_falls_back_to_tcp() {
    let t = tempfile::tempdir().unwrap();
    let exp = expect_file(t.path(), &[&format!("DS {DS_NEW}")]);
    let (lame, h1) = fake_server(Fake::Lame, 1);
    let (wrong, h2) = fake_server(Fake::WrongId, 1);
    let (servfail, h3) = fake_server(Fake::ServFail, 1);
    let (tc, h4) = fake_server(Fake::Truncate, 1);
    let servers = [lame.clone(), wrong.clone(), servfail.clone(), tc.clone()];
    let (code, v, out) = poll(t.path(), &exp, &servers, &["--timeout", "2"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(v["seen"], false);
    let r = |a: &str| server_entry(&v, a)["reason"].as_str().unwrap().to_string();
    assert!(r(&lame).contains("not authoritative"), "{v}");
    assert_eq!(server_entry(&v, &lame)["seen"], false);
    assert!(r(&wrong).contains("mismatched") && r(&wrong).contains("id"), "{v}");
    assert!(r(&servfail).contains("SERVFAIL"), "{v}");
    let tcs = server_entry(&v, &tc);
    assert_eq!(tcs["transport"], "udp+tcp", "{v}");
    assert_eq!(tcs["seen"], true, "{v}");
    assert_eq!(tcs["ds"][0], DS_NEW);
    for h in [h1, h2, h3, h4] {
        h.join().unwrap();
    }
}

/// The DS records of knotd's KSK for `example.`, from Knot's own keymgr.
fn knot_parent_ds(k: &ParentKnot) -> String {
    let o = Command::new("keymgr").arg("-c").arg(k.dir.path().join("knot.conf")).args(["example.", "ds"]).output().expect("run keymgr");
    let out = text(&o);
    assert!(o.status.success() && out.contains(" DS "), "keymgr ds failed:\n{out}");
    out
}

/// With a parent trust anchor, a DS answer counts only when it validates:
/// knotd signs the parent zone `example.`, the anchor is its KSK's DS from
/// keymgr. Both signed servers: seen. An anchor that pins only one server's
/// keys, or an unsigned server: not seen at that server. A delete request,
/// or an anchor that is not above the zone: refused (exit 2).
#[test]
fn validated_polls_count_only_signed_answers_from_the_anchor() {
    if !common::knotd_present() || !common::require_tools("Knot DNS (keymgr)", "knot", &["keymgr"], &[]) {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (ParentKnot::start(&[DS_NEW], true), ParentKnot::start(&[DS_NEW], true));
    let plain = ParentKnot::start(&[DS_NEW], false);
    let exp = expect_file(t.path(), &[&format!("DS {DS_NEW}")]);
    let both = t.path().join("parent-both.ds");
    std::fs::write(&both, format!("{}{}", knot_parent_ds(&a), knot_parent_ds(&b))).unwrap();
    let only_a = t.path().join("parent-a.ds");
    std::fs::write(&only_a, knot_parent_ds(&a)).unwrap();
    let anchor = |p: &Path| vec!["--parent-trust-anchor".to_string(), p.display().to_string()];

    let extra = anchor(&both);
    let refs: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (code, v, out) = poll(t.path(), &exp, &[a.addr(), b.addr()], &refs);
    assert_eq!(code, 0, "{out}\n{}\n{}", a.log(), b.log());
    assert_eq!(v["validated_from"], "example.");
    for k in [&a, &b] {
        assert!(server_entry(&v, &k.addr())["reason"].as_str().unwrap().contains("validates"), "{v}");
    }

    // The anchor pins only server a's keys: b's answer does not validate.
    let extra = anchor(&only_a);
    let refs: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (code, v, out) = poll(t.path(), &exp, &[a.addr(), b.addr()], &refs);
    assert_eq!(code, 1, "{out}");
    assert_eq!(server_entry(&v, &a.addr())["seen"], true, "{v}");
    let rb = server_entry(&v, &b.addr());
    assert_eq!(rb["seen"], false, "{v}");
    assert!(rb["reason"].as_str().unwrap().contains("trust anchor"), "{v}");

    // An unsigned server holding the same DS is not seen when validating,
    // and is seen without validation.
    let extra = anchor(&both);
    let refs: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (code, v, out) = poll(t.path(), &exp, &[a.addr(), plain.addr()], &refs);
    assert_eq!(code, 1, "{out}");
    assert!(server_entry(&v, &plain.addr())["reason"].as_str().unwrap().contains("not validated"), "{v}");
    let (code, _, out) = poll(t.path(), &exp, &[a.addr(), plain.addr()], &[]);
    assert_eq!(code, 0, "{out}");

    // Refused before any query: a delete cannot be validated, and the anchor must be the parent's.
    let del = t.path().join("delete.ds");
    std::fs::write(&del, "child.example. 3600 IN CDS 0 0 0 00\n").unwrap();
    let (code, _, out) = poll(t.path(), &del, &[a.addr()], &refs);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("denial of existence"), "{out}");
    let wrong = t.path().join("wrong.ds");
    std::fs::write(&wrong, format!("child.example. 3600 IN DS {DS_NEW}\n")).unwrap();
    let extra = anchor(&wrong);
    let refs: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (code, _, out) = poll(t.path(), &exp, &[a.addr()], &refs);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("not above child.example."), "{out}");
}
