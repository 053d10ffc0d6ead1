use super::query::{build_query, check_reply_matches, ds_answer, parse_server};
use super::*;
use crate::dnssec::parse_name;
use crate::dnssec::presentation::parse_records;
use crate::dnssec::Algorithm;
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::RecordType;

fn zone() -> Name {
    parse_name("child.example.").unwrap()
}

fn key(seed: u8) -> Dnskey {
    // An Ed25519 public key is 32 arbitrary bytes as far as DS digests go.
    Dnskey::new(257, Algorithm::Ed25519, vec![seed; 32])
}

fn answer(aa: bool, rcode: u16, ds: Vec<Ds>) -> Observation {
    Observation::Answer(DsAnswer { rcode, authoritative: aa, ds, ttl: None, rrsigs: vec![], parent_keys: None })
}

fn expected_one() -> (ExpectedDs, Ds) {
    let d = key(1).ds(&zone(), DigestType::Sha256);
    (ExpectedDs::from_cds(&zone(), std::slice::from_ref(&d), &[key(1)], &[DigestType::Sha256]).unwrap(), d)
}

#[test]
fn exact_set_is_seen() {
    let (e, d) = expected_one();
    let v = judge(&zone(), &e, &answer(true, RCODE_NOERROR, vec![d]));
    assert!(v.seen, "{v:?}");
}

#[test]
fn missing_or_absent_ds_is_not_seen() {
    let (e, _) = expected_one();
    let v = judge(&zone(), &e, &answer(true, RCODE_NOERROR, vec![]));
    assert!(!v.seen);
    assert!(v.reason.contains("no DS"), "{v:?}");
    let v = judge(&zone(), &e, &answer(true, RCODE_NXDOMAIN, vec![]));
    assert!(!v.seen, "NXDOMAIN is not seen unless delete");
    // another key's DS only
    let other = key(2).ds(&zone(), DigestType::Sha256);
    let v = judge(&zone(), &e, &answer(true, RCODE_NOERROR, vec![other]));
    assert!(!v.seen);
    assert!(v.reason.contains("missing") && v.reason.contains("unexpected"), "{v:?}");
}

#[test]
fn stale_extra_ds_is_not_seen() {
    let (e, d) = expected_one();
    let stale = key(9).ds(&zone(), DigestType::Sha256);
    let v = judge(&zone(), &e, &answer(true, RCODE_NOERROR, vec![d, stale]));
    assert!(!v.seen);
    assert!(v.reason.contains("unexpected"), "{v:?}");
}

#[test]
fn other_digest_for_expected_key_is_accepted_only_when_key_known() {
    let (e, d) = expected_one();
    let d384 = key(1).ds(&zone(), DigestType::Sha384);
    assert!(judge(&zone(), &e, &answer(true, RCODE_NOERROR, vec![d.clone(), d384.clone()])).seen);
    // a SHA-384 DS with the right tag and algorithm but a wrong digest is stale
    let mut forged = d384.clone();
    forged.digest[0] ^= 1;
    assert!(!judge(&zone(), &e, &answer(true, RCODE_NOERROR, vec![d.clone(), forged])).seen);
    // without the DNSKEY (DS-only expectation) another digest cannot be checked
    let e2 = ExpectedDs::from_cds(&zone(), std::slice::from_ref(&d), &[], &[]).unwrap();
    assert!(!judge(&zone(), &e2, &answer(true, RCODE_NOERROR, vec![d, d384])).seen);
}

#[test]
fn cdnskey_only_uses_policy_digests() {
    let e = ExpectedDs::from_cds(&zone(), &[], &[key(1)], &[DigestType::Sha256, DigestType::Sha384]).unwrap();
    assert_eq!(e.ds_text().len(), 2);
    let only256 = key(1).ds(&zone(), DigestType::Sha256);
    let v = judge(&zone(), &e, &answer(true, RCODE_NOERROR, vec![only256]));
    assert!(!v.seen && v.reason.contains("missing"), "{v:?}");
    assert!(ExpectedDs::from_cds(&zone(), &[], &[key(1)], &[]).is_err());
    assert!(ExpectedDs::from_cds(&zone(), &[], &[], &[DigestType::Sha256]).is_err());
}

#[test]
fn lame_servfail_refused_timeout_mismatch_are_not_seen() {
    let (e, d) = expected_one();
    let v = judge(&zone(), &e, &answer(false, RCODE_NOERROR, vec![d.clone()]));
    assert!(!v.seen && v.reason.contains("not authoritative"), "{v:?}");
    let v = judge(&zone(), &e, &answer(true, 2, vec![d.clone()]));
    assert!(!v.seen && v.reason.contains("SERVFAIL"), "{v:?}");
    let v = judge(&zone(), &e, &answer(true, 5, vec![]));
    assert!(!v.seen && v.reason.contains("REFUSED"), "{v:?}");
    let v = judge(&zone(), &e, &Observation::Timeout);
    assert_eq!(v, Verdict { seen: false, reason: "timeout".into() });
    let v = judge(&zone(), &e, &Observation::Mismatch("id".into()));
    assert!(!v.seen && v.reason.contains("mismatched"));
    let v = judge(&zone(), &e, &Observation::Error("refused".into()));
    assert!(!v.seen);
}

#[test]
fn delete_means_absent() {
    let e = ExpectedDs::from_cds(&zone(), &[Ds::delete()], &[], &[DigestType::Sha256]).unwrap();
    assert_eq!(e, ExpectedDs::Delete);
    assert!(judge(&zone(), &e, &answer(true, RCODE_NOERROR, vec![])).seen);
    assert!(judge(&zone(), &e, &answer(true, RCODE_NXDOMAIN, vec![])).seen);
    assert!(!judge(&zone(), &e, &answer(false, RCODE_NOERROR, vec![])).seen);
    let d = key(1).ds(&zone(), DigestType::Sha256);
    let v = judge(&zone(), &e, &answer(true, RCODE_NOERROR, vec![d.clone()]));
    assert!(!v.seen && v.reason.contains("still present"), "{v:?}");
    // CDNSKEY delete: 0 3 0 AA==
    let kdel = Dnskey { flags: 0, protocol: 3, algorithm: 0, public_key: vec![0] };
    assert_eq!(ExpectedDs::from_cds(&zone(), &[], &[kdel], &[]).unwrap(), ExpectedDs::Delete);
    // delete mixed with a real CDS is an error
    assert!(ExpectedDs::from_cds(&zone(), &[Ds::delete(), d], &[], &[]).is_err());
}

#[test]
fn overall_needs_every_server() {
    let (e, d) = expected_one();
    let good = answer(true, RCODE_NOERROR, vec![d]);
    let bad = answer(true, RCODE_NOERROR, vec![]);
    let vg = judge(&zone(), &e, &good);
    let vb = judge(&zone(), &e, &bad);
    assert!(overall(&[("a".into(), &good, &vg), ("b".into(), &good, &vg)]).seen);
    let o = overall(&[("a".into(), &good, &vg), ("b".into(), &bad, &vb)]);
    assert!(!o.seen);
    assert!(o.reason.contains("disagree") && o.reason.contains("b:"), "{o:?}");
    assert!(!overall(&[]).seen);
}

#[test]
fn expected_from_presentation_records() {
    let d = key(1).ds(&zone(), DigestType::Sha256);
    let text = format!("child.example. 3600 IN DS {}\nchild.example. 3600 IN CDNSKEY 257 3 15 {}\n", ds_text(&d), data_encoding::BASE64.encode(&[1u8; 32]));
    let recs = parse_records(&text, None, None).unwrap();
    let e = ExpectedDs::from_records(&zone(), &recs, &[DigestType::Sha256]).unwrap();
    assert_eq!(e, ExpectedDs::Set { ds: vec![d], keys: vec![key(1)] });
    let wrong = parse_records(&format!("other.example. 3600 IN DS {}\n", ds_text(&key(3).ds(&zone(), DigestType::Sha256))), None, None).unwrap();
    assert!(ExpectedDs::from_records(&zone(), &wrong, &[]).unwrap_err().to_string().contains("other.example."));
    let a = parse_records("child.example. 3600 IN A 192.0.2.1\n", None, None).unwrap();
    assert!(ExpectedDs::from_records(&zone(), &a, &[]).is_err());
    let del = parse_records("child.example. 3600 IN CDS 0 0 0 00\n", None, None).unwrap();
    assert_eq!(ExpectedDs::from_records(&zone(), &del, &[]).unwrap(), ExpectedDs::Delete);
}

fn reply_to(id: u16, qname: &Name, qtype: RecordType) -> Message {
    let mut m = Message::new(id, MessageType::Response, OpCode::Query);
    m.add_query(Query::query(qname.clone(), qtype));
    m
}

#[test]
fn replies_must_match_the_query() {
    let z = zone();
    let (id, wire) = build_query(&z, RecordType::DS, false, false).unwrap();
    let q = Message::from_vec(&wire).unwrap();
    assert_eq!(q.metadata.id, id);
    assert!(!q.metadata.recursion_desired);
    assert!(check_reply_matches(id, &z, RecordType::DS, &reply_to(id, &z, RecordType::DS)).is_ok());
    // case differences in the name are fine (RFC 4343)
    let upper = parse_name("CHILD.Example.").unwrap();
    assert!(check_reply_matches(id, &z, RecordType::DS, &reply_to(id, &upper, RecordType::DS)).is_ok());
    assert!(check_reply_matches(id, &z, RecordType::DS, &reply_to(id.wrapping_add(1), &z, RecordType::DS)).unwrap_err().contains("id"));
    assert!(check_reply_matches(id, &z, RecordType::DS, &reply_to(id, &z, RecordType::NS)).is_err());
    assert!(check_reply_matches(id, &z, RecordType::DS, &reply_to(id, &parse_name("x.example.").unwrap(), RecordType::DS)).is_err());
    let mut not_response = reply_to(id, &z, RecordType::DS);
    not_response.metadata.message_type = MessageType::Query;
    assert!(check_reply_matches(id, &z, RecordType::DS, &not_response).is_err());
    let empty = Message::new(id, MessageType::Response, OpCode::Query);
    assert!(check_reply_matches(id, &z, RecordType::DS, &empty).is_err());
}

#[test]
fn ds_records_are_read_from_the_answer_section() {
    let z = zone();
    let d = key(1).ds(&z, DigestType::Sha256);
    // Build the reply on the wire by hand: header, question, one DS answer.
    let mut w = Vec::new();
    w.extend_from_slice(&[0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 0]); // QR AA, NOERROR
    let qn = crate::dnssec::name::canonical_wire(&z);
    w.extend_from_slice(&qn);
    w.extend_from_slice(&[0, 43, 0, 1]);
    w.extend_from_slice(&[0xc0, 12, 0, 43, 0, 1, 0, 0, 0x0e, 0x10]);
    let rd = d.to_wire();
    w.extend_from_slice(&(rd.len() as u16).to_be_bytes());
    w.extend_from_slice(&rd);
    let m = Message::from_vec(&w).unwrap();
    assert!(check_reply_matches(0x1234, &z, RecordType::DS, &m).is_ok());
    let a = ds_answer(&z, &m).unwrap();
    assert_eq!(a, DsAnswer { rcode: 0, authoritative: true, ds: vec![d], ttl: Some(3600), rrsigs: vec![], parent_keys: None });
}

#[test]
fn server_syntax() {
    assert_eq!(parse_server("127.0.0.1").unwrap(), vec!["127.0.0.1:53".parse().unwrap()]);
    assert_eq!(parse_server("127.0.0.1:5300").unwrap(), vec!["127.0.0.1:5300".parse().unwrap()]);
    assert_eq!(parse_server("127.0.0.1@5300").unwrap(), vec!["127.0.0.1:5300".parse().unwrap()]);
    assert_eq!(parse_server("[::1]:5300").unwrap(), vec!["[::1]:5300".parse().unwrap()]);
    assert_eq!(parse_server("::1").unwrap(), vec!["[::1]:53".parse().unwrap()]);
    assert!(parse_server("").is_err());
    assert!(parse_server("127.0.0.1:notaport").is_err());
}

#[test]
fn resolv_conf() {
    let r = discover::resolvers_from_resolv_conf("# c\nnameserver 192.0.2.53\nsearch x\nnameserver fe80::1%eth0\nnameserver bogus\n");
    assert_eq!(r, vec!["192.0.2.53:53".parse().unwrap(), "[fe80::1]:53".parse().unwrap()]);
}

#[test]
fn ns_name_without_address_or_with_a_failed_lookup_is_unpolled_and_named() {
    let ns = |s: &str| parse_name(s).unwrap();
    let v4: std::net::IpAddr = "192.0.2.1".parse().unwrap();
    let v6: std::net::IpAddr = "2001:db8::53".parse().unwrap();
    // both families polled, each address once
    let both = discover::ns_target(ns("ns1.example."), vec![Ok(vec![v4]), Ok(vec![v6, v6])], 53);
    assert_eq!(both.addrs.len(), 2);
    assert!(both.problems.is_empty());
    // NOERROR without records for both types: no address
    let none = discover::ns_target(ns("ns2.example."), vec![Ok(vec![]), Ok(vec![])], 53);
    assert_eq!(none.problems, vec!["no A or AAAA address".to_string()]);
    // a failed AAAA lookup counts even though A answered
    let half = discover::ns_target(ns("ns3.example."), vec![Ok(vec![v4]), Err("AAAA lookup failed: SERVFAIL".into())], 53);
    assert_eq!(half.addrs.len(), 1);
    let d = discover::Discovered { parent: ns("example."), targets: vec![both, none, half] };
    assert_eq!(d.servers().len(), 2, "192.0.2.1 is shared by ns1 and ns3");
    assert_eq!(d.names_of(&"192.0.2.1:53".parse().unwrap()), vec!["ns1.example.".to_string(), "ns3.example.".to_string()]);
    let un = d.unpolled();
    assert_eq!(un.len(), 2);
    assert_eq!(un[0].0, "ns2.example.");
    assert!(un[1].1.contains("SERVFAIL"), "{un:?}");
}

#[test]
fn address_lookup_takes_only_noerror_and_the_asked_family() {
    let name = parse_name("ns1.example.").unwrap();
    let mut m = Message::new(1, MessageType::Response, OpCode::Query);
    m.add_query(Query::query(name.clone(), RecordType::A));
    m.add_answer(hickory_proto::rr::Record::from_rdata(name.clone(), 60, hickory_proto::rr::RData::A("192.0.2.1".parse().unwrap())));
    m.add_answer(hickory_proto::rr::Record::from_rdata(name.clone(), 60, hickory_proto::rr::RData::AAAA("2001:db8::1".parse().unwrap())));
    assert_eq!(discover::address_lookup(&name, RecordType::A, &m).unwrap(), vec!["192.0.2.1".parse::<std::net::IpAddr>().unwrap()]);
    m.metadata.response_code = hickory_proto::op::ResponseCode::ServFail;
    assert!(discover::address_lookup(&name, RecordType::A, &m).unwrap_err().contains("SERVFAIL"));
    m.metadata.response_code = hickory_proto::op::ResponseCode::NXDomain;
    assert!(discover::address_lookup(&name, RecordType::AAAA, &m).unwrap_err().contains("NXDOMAIN"));
}
