//! Fuzzes what kskit reads from a parent's DNS servers during `parent poll`
//! and `rollover step`: two replies (the DS reply and the parent's DNSKEY
//! reply, split by a leading 2-byte length) through hickory's message parser,
//! `parent::query::ds_answer` and `keys_answer`, then the verdicts with and
//! without DNSSEC validation (a trust anchor pinning whatever DNSKEYs parsed).
#![no_main]
use hickory_proto::op::Message;
use kskit::dnssec::{parse_name, DigestType};
use kskit::parent::validate::Validation;
use kskit::parent::{judge, judge_validated, ExpectedDs, Observation};
use kskit::skr::checks::TrustAnchor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else { return };
    let n = usize::from(u16::from_be_bytes([*a, *b])).min(rest.len());
    let (ds_wire, keys_wire) = rest.split_at(n);
    let (Ok(zone), Ok(parent)) = (parse_name("child.example."), parse_name("example.")) else { return };
    let Ok(ds_msg) = Message::from_vec(ds_wire) else { return };
    let Ok(mut answer) = kskit::parent::query::ds_answer(&zone, &ds_msg) else { return };
    let keys = Message::from_vec(keys_wire).map_err(|e| e.to_string()).and_then(|m| kskit::parent::query::keys_answer(&parent, &m));
    let pinned = keys.as_ref().map(|k| k.dnskeys.clone()).unwrap_or_default();
    answer.parent_keys = Some(keys);
    let expected: Vec<ExpectedDs> = vec![
        ExpectedDs::Delete,
        ExpectedDs::Set { ds: answer.ds.clone(), keys: pinned.iter().map(|k| k.clone()).collect() },
        ExpectedDs::Set { ds: pinned.iter().map(|k| k.ds(&zone, DigestType::Sha256)).collect(), keys: vec![] },
    ];
    let v = Validation { anchor: TrustAnchor { domain: parent, ds: vec![], dnskeys: pinned }, at: 1_800_000_000 };
    let obs = Observation::Answer(answer);
    for e in &expected {
        let _ = judge(&zone, e, &obs);
        let _ = judge_validated(&zone, e, &obs, Some(&v));
    }
});
