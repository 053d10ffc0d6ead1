//! Every KSR and SKR check the code runs is documented in docs/checks.md.

#[test]
fn every_check_id_is_in_docs_checks_md() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/checks.md")).expect("docs/checks.md");
    let missing: Vec<&str> = kskit::ksr::checks::ALL
        .iter()
        .chain(kskit::skr::checks::ALL.iter())
        .chain(kskit::ksr::ksk_schedule::ALL.iter())
        .chain(kskit::skr::keyset::ALL.iter())
        .chain(kskit::skr::scheduled::ALL.iter())
        .chain(kskit::live::checks::ALL.iter())
        .chain(kskit::live::cds::ALL.iter())
        .chain(kskit::zone::ALL.iter())
        .copied()
        .filter(|id| !doc.contains(&format!("`{id}`")))
        .collect();
    assert!(missing.is_empty(), "checks missing from docs/checks.md: {missing:?}");
}

#[test]
fn check_skr_runs_every_listed_skr_check() {
    use kskit::dnssec::parse_name;
    use kskit::ksr::model::Format;
    use kskit::skr::checks::{check_skr, TrustAnchor};
    use kskit::skr::model::Skr;
    let domain = parse_name("example.").unwrap();
    let skr = Skr { format: Format::Iana, id: String::new(), domain: domain.clone(), serial: None, ksk_policy: None, zsk_policy: None, bundles: vec![], generated: None, layout: Default::default() };
    let ta = TrustAnchor { ds: vec![], dnskeys: vec![], domain };
    let report = check_skr(&skr, &ta, None, time::OffsetDateTime::now_utc());
    for id in kskit::skr::checks::ALL {
        assert!(report.get(id).is_some(), "check_skr does not report {id}");
    }
}
