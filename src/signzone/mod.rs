//! A small online signer: a zone's records, the pre-signed DNSKEY, CDS and
//! CDNSKEY RRsets of the SKR bundle in force, and the active ZSKs in; the
//! signed zone out. It signs every authoritative RRset (RFC 4035 §2.2),
//! builds the NSEC chain (RFC 4034 §4, RFC 4035 §2.3) or the NSEC3 chain
//! with NSEC3PARAM and optional opt-out (RFC 5155, RFC 9276 defaults), and
//! handles delegations and glue (RFC 4035 §2.2, §2.4). Pure: records in,
//! records or text out; the CLI (`crate::cli::signzone`) reads and writes
//! files and opens keys. Names are held as lowercase wire bytes and the
//! signed zone is streamed in chunks signed on every thread
//! ([`write_signed_zone`]; docs/benchmarks.md). Not done: SOA serial
//! increments, incremental re-signing (every run signs everything). See
//! docs/handoff.md.

pub mod nsec;
pub mod nsec3;
pub mod wire;

use std::collections::{BTreeMap, HashSet};

use rand::Rng;

use self::nsec::{canonical_key, type_bitmap};
use crate::backends::Signer;
use crate::dnssec::denial::Nsec3Param;
use crate::dnssec::name::{canonical_wire, to_presentation};
use crate::dnssec::presentation::{format_rdata, format_record, type_mnemonic};
use crate::dnssec::verify::verify_raw;
use crate::dnssec::{rtype, DnssecError, Dnskey, Name, RData, Record, Rrsig};
use crate::timeutil::format_rrsig_time;

/// What is wrong with a zone or the keys given to sign it.
#[derive(Debug, thiserror::Error)]
pub enum SignZoneError {
    #[error("{name} is not at or below the zone apex {zone}")]
    OutOfZone { name: String, zone: String },
    #[error("the zone has no SOA record at its apex {0}")]
    NoSoa(String),
    #[error("the zone has {0} SOA records at its apex; exactly one is allowed")]
    ManySoa(usize),
    #[error("SOA record at {0}, which is not the zone apex")]
    SoaNotAtApex(String),
    #[error("malformed SOA RDATA at the apex")]
    BadSoa,
    #[error("the zone has no NS RRset at its apex {0}")]
    NoApexNs(String),
    #[error("{0} has a CNAME and other data")]
    CnameAndOther(String),
    #[error("DS at the zone apex {0}: a zone's DS RRset belongs in the parent zone")]
    DsAtApex(String),
    #[error("DS at {0}, which is not a delegation point (no NS RRset there)")]
    DsWithoutDelegation(String),
    #[error("no ZSK is given to sign the zone")]
    NoZsk,
    #[error("the SKR bundle holds no DNSKEY RRset")]
    NoDnskeys,
    #[error("ZSK {tag} ({algorithm}) is not in the DNSKEY RRset of the SKR bundle: its signatures would not validate (was the SKR made for these ZSKs?)")]
    ZskNotPublished { tag: u16, algorithm: u8 },
    #[error("the DNSKEY RRset has algorithm {algorithm} keys but no ZSK of that algorithm signs: every RRset must be signed with each algorithm of the apex DNSKEY RRset (RFC 4035 §2.2, RFC 6840 §5.11), and validators such as BIND's dnssec-verify reject the zone; use ZSKs of the KSK's algorithm")]
    AlgorithmNotCovered { algorithm: u8 },
    #[error("NSEC3 parameters refused: {0}")]
    Nsec3Param(String),
    #[error("{0} and {1} have the same NSEC3 hash: sign with another salt")]
    Nsec3Collision(String, String),
    #[error("{0} is a glue name below a delegation and also the owner of an NSEC3 record the chain needs: sign with another salt")]
    Nsec3OwnerTaken(String),
    #[error("the zone is too large for the signer's compact form (more than 4 GiB of owner names or RDATA) at {0}")]
    TooLarge(String),
    #[error("{0}")]
    Dnssec(#[from] DnssecError),
    #[error("cannot write the signed zone: {0}")]
    Io(#[from] std::io::Error),
}

/// How the signed zone proves that names and types do not exist.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Denial {
    /// The NSEC chain (RFC 4034 §4, RFC 4035 §2.3).
    #[default]
    Nsec,
    /// The NSEC3 chain with these parameters and an NSEC3PARAM RRset at the
    /// apex (RFC 5155 §7.1, §7.2); with `opt_out`, delegations without DS
    /// are left out of the chain (RFC 5155 §6), as large delegation-only
    /// zones (TLDs) do.
    Nsec3 { param: Nsec3Param, opt_out: bool },
}

/// Which signatures are verified against the ZSK's public key after they
/// are made (docs/benchmarks.md says why sampling is safe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verify {
    /// Every signature.
    All,
    /// The first RRset's signatures and then those of every
    /// [`VERIFY_SAMPLE_EVERY`]th RRset, by every ZSK.
    #[default]
    Sample,
}

/// With [`Verify::Sample`], one RRset in this many has its signatures verified.
pub const VERIFY_SAMPLE_EVERY: usize = 64;

/// Signature timing and parallelism.
#[derive(Debug, Clone)]
pub struct SignOptions {
    /// RRSIG inception (seconds since the epoch).
    pub inception: u32,
    /// RRSIG expiration before jitter.
    pub expiration: u32,
    /// Each RRset's expiration is moved earlier by a random 0..=jitter
    /// seconds (capped at half the validity), so that signatures do not all
    /// expire, and need refreshing, at the same moment.
    pub jitter: u32,
    /// Signing threads (at least 1).
    pub threads: usize,
    /// NSEC or NSEC3.
    pub denial: Denial,
    /// Verify every signature or a sample.
    pub verify: Verify,
}

/// Counts of what was signed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SignStats {
    /// Authoritative names (each with an NSEC).
    pub names: usize,
    /// RRsets signed with the ZSKs (NSEC included).
    pub rrsets_signed: usize,
    pub signatures: usize,
    pub delegations: usize,
    /// Names below a delegation (glue): published, not signed, no NSEC.
    pub glue_names: usize,
    /// NSEC3 records (0 with NSEC).
    pub nsec3: usize,
    /// Empty non-terminals given an NSEC3 record.
    pub empty_non_terminals: usize,
}

/// A signed zone: records in canonical order, each RRset followed by its RRSIGs.
#[derive(Debug, Clone)]
pub struct SignedZone {
    pub zone: Name,
    pub records: Vec<Record>,
    pub stats: SignStats,
}

/// Types the signer makes or takes from the SKR: dropped from the input.
pub const REPLACED_TYPES: [u16; 7] =
    [rtype::DNSKEY, rtype::CDS, rtype::CDNSKEY, rtype::RRSIG, rtype::NSEC, rtype::NSEC3, rtype::NSEC3PARAM];

/// Whether the input record is replaced by the signer (DNSSEC records it
/// makes itself or takes from the SKR).
pub fn is_replaced(r: &Record) -> bool {
    REPLACED_TYPES.contains(&r.rtype())
}

fn p(n: &Name) -> String {
    to_presentation(n)
}

/// Every owner must be at or below the apex: a zone holds only its own
/// subtree (RFC 1034 §4.2.1).
pub fn check_in_zone(zone: &Name, records: &[Record]) -> Result<(), SignZoneError> {
    let zk = canonical_key(zone);
    match records.iter().find(|r| !canonical_key(&r.name).starts_with(&zk)) {
        Some(r) => Err(SignZoneError::OutOfZone { name: p(&r.name), zone: p(zone) }),
        None => Ok(()),
    }
}

/// Exactly one SOA record, at the apex (RFC 1035 §5.2, RFC 1034 §4.2.1);
/// returns the NSEC TTL: the lesser of the SOA MINIMUM field and the SOA's
/// own TTL (RFC 4035 §2.3 as updated by RFC 9077 §3.3).
pub fn check_soa(zone: &Name, records: &[Record]) -> Result<u32, SignZoneError> {
    let zk = canonical_key(zone);
    if let Some(r) = records.iter().find(|r| r.rtype() == rtype::SOA && canonical_key(&r.name) != zk) {
        return Err(SignZoneError::SoaNotAtApex(p(&r.name)));
    }
    let soas: Vec<&Record> = records.iter().filter(|r| r.rtype() == rtype::SOA).collect();
    let mut distinct: Vec<Vec<u8>> = soas.iter().map(|r| r.rdata.to_wire()).collect();
    distinct.sort();
    distinct.dedup();
    let soa = match (soas.first(), distinct.len()) {
        (None, _) => return Err(SignZoneError::NoSoa(p(zone))),
        (Some(s), 1) => s,
        (Some(_), n) => return Err(SignZoneError::ManySoa(n)),
    };
    let wire = soa.rdata.to_wire();
    let min = wire
        .len()
        .checked_sub(4)
        .and_then(|i| wire.get(i..))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .ok_or(SignZoneError::BadSoa)?;
    Ok(min.min(soa.ttl))
}

/// Every ZSK that signs must be in the apex DNSKEY RRset the SKR
/// provides, or validators find no key for its RRSIGs (RFC 4035 §2.2, §5.3.1).
pub fn check_zsks_published(zsks: &[&dyn Signer], dnskeys: &[Dnskey]) -> Result<(), SignZoneError> {
    if zsks.is_empty() {
        return Err(SignZoneError::NoZsk);
    }
    if dnskeys.is_empty() {
        return Err(SignZoneError::NoDnskeys);
    }
    for z in zsks {
        let k = z.dnskey();
        if !dnskeys.iter().any(|d| d.flags == k.flags && d.algorithm == k.algorithm && d.public_key == k.public_key) {
            return Err(SignZoneError::ZskNotPublished { tag: k.key_tag(), algorithm: k.algorithm });
        }
    }
    Ok(())
}

/// Every algorithm of the apex DNSKEY RRset must sign every RRset (the
/// algorithm rule, RFC 4035 §2.2 and RFC 6840 §5.11): with the KSK offline,
/// that needs a ZSK of each algorithm of the DNSKEY RRset.
pub fn check_algorithm_rule(zsks: &[&dyn Signer], dnskeys: &[Dnskey]) -> Result<(), SignZoneError> {
    for k in dnskeys.iter().filter(|k| k.is_zone_key()) {
        if !zsks.iter().any(|z| z.dnskey().algorithm == k.algorithm) {
            return Err(SignZoneError::AlgorithmNotCovered { algorithm: k.algorithm });
        }
    }
    Ok(())
}

/// One input record in the signer's compact form: its owner (lowercase
/// wire bytes) and RDATA (canonical wire form, RFC 4034 §6.2) are ranges of
/// the [`ZoneInput`]'s two byte arenas; consecutive records of one owner
/// share its bytes. 20 bytes plus the arena bytes, no allocation per record.
#[derive(Debug, Clone, Copy)]
struct Rec {
    owner: u32,
    rd: u32,
    ttl: u32,
    rtype: u16,
    rdlen: u16,
    owner_len: u8,
}

/// An RRset of the input: a range of `ZoneInput::recs`, its TTL the least
/// of its records' (RFC 2181 §5.2).
#[derive(Debug, Clone, Copy)]
struct SetIx {
    start: usize,
    end: usize,
    rtype: u16,
    ttl: u32,
}

/// The unsigned zone, compact: records sorted into canonical name order
/// (RFC 4034 §6.1) and type, duplicate RDATA dropped (RFC 2181 §5), the
/// input order of RDATA within an RRset kept. Owners and RDATA live in two
/// byte arenas: about 20 bytes a record plus its owner (once per name) and
/// RDATA, instead of a parsed `Record`'s several hundred.
#[derive(Debug)]
pub struct ZoneInput {
    owners: Vec<u8>,
    rdata: Vec<u8>,
    recs: Vec<Rec>,
    sets: Vec<SetIx>,
}

impl ZoneInput {
    /// Takes the parsed records of `zone` (consumed, so that each is freed
    /// as soon as it is converted). Records the signer makes or takes from
    /// the SKR ([`REPLACED_TYPES`]) are dropped; every other owner must be
    /// in the zone (RFC 1034 §4.2.1).
    pub fn new(zone: &Name, records: Vec<Record>) -> Result<Self, SignZoneError> {
        let mut b = ZoneInputBuilder::new(zone, records.len());
        for r in records {
            b.push(r)?;
        }
        Ok(b.finish())
    }

    fn from_recs(owners: Vec<u8>, rdata: Vec<u8>, mut recs: Vec<Rec>, threads: usize) -> Self {
        let own = |r: &Rec| owners.get(r.owner as usize..r.owner as usize + usize::from(r.owner_len)).unwrap_or(&[]);
        let rd = |r: &Rec| rdata.get(r.rd as usize..r.rd as usize + usize::from(r.rdlen)).unwrap_or(&[]);
        // Stable: RDATA keep their input order within an RRset.
        let cmp = |a: &Rec, b: &Rec| {
            let same = a.owner == b.owner && a.owner_len == b.owner_len;
            (if same { std::cmp::Ordering::Equal } else { wire::canonical_cmp(own(a), own(b)) }).then(a.rtype.cmp(&b.rtype))
        };
        recs = stable_sort(recs, threads, cmp);
        let mut keep = vec![true; recs.len()];
        let mut sets = Vec::new();
        let mut i = 0;
        while i < recs.len() {
            let mut j = i + 1;
            while recs.get(j).is_some_and(|r| r.rtype == recs[i].rtype && own(r) == own(&recs[i])) {
                j += 1;
            }
            let group = &recs[i..j];
            let ttl = group.iter().map(|r| r.ttl).min().unwrap_or(0);
            // Duplicates (RFC 2181 §5): a hash set only for large RRsets.
            if group.len() <= 16 {
                for a in 1..group.len() {
                    if group[..a].iter().any(|b| rd(b) == rd(&group[a])) {
                        keep[i + a] = false;
                    }
                }
            } else {
                let mut seen = HashSet::new();
                for (a, r) in group.iter().enumerate() {
                    if !seen.insert(rd(r)) {
                        keep[i + a] = false;
                    }
                }
            }
            sets.push((i, j, ttl));
            i = j;
        }
        // Drop the duplicates and renumber the sets.
        let mut new_index = Vec::with_capacity(recs.len() + 1);
        let mut n = 0;
        for k in &keep {
            new_index.push(n);
            n += usize::from(*k);
        }
        new_index.push(n);
        let mut it = keep.iter();
        recs.retain(|_| *it.next().unwrap_or(&true));
        let sets = sets
            .into_iter()
            .map(|(s, e, ttl)| {
                let (start, end) = (new_index[s], new_index[e]);
                SetIx { start, end, rtype: recs[start].rtype, ttl }
            })
            .collect();
        ZoneInput { owners, rdata, recs, sets }
    }

    /// Number of records (after duplicates are dropped).
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    fn owner(&self, s: &SetIx) -> &[u8] {
        self.recs.get(s.start).map(|r| self.owner_of(r)).unwrap_or(&[])
    }

    fn owner_of(&self, r: &Rec) -> &[u8] {
        self.owners.get(r.owner as usize..r.owner as usize + usize::from(r.owner_len)).unwrap_or(&[])
    }

    fn rd_of(&self, r: &Rec) -> &[u8] {
        self.rdata.get(r.rd as usize..r.rd as usize + usize::from(r.rdlen)).unwrap_or(&[])
    }

    fn rdatas(&self, s: &SetIx) -> &[Rec] {
        &self.recs[s.start..s.end]
    }
}

/// Below this many records a zone is sorted on one thread.
const PARALLEL_SORT_MIN: usize = 1 << 16;

/// A stable sort of `v` by `cmp`: with `threads` > 1 and a large input each
/// half is sorted on its own thread and the halves are merged, taking from
/// the first half on ties, so that equal elements keep their input order
/// exactly as `sort_by` would (the zone's RDATA order within an RRset).
fn stable_sort<T: Copy + Send + Sync>(mut v: Vec<T>, threads: usize, cmp: impl Fn(&T, &T) -> std::cmp::Ordering + Sync) -> Vec<T> {
    if v.len() < PARALLEL_SORT_MIN || threads < 2 {
        v.sort_by(&cmp);
        return v;
    }
    let mid = v.len() / 2;
    {
        let (left, right) = v.split_at_mut(mid);
        std::thread::scope(|s| {
            s.spawn(|| left.sort_by(&cmp));
            right.sort_by(&cmp);
        });
    }
    let (left, right) = v.split_at(mid);
    let mut out = Vec::with_capacity(v.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if cmp(&right[j], &left[i]) == std::cmp::Ordering::Less {
            out.push(right[j]);
            j += 1;
        } else {
            out.push(left[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&left[i..]);
    out.extend_from_slice(&right[j..]);
    out
}

/// Parses the zone file text of `zone` straight into the compact form.
/// With `threads` > 1 the parser and the conversion into the compact form
/// run on two threads, handing records over in batches (the zone is still
/// never held as parsed records whole: at most a few batches are in
/// flight). The first error, the parser's or the conversion's, is returned.
pub fn parse_zone_text(zone: &Name, text: &str, threads: usize) -> Result<ZoneInput, SignZoneError> {
    const BATCH: usize = 4096;
    let lines = text.bytes().filter(|b| *b == b'\n').count();
    let mut builder = ZoneInputBuilder::new(zone, lines);
    if threads < 2 {
        crate::dnssec::presentation::parse_records_each(text, Some(zone), None, |r| builder.push(r))?;
        return Ok(builder.finish_threads(1));
    }
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Record>>(4);
    let (parsed, built) = std::thread::scope(|s| {
        let consumer = s.spawn(move || -> Result<ZoneInputBuilder, SignZoneError> {
            for batch in rx {
                for r in batch {
                    builder.push(r)?;
                }
            }
            Ok(builder)
        });
        let mut batch = Vec::with_capacity(BATCH);
        let parsed = crate::dnssec::presentation::parse_records_each(text, Some(zone), None, |r| -> Result<(), SignZoneError> {
            batch.push(r);
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                // A closed channel: the conversion stopped on an error, which
                // the join below returns; stop parsing.
                if tx.send(full).is_err() {
                    return Err(SignZoneError::Dnssec(DnssecError::Malformed("stopped".into())));
                }
            }
            Ok(())
        });
        if parsed.is_ok() && !batch.is_empty() {
            let _ = tx.send(batch);
        }
        drop(tx);
        let built = consumer.join().unwrap_or_else(|_| Err(SignZoneError::Dnssec(DnssecError::Malformed("the zone conversion thread stopped".into()))));
        (parsed, built)
    });
    // The conversion's error explains a parse that was stopped for it.
    let builder = built?;
    parsed?;
    Ok(builder.finish_threads(threads))
}

/// Builds a [`ZoneInput`] one record at a time, so that a zone file can be
/// parsed straight into the compact form
/// (`crate::dnssec::presentation::parse_records_each`) without ever holding
/// its parsed records whole.
pub struct ZoneInputBuilder {
    zone: Name,
    apex: Vec<u8>,
    owners: Vec<u8>,
    rdata: Vec<u8>,
    recs: Vec<Rec>,
}

impl ZoneInputBuilder {
    /// For `zone`, with room for `capacity` records.
    pub fn new(zone: &Name, capacity: usize) -> Self {
        ZoneInputBuilder {
            zone: zone.clone(),
            apex: canonical_wire(zone),
            owners: Vec::with_capacity(capacity.saturating_mul(16)),
            rdata: Vec::with_capacity(capacity.saturating_mul(8)),
            recs: Vec::with_capacity(capacity),
        }
    }

    /// Takes one parsed record. Records the signer makes or takes from the
    /// SKR ([`REPLACED_TYPES`]) are dropped; every other owner must be in
    /// the zone (RFC 1034 §4.2.1).
    pub fn push(&mut self, r: Record) -> Result<(), SignZoneError> {
        if is_replaced(&r) {
            return Ok(());
        }
        let owner = canonical_wire(&r.name);
        if !wire::in_zone(&owner, &self.apex) {
            return Err(SignZoneError::OutOfZone { name: p(&r.name), zone: p(&self.zone) });
        }
        let rtype = r.rtype();
        let rd_start = self.rdata.len();
        match r.rdata {
            RData::Other { data, .. } => self.rdata.extend_from_slice(&data),
            other => self.rdata.extend_from_slice(&other.to_wire()),
        }
        let too_large = || SignZoneError::TooLarge(p(&r.name));
        let rdlen = u16::try_from(self.rdata.len() - rd_start).map_err(|_| too_large())?;
        let rd = u32::try_from(rd_start).map_err(|_| too_large())?;
        let owner_len = u8::try_from(owner.len()).map_err(|_| too_large())?;
        // Consecutive records of one owner (the usual zone-file layout) share its bytes.
        let owner_at = match self.recs.last() {
            Some(l) if l.owner_len == owner_len && self.owners.get(l.owner as usize..).is_some_and(|t| t.starts_with(&owner)) => l.owner,
            _ => {
                let at = u32::try_from(self.owners.len()).map_err(|_| too_large())?;
                self.owners.extend_from_slice(&owner);
                at
            }
        };
        self.recs.push(Rec { owner: owner_at, rd, ttl: r.ttl, rtype, rdlen, owner_len });
        Ok(())
    }

    /// Sorts, groups into RRsets and drops duplicates.
    pub fn finish(self) -> ZoneInput {
        self.finish_threads(1)
    }

    /// [`Self::finish`], sorting on two threads when `threads` > 1 (same result).
    pub fn finish_threads(mut self, threads: usize) -> ZoneInput {
        self.recs.shrink_to_fit();
        self.owners.shrink_to_fit();
        self.rdata.shrink_to_fit();
        ZoneInput::from_recs(self.owners, self.rdata, self.recs, threads)
    }
}

/// Exactly one SOA record, at the apex (RFC 1035 §5.2, RFC 1034 §4.2.1);
/// returns the NSEC/NSEC3 TTL, the lesser of the SOA MINIMUM field and the
/// SOA's own TTL (RFC 4035 §2.3, RFC 5155 §7.1, as updated by RFC 9077 §3).
fn check_soa_compact(zone: &Name, apex: &[u8], input: &ZoneInput) -> Result<u32, SignZoneError> {
    let soas: Vec<&Rec> = input.recs.iter().filter(|r| r.rtype == rtype::SOA).collect();
    if let Some(r) = soas.iter().find(|r| input.owner_of(r) != apex) {
        let mut s = String::new();
        wire::push_presentation(&mut s, input.owner_of(r));
        return Err(SignZoneError::SoaNotAtApex(s));
    }
    let mut distinct: Vec<&[u8]> = soas.iter().map(|r| input.rd_of(r)).collect();
    distinct.sort();
    distinct.dedup();
    let soa = match (soas.first(), distinct.len()) {
        (None, _) => return Err(SignZoneError::NoSoa(p(zone))),
        (Some(s), 1) => s,
        (Some(_), n) => return Err(SignZoneError::ManySoa(n)),
    };
    let soa_rd = input.rd_of(soa);
    let min = soa_rd
        .len()
        .checked_sub(4)
        .and_then(|i| soa_rd.get(i..))
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .ok_or(SignZoneError::BadSoa)?;
    // The RRset TTL (the least of the SOA records', all equal after dedup).
    let ttl = input.sets.iter().find(|s| s.rtype == rtype::SOA).map(|s| s.ttl).unwrap_or(soa.ttl);
    Ok(min.min(ttl))
}

/// Signs `zone`. `input` is the unsigned zone (DNSKEY, CDS, CDNSKEY, RRSIG,
/// NSEC, NSEC3 and NSEC3PARAM records in it are dropped); `presigned` the
/// SKR bundle's DNSKEY, CDNSKEY and CDS records with their RRSIGs
/// (`crate::export::zonefile_records`), published as they are; `zsks` the
/// active ZSKs, each of which signs every authoritative RRset.
///
/// Authoritative RRsets are those at the apex and at names that are
/// neither delegations nor below one; at a delegation (NS below the apex)
/// only the DS RRset is signed, and names below a delegation (glue) are
/// published unsigned and get no NSEC or NSEC3 (RFC 4035 §2.2, §2.3, RFC
/// 5155 §7.1).
pub fn sign_zone(
    zone: &Name,
    input: &[Record],
    presigned: &[Record],
    zsks: &[&dyn Signer],
    opts: &SignOptions,
) -> Result<SignedZone, SignZoneError> {
    sign_zone_rolling(zone, input, presigned, zsks, &[], opts)
}

/// [`sign_zone`] during an algorithm rollover: `unpublished` ZSKs sign every
/// authoritative RRset too although the plan keeps them out of the DNSKEY
/// RRset — the new algorithm's ZSK before its DNSKEY is published, the old
/// one after its DNSKEY is gone (RFC 6781 §4.1.4 "new RRSIGs" and "DNSKEY
/// removal"). Validators ignore those RRSIGs; they are there for resolvers
/// whose cached DNSKEY RRset is older or newer than the zone's. They do not
/// count for the algorithm rule: each algorithm of the DNSKEY RRset still
/// needs a published ZSK.
pub fn sign_zone_rolling(
    zone: &Name,
    input: &[Record],
    presigned: &[Record],
    zsks: &[&dyn Signer],
    unpublished: &[&dyn Signer],
    opts: &SignOptions,
) -> Result<SignedZone, SignZoneError> {
    let zone = zone.to_lowercase();
    let input = ZoneInput::new(&zone, input.to_vec())?;
    let mut records = Vec::with_capacity(input.len() * 2 + presigned.len());
    let stats = run(&zone, &input, presigned, zsks, unpublished, opts, Sink::Records(&mut records))?;
    Ok(SignedZone { zone, records, stats })
}

/// Signs `zone` like [`sign_zone_rolling`] and streams the signed zone in
/// presentation form to `out` (after the comment header `header`) as it is
/// signed: the signed zone is never held in memory whole. Returns the counts.
#[allow(clippy::too_many_arguments)]
pub fn write_signed_zone(
    zone: &Name,
    input: &ZoneInput,
    presigned: &[Record],
    zsks: &[&dyn Signer],
    unpublished: &[&dyn Signer],
    opts: &SignOptions,
    header: &str,
    out: &mut dyn std::io::Write,
) -> Result<SignStats, SignZoneError> {
    let zone = zone.to_lowercase();
    let mut h = String::new();
    for l in header.lines() {
        h.push_str("; ");
        h.push_str(l);
        h.push('\n');
    }
    out.write_all(h.as_bytes())?;
    run(&zone, input, presigned, zsks, unpublished, opts, Sink::Text(out))
}

/// The RDATA of one output RRset.
enum Rd<'a> {
    /// An input RRset (already without duplicates).
    Input(&'a [Rec]),
    /// One record the signer made (NSEC, NSEC3, NSEC3PARAM).
    One(&'a [u8]),
    /// A pre-signed apex RRset of the SKR bundle, by type.
    Pre(u16),
}

/// One RRset of the output, in output order.
struct OutSet<'a> {
    owner: &'a [u8],
    rtype: u16,
    ttl: u32,
    rd: Rd<'a>,
    /// Signed by the ZSKs.
    sign: bool,
}

enum Sink<'w> {
    Records(&'w mut Vec<Record>),
    Text(&'w mut dyn std::io::Write),
}

enum ChunkOut {
    Records(Vec<Record>),
    Text(String),
}

/// Output RRsets handed to a signing thread at a time.
const CHUNK: usize = 256;

#[allow(clippy::too_many_arguments)]
fn run(
    zone: &Name,
    input: &ZoneInput,
    presigned: &[Record],
    zsks: &[&dyn Signer],
    unpublished: &[&dyn Signer],
    opts: &SignOptions,
    mut sink: Sink<'_>,
) -> Result<SignStats, SignZoneError> {
    let apex = canonical_wire(zone);
    check_in_zone(zone, presigned)?;
    let denial_ttl = check_soa_compact(zone, &apex, input)?;
    let dnskeys: Vec<Dnskey> = presigned
        .iter()
        .filter_map(|r| match &r.rdata {
            RData::Dnskey(k) => Some(k.clone()),
            _ => None,
        })
        .collect();
    check_zsks_published(zsks, &dnskeys)?;
    check_algorithm_rule(zsks, &dnskeys)?;
    if let Denial::Nsec3 { param, .. } = &opts.denial {
        nsec3::check_param(param)?;
    }
    let all: Vec<&dyn Signer> = zsks.iter().chain(unpublished).copied().collect();
    let zsks: &[&dyn Signer] = &all;

    // Names: runs of RRsets with one owner.
    let mut nodes: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < input.sets.len() {
        let mut j = i + 1;
        while input.sets.get(j).is_some_and(|s| input.owner(s) == input.owner(&input.sets[i])) {
            j += 1;
        }
        nodes.push((i, j));
        i = j;
    }
    let node_owner = |n: &(usize, usize)| input.owner(&input.sets[n.0]);
    let node_sets = |n: &(usize, usize)| &input.sets[n.0..n.1];
    let has = |n: &(usize, usize), t: u16| node_sets(n).iter().any(|s| s.rtype == t);
    if !nodes.first().is_some_and(|n| node_owner(n) == &apex[..] && has(n, rtype::NS)) {
        return Err(SignZoneError::NoApexNs(p(zone)));
    }
    // Pre-signed apex RRsets, by type: (records, RRSIGs covering them).
    let mut pre: BTreeMap<u16, (Vec<Record>, Vec<Record>)> = BTreeMap::new();
    for r in presigned {
        match &r.rdata {
            RData::Rrsig(s) => pre.entry(s.type_covered).or_default().1.push(r.clone()),
            _ => pre.entry(r.rtype()).or_default().0.push(r.clone()),
        }
    }
    pre.retain(|_, (recs, _)| !recs.is_empty());

    // The names below a delegation point follow it directly in canonical
    // order (RFC 4034 §6.1: they share its labels as their rightmost), so
    // one scan with the current zone cut finds them, no set of cuts needed.
    let mut cut: Option<&[u8]> = None;

    // Per name: glue, delegation, or authoritative (in the chain).
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Kind {
        Glue,
        Delegation,
        Auth,
    }
    let mut stats = SignStats::default();
    let mut kinds = Vec::with_capacity(nodes.len());
    for (k, n) in nodes.iter().enumerate() {
        let owner = node_owner(n);
        if let Some(c) = cut {
            if wire::ancestors(owner).any(|a| a == c) {
                stats.glue_names += 1;
                kinds.push(Kind::Glue);
                continue;
            }
            cut = None;
        }
        let name = || {
            let mut s = String::new();
            wire::push_presentation(&mut s, owner);
            s
        };
        // A CNAME owner has no other data (RFC 1034 §3.6.2, RFC 2181 §10.1;
        // only RRSIG and NSEC may sit beside it, RFC 4035 §2.5).
        if has(n, rtype::CNAME) && node_sets(n).len() > 1 {
            return Err(SignZoneError::CnameAndOther(name()));
        }
        let is_delegation = k > 0 && has(n, rtype::NS);
        // DS only at delegation points, never at the apex (RFC 4035 §2.4, RFC 4034 §5).
        if has(n, rtype::DS) {
            if k == 0 {
                return Err(SignZoneError::DsAtApex(name()));
            }
            if !is_delegation {
                return Err(SignZoneError::DsWithoutDelegation(name()));
            }
        }
        if is_delegation {
            stats.delegations += 1;
            kinds.push(Kind::Delegation);
            cut = Some(owner);
        } else {
            kinds.push(Kind::Auth);
        }
    }
    stats.names = kinds.iter().filter(|k| **k != Kind::Glue).count();
    let types_of = |k: usize, n: &(usize, usize)| {
        let mut t: Vec<u16> = node_sets(n).iter().map(|s| s.rtype).collect();
        if k == 0 {
            t.extend(pre.keys().copied());
        }
        t
    };

    // Denial of existence: NSEC rdata per chained name, or the NSEC3 chain.
    let mut nsec_rd: Vec<Option<Box<[u8]>>> = Vec::new();
    let mut n3: Option<nsec3::Chain> = None;
    let mut n3param_rd: Option<Box<[u8]>> = None;
    match &opts.denial {
        Denial::Nsec => {
            nsec_rd = vec![None; nodes.len()];
            let chain: Vec<usize> = (0..nodes.len()).filter(|k| kinds[*k] != Kind::Glue).collect();
            for (ci, &k) in chain.iter().enumerate() {
                let next = chain.get(ci + 1).map(|nk| node_owner(&nodes[*nk])).unwrap_or(&apex);
                let mut types = types_of(k, &nodes[k]);
                // The NSEC itself is signed at every name, so RRSIG is always
                // in the bitmap, even at a delegation without DS (RFC 4034 §4.1.2).
                types.push(rtype::NSEC);
                types.push(rtype::RRSIG);
                let mut rd = next.to_vec();
                rd.extend(type_bitmap(&types));
                nsec_rd[k] = Some(rd.into_boxed_slice());
            }
        }
        Denial::Nsec3 { param, opt_out } => {
            let mut names: Vec<nsec3::Member<'_>> = Vec::new();
            for (k, n) in nodes.iter().enumerate() {
                let signed_ds = has(n, rtype::DS);
                match kinds[k] {
                    Kind::Glue => continue,
                    // An unsigned delegation is left out of an opt-out chain (RFC 5155 §6).
                    Kind::Delegation if *opt_out && !signed_ds => {
                        names.push(nsec3::Member { owner: node_owner(n), types: None });
                        continue;
                    }
                    _ => {}
                }
                let mut types = types_of(k, n);
                if k == 0 {
                    types.push(rtype::NSEC3PARAM);
                }
                // RRSIG when anything at the original owner is signed (RFC 5155 §3.2.1).
                if kinds[k] == Kind::Auth || signed_ds {
                    types.push(rtype::RRSIG);
                }
                names.push(nsec3::Member { owner: node_owner(n), types: Some(types) });
            }
            let all_owners: HashSet<&[u8]> = nodes.iter().map(node_owner).collect();
            let chain = nsec3::build(&apex, &names, &all_owners, param, *opt_out)?;
            stats.nsec3 = chain.records.len();
            stats.empty_non_terminals = chain.empty_non_terminals;
            let mut pr = param.clone();
            pr.flags = 0;
            n3param_rd = Some(pr.to_wire().into_boxed_slice());
            n3 = Some(chain);
        }
    }

    // Output RRsets in output order: names in canonical order (NSEC3 names
    // merged in), SOA first at the apex, then types in numeric order.
    let mut out: Vec<OutSet<'_>> = Vec::with_capacity(input.sets.len() + nodes.len() * 2 + 8);
    let n3recs: &[(Box<[u8]>, Box<[u8]>)] = n3.as_ref().map(|c| &c.records[..]).unwrap_or(&[]);
    let mut n3i = 0;
    fn n3_set(rec: &(Box<[u8]>, Box<[u8]>), ttl: u32) -> OutSet<'_> {
        OutSet { owner: &rec.0, rtype: rtype::NSEC3, ttl, rd: Rd::One(&rec.1), sign: true }
    }
    // Borrow helper so the closures above stay usable.
    let n3recs_ref = n3recs;
    for (k, n) in nodes.iter().enumerate() {
        let owner = node_owner(n);
        let mut first = out.len();
        while let Some(rec) = n3recs_ref.get(n3i) {
            match wire::canonical_cmp(&rec.0, owner) {
                std::cmp::Ordering::Less => {
                    out.push(n3_set(rec, denial_ttl));
                    n3i += 1;
                    first = out.len();
                }
                // A name of the zone that is also an NSEC3 owner (RFC 5155
                // Appendix A has one): its RRsets and the NSEC3 share the name.
                std::cmp::Ordering::Equal => {
                    if kinds[k] == Kind::Glue {
                        let mut s = String::new();
                        wire::push_presentation(&mut s, owner);
                        return Err(SignZoneError::Nsec3OwnerTaken(s));
                    }
                    out.push(n3_set(rec, denial_ttl));
                    n3i += 1;
                }
                std::cmp::Ordering::Greater => break,
            }
        }
        for s in node_sets(n) {
            let sign = match kinds[k] {
                Kind::Glue => false,
                Kind::Delegation => s.rtype == rtype::DS,
                Kind::Auth => true,
            };
            out.push(OutSet { owner, rtype: s.rtype, ttl: s.ttl, rd: Rd::Input(input.rdatas(s)), sign });
        }
        if let Some(Some(rd)) = nsec_rd.get(k) {
            out.push(OutSet { owner, rtype: rtype::NSEC, ttl: denial_ttl, rd: Rd::One(rd), sign: true });
        }
        if k == 0 {
            for t in pre.keys() {
                out.push(OutSet { owner, rtype: *t, ttl: 0, rd: Rd::Pre(*t), sign: false });
            }
            if let Some(rd) = &n3param_rd {
                out.push(OutSet { owner, rtype: rtype::NSEC3PARAM, ttl: denial_ttl, rd: Rd::One(rd), sign: true });
            }
        }
        out[first..].sort_by_key(|s| (s.rtype != rtype::SOA, s.rtype));
    }
    for rec in n3recs_ref.get(n3i..).unwrap_or(&[]) {
        out.push(n3_set(rec, denial_ttl));
    }
    stats.rrsets_signed = out.iter().filter(|s| s.sign).count();
    stats.signatures = stats.rrsets_signed * zsks.len();

    let ctx = Ctx { zone, input, apex: &apex, zsks, opts, pre: &pre, text: matches!(sink, Sink::Text(_)) };
    let outs = &out;
    let n_chunks = out.len().div_ceil(CHUNK);
    let work = |c: usize| -> Result<ChunkOut, SignZoneError> {
        let part = outs.get(c * CHUNK..((c + 1) * CHUNK).min(outs.len())).unwrap_or(&[]);
        ctx.chunk(c * CHUNK, part)
    };
    run_chunks(n_chunks, opts.threads, work, |o| {
        match (&mut sink, o) {
            (Sink::Records(v), ChunkOut::Records(r)) => v.extend(r),
            (Sink::Text(w), ChunkOut::Text(t)) => w.write_all(t.as_bytes())?,
            _ => {}
        }
        Ok(())
    })?;
    if let Sink::Text(w) = &mut sink {
        w.flush()?;
    }
    Ok(stats)
}

/// Runs `work` for chunks `0..n` on `threads` threads and hands the results
/// to `consume` in chunk order as they become ready; the first error stops
/// the run.
fn run_chunks<T: Send>(
    n: usize,
    threads: usize,
    work: impl Fn(usize) -> Result<T, SignZoneError> + Sync,
    mut consume: impl FnMut(T) -> Result<(), SignZoneError>,
) -> Result<(), SignZoneError> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    if n == 0 {
        return Ok(());
    }
    let threads = threads.clamp(1, n);
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Result<T, SignZoneError>)>(threads * 4);
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, stop, work) = (&next, &stop, &work);
            scope.spawn(move || loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= n || stop.load(Ordering::Relaxed) {
                    break;
                }
                let r = work(c);
                if tx.send((c, r)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut pending: BTreeMap<usize, T> = BTreeMap::new();
        let mut want = 0;
        let result = (|| {
            while want < n {
                let Ok((c, r)) = rx.recv() else {
                    return Err(SignZoneError::Dnssec(DnssecError::Signing("a signing thread stopped".into())));
                };
                pending.insert(c, r?);
                while let Some(t) = pending.remove(&want) {
                    consume(t)?;
                    want += 1;
                }
            }
            Ok(())
        })();
        if result.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        drop(rx);
        result
    })
}

/// What every chunk needs.
struct Ctx<'a> {
    zone: &'a Name,
    input: &'a ZoneInput,
    apex: &'a [u8],
    zsks: &'a [&'a dyn Signer],
    opts: &'a SignOptions,
    pre: &'a BTreeMap<u16, (Vec<Record>, Vec<Record>)>,
    text: bool,
}

impl Ctx<'_> {
    /// Signs the RRsets of one chunk (`base` is the index of its first) and
    /// renders it.
    fn chunk(&self, base: usize, part: &[OutSet<'_>]) -> Result<ChunkOut, SignZoneError> {
        let opts = self.opts;
        let validity = opts.expiration.wrapping_sub(opts.inception);
        let jitter = opts.jitter.min(validity / 2);
        let mut rng = rand::thread_rng();
        let mut buf: Vec<u8> = Vec::with_capacity(512);
        let mut rds: Vec<&[u8]> = Vec::new();
        let mut text = String::new();
        let mut recs: Vec<Record> = Vec::new();
        for (i, set) in part.iter().enumerate() {
            let mut sigs: Vec<(u32, Vec<u8>)> = Vec::new();
            if set.sign {
                let exp = opts.expiration.wrapping_sub(if jitter > 0 { rng.gen_range(0..=jitter) } else { 0 });
                rds.clear();
                match &set.rd {
                    Rd::Input(r) => rds.extend(r.iter().map(|r| self.input.rd_of(r))),
                    Rd::One(d) => rds.push(d),
                    Rd::Pre(_) => {}
                }
                // Canonical RDATA order (RFC 4034 §6.3).
                rds.sort_unstable();
                let labels = wire::rrsig_labels(set.owner);
                let check = match opts.verify {
                    Verify::All => true,
                    Verify::Sample => (base + i) % VERIFY_SAMPLE_EVERY == 0,
                };
                for z in self.zsks {
                    let key = z.dnskey();
                    buf.clear();
                    buf.extend_from_slice(&set.rtype.to_be_bytes());
                    buf.push(key.algorithm);
                    buf.push(labels);
                    buf.extend_from_slice(&set.ttl.to_be_bytes());
                    buf.extend_from_slice(&exp.to_be_bytes());
                    buf.extend_from_slice(&opts.inception.to_be_bytes());
                    buf.extend_from_slice(&key.key_tag().to_be_bytes());
                    buf.extend_from_slice(self.apex);
                    for rd in &rds {
                        buf.extend_from_slice(set.owner);
                        buf.extend_from_slice(&set.rtype.to_be_bytes());
                        buf.extend_from_slice(&crate::dnssec::record::CLASS_IN.to_be_bytes());
                        buf.extend_from_slice(&set.ttl.to_be_bytes());
                        buf.extend_from_slice(&(rd.len() as u16).to_be_bytes());
                        buf.extend_from_slice(rd);
                    }
                    let sig = z.sign(&buf).map_err(|e| DnssecError::Signing(format!("{}: {e}", z.describe())))?;
                    if check {
                        verify_raw(key, &buf, &sig).map_err(|e| {
                            DnssecError::Signing(format!("{} produced a signature that does not verify, refusing to use it: {e}", z.describe()))
                        })?;
                    }
                    sigs.push((exp, sig));
                }
            }
            if self.text {
                self.render_text(&mut text, set, &sigs);
            } else {
                self.render_records(&mut recs, set, sigs)?;
            }
        }
        Ok(if self.text { ChunkOut::Text(text) } else { ChunkOut::Records(recs) })
    }

    fn rrsig(&self, set: &OutSet<'_>, z: &dyn Signer, exp: u32, signature: Vec<u8>) -> Rrsig {
        let key = z.dnskey();
        Rrsig {
            type_covered: set.rtype,
            algorithm: key.algorithm,
            labels: wire::rrsig_labels(set.owner),
            original_ttl: set.ttl,
            expiration: exp,
            inception: self.opts.inception,
            key_tag: key.key_tag(),
            signer_name: self.zone.clone(),
            signature,
        }
    }

    fn render_records(&self, out: &mut Vec<Record>, set: &OutSet<'_>, sigs: Vec<(u32, Vec<u8>)>) -> Result<(), SignZoneError> {
        let owner = || crate::dnssec::name::from_wire(set.owner).map(|(n, _)| n);
        match &set.rd {
            Rd::Pre(t) => {
                if let Some((recs, rsigs)) = self.pre.get(t) {
                    out.extend(recs.iter().cloned());
                    out.extend(rsigs.iter().cloned());
                }
                return Ok(());
            }
            Rd::Input(r) => {
                for rec in r.iter() {
                    out.push(Record::new(owner()?, set.ttl, RData::from_wire(set.rtype, self.input.rd_of(rec))?));
                }
            }
            Rd::One(d) => out.push(Record::new(owner()?, set.ttl, RData::from_wire(set.rtype, d)?)),
        }
        for (z, (exp, sig)) in self.zsks.iter().zip(sigs) {
            out.push(Record::new(owner()?, set.ttl, RData::Rrsig(self.rrsig(set, *z, exp, sig))));
        }
        Ok(())
    }

    fn render_text(&self, out: &mut String, set: &OutSet<'_>, sigs: &[(u32, Vec<u8>)]) {
        use std::fmt::Write as _;
        let head = |out: &mut String, t: u16| {
            wire::push_presentation(out, set.owner);
            let _ = write!(out, " {} IN {} ", set.ttl, type_mnemonic(t));
        };
        let line = |out: &mut String, d: &[u8]| {
            head(out, set.rtype);
            match RData::from_wire(set.rtype, d) {
                Ok(rd) => out.push_str(&format_rdata(&rd)),
                Err(_) => out.push_str(&format_rdata(&RData::Other { rtype: set.rtype, data: d.to_vec() })),
            }
            out.push('\n');
        };
        match &set.rd {
            Rd::Pre(t) => {
                if let Some((recs, rsigs)) = self.pre.get(t) {
                    for r in recs.iter().chain(rsigs) {
                        out.push_str(&format_record(r));
                        out.push('\n');
                    }
                }
                return;
            }
            Rd::Input(r) => r.iter().for_each(|rec| line(out, self.input.rd_of(rec))),
            Rd::One(d) => line(out, d),
        }
        let labels = wire::rrsig_labels(set.owner);
        for (z, (exp, sig)) in self.zsks.iter().zip(sigs) {
            let key = z.dnskey();
            head(out, rtype::RRSIG);
            let _ = write!(
                out,
                "{} {} {labels} {} {} {} {} ",
                type_mnemonic(set.rtype),
                key.algorithm,
                set.ttl,
                format_rrsig_time(*exp),
                format_rrsig_time(self.opts.inception),
                key.key_tag()
            );
            wire::push_presentation(out, self.apex);
            out.push(' ');
            out.push_str(&data_encoding::BASE64.encode(sig));
            out.push('\n');
        }
    }
}

/// The signed zone in presentation format, one record per line, after a
/// comment header `header`.
pub fn format_zone(z: &SignedZone, header: &str) -> String {
    let mut s = String::new();
    for l in header.lines() {
        s.push_str("; ");
        s.push_str(l);
        s.push('\n');
    }
    for r in &z.records {
        s.push_str(&format_record(r));
        s.push('\n');
    }
    s
}
#[cfg(test)]
mod tests;
#[cfg(test)]
mod reference;
