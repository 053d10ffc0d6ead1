//! The network edge of parent polling: one DNS query to one server over UDP
//! (retried over TCP when the reply is truncated) or TCP only, with a
//! deadline on every step. Messages are built and parsed with hickory-proto;
//! sockets are std's. Nothing here decides whether a DS is "seen".

use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, RecordType};
use hickory_proto::serialize::binary::BinEncodable;

use super::{DsAnswer, Observation, ParentError, Transport};
use crate::dnssec::name::same_name;
use super::validate::KeysAnswer;
use crate::dnssec::{Dnskey, Ds, Name, Rrsig};

/// The EDNS(0) UDP payload size advertised (DNS Flag Day 2020 value).
pub const EDNS_PAYLOAD: u16 = 1232;
/// At most this many stray UDP datagrams are read while waiting for the reply.
const MAX_DATAGRAMS: usize = 16;
/// At most this many reads assemble one TCP message.
const MAX_TCP_READS: usize = 4096;

/// How to ask.
#[derive(Debug, Clone, Copy)]
pub struct QueryOptions {
    /// Deadline for each transport attempt (UDP, then TCP on truncation).
    pub timeout: Duration,
    /// TCP only (RFC 7766), no UDP first.
    pub tcp_only: bool,
    /// Set RD (for a recursive resolver during discovery; never for the parent).
    pub recursion_desired: bool,
    /// Set DO (RFC 3225) so that the server sends RRSIGs: when validating.
    pub dnssec_ok: bool,
}

/// Why a query got no usable reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    Timeout,
    /// Replies arrived but none matched the query, or they could not be parsed.
    Mismatch(String),
    Io(String),
}

impl From<Failure> for Observation {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Timeout => Observation::Timeout,
            Failure::Mismatch(m) => Observation::Mismatch(m),
            Failure::Io(e) => Observation::Error(e),
        }
    }
}

/// A query for `qname IN qtype` with a random id (RFC 5452 §4.3), EDNS(0)
/// with a 1232-byte payload and DO as given; returns the id and the wire form.
pub fn build_query(qname: &Name, qtype: RecordType, recursion_desired: bool, dnssec_ok: bool) -> Result<(u16, Vec<u8>), ParentError> {
    let mut m = Message::query();
    m.metadata.recursion_desired = recursion_desired;
    m.add_query(Query::query(qname.clone(), qtype));
    let mut edns = Edns::new();
    edns.set_max_payload(EDNS_PAYLOAD);
    edns.set_dnssec_ok(dnssec_ok);
    m.set_edns(edns);
    let wire = m.to_vec().map_err(|e| ParentError::Encode(e.to_string()))?;
    Ok((m.metadata.id, wire))
}

/// A reply is only taken for the query it claims to answer: same id, QR set,
/// opcode QUERY, and exactly the question asked (RFC 5452 §9.1, RFC 1035
/// §7.3); anything else may be spoofed or stray.
pub fn check_reply_matches(id: u16, qname: &Name, qtype: RecordType, reply: &Message) -> Result<(), String> {
    if reply.metadata.id != id {
        return Err(format!("reply id {} does not match query id {id}", reply.metadata.id));
    }
    if reply.metadata.message_type != MessageType::Response {
        return Err("message is not a response (QR clear)".into());
    }
    if reply.metadata.op_code != OpCode::Query {
        return Err(format!("reply opcode {:?} is not QUERY", reply.metadata.op_code));
    }
    match reply.queries.as_slice() {
        [q] if same_name(q.name(), qname) && q.query_type() == qtype && q.query_class() == DNSClass::IN => Ok(()),
        [q] => Err(format!("reply question {} {} {} is not the one asked", q.name(), q.query_class(), q.query_type())),
        qs => Err(format!("reply has {} questions, expected 1", qs.len())),
    }
}

/// The records of type `t` owned by `owner` in the answer section, and the
/// RRSIGs there covering them, each parsed by `parse` from its RDATA.
fn answer_rrset<T>(owner: &Name, t: RecordType, reply: &Message, parse: impl Fn(&[u8]) -> Result<T, crate::dnssec::DnssecError>) -> Result<(Vec<T>, Vec<Rrsig>), String> {
    let (mut set, mut sigs) = (Vec::new(), Vec::new());
    for r in &reply.answers {
        if !same_name(&r.name, owner) || r.dns_class != DNSClass::IN {
            continue;
        }
        let rt = r.record_type();
        if rt != t && rt != RecordType::RRSIG {
            continue;
        }
        let bytes = r.data.to_bytes().map_err(|e| format!("cannot re-encode a {rt} record: {e}"))?;
        if rt == t {
            set.push(parse(&bytes).map_err(|e| e.to_string())?);
        } else {
            let sig = Rrsig::from_wire(&bytes).map_err(|e| e.to_string())?;
            if sig.type_covered == u16::from(t) {
                sigs.push(sig);
            }
        }
    }
    Ok((set, sigs))
}

/// The DS records owned by `zone` in the answer section and their RRSIGs,
/// with RCODE and AA.
pub fn ds_answer(zone: &Name, reply: &Message) -> Result<DsAnswer, String> {
    let (ds, rrsigs) = answer_rrset(zone, RecordType::DS, reply, Ds::from_wire)?;
    let ttl = reply.answers.iter().filter(|r| same_name(&r.name, zone) && r.record_type() == RecordType::DS).map(|r| r.ttl).max();
    Ok(DsAnswer { rcode: u16::from(reply.metadata.response_code), authoritative: reply.metadata.authoritative, ds, ttl, rrsigs, parent_keys: None })
}

/// The DNSKEY records owned by `parent` in the answer section and their
/// RRSIGs, with RCODE and AA.
pub fn keys_answer(parent: &Name, reply: &Message) -> Result<KeysAnswer, String> {
    let (dnskeys, rrsigs) = answer_rrset(parent, RecordType::DNSKEY, reply, Dnskey::from_wire)?;
    Ok(KeysAnswer { rcode: u16::from(reply.metadata.response_code), authoritative: reply.metadata.authoritative, dnskeys, rrsigs })
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn remaining(deadline: Instant) -> Result<Duration, Failure> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(Failure::Timeout)
    } else {
        Ok(left)
    }
}

/// What one UDP exchange gave: a matching reply, or a matching truncated one.
enum UdpReply {
    Full(Message),
    Truncated,
}

fn udp_exchange(server: SocketAddr, id: u16, wire: &[u8], qname: &Name, qtype: RecordType, timeout: Duration) -> Result<UdpReply, Failure> {
    let io = |e: std::io::Error| if is_timeout(&e) { Failure::Timeout } else { Failure::Io(e.to_string()) };
    let local: SocketAddr = if server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { (std::net::Ipv6Addr::UNSPECIFIED, 0).into() };
    let sock = UdpSocket::bind(local).map_err(io)?;
    sock.connect(server).map_err(io)?;
    let deadline = Instant::now() + timeout;
    sock.set_write_timeout(Some(timeout)).map_err(io)?;
    sock.send(wire).map_err(io)?;
    let mut buf = vec![0u8; 65535];
    let mut last_mismatch: Option<String> = None;
    for _ in 0..MAX_DATAGRAMS {
        let left = match remaining(deadline) {
            Ok(l) => l,
            Err(_) => break,
        };
        sock.set_read_timeout(Some(left)).map_err(io)?;
        let n = match sock.recv(&mut buf) {
            Ok(n) => n,
            Err(e) if is_timeout(&e) => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Io(e.to_string())),
        };
        let data = buf.get(..n).unwrap_or_default();
        // A truncated reply may not even parse; the header says enough (RFC 1035 §4.1.1).
        if let [a, b, flags, ..] = data {
            if u16::from_be_bytes([*a, *b]) == id && flags & 0x80 != 0 && flags & 0x02 != 0 {
                return Ok(UdpReply::Truncated);
            }
        }
        match Message::from_vec(data) {
            Ok(m) => match check_reply_matches(id, qname, qtype, &m) {
                Ok(()) => return Ok(UdpReply::Full(m)),
                Err(why) => last_mismatch = Some(why),
            },
            Err(e) => last_mismatch = Some(format!("unparsable reply: {e}")),
        }
    }
    Err(match last_mismatch {
        Some(m) => Failure::Mismatch(m),
        None => Failure::Timeout,
    })
}

fn read_full(s: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> Result<(), Failure> {
    let mut got = 0;
    for _ in 0..MAX_TCP_READS {
        if got >= buf.len() {
            return Ok(());
        }
        let left = remaining(deadline)?;
        s.set_read_timeout(Some(left)).map_err(|e| Failure::Io(e.to_string()))?;
        let dst = buf.get_mut(got..).unwrap_or_default();
        match s.read(dst) {
            Ok(0) => return Err(Failure::Io("connection closed before the whole reply arrived".into())),
            Ok(n) => got += n,
            Err(e) if is_timeout(&e) => return Err(Failure::Timeout),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Failure::Io(e.to_string())),
        }
    }
    if got >= buf.len() {
        Ok(())
    } else {
        Err(Failure::Io("reply arrived in too many pieces".into()))
    }
}

/// One query over TCP with the 2-byte length prefix (RFC 1035 §4.2.2, RFC 7766 §8).
fn tcp_exchange(server: SocketAddr, id: u16, wire: &[u8], qname: &Name, qtype: RecordType, timeout: Duration) -> Result<Message, Failure> {
    let io = |e: std::io::Error| if is_timeout(&e) { Failure::Timeout } else { Failure::Io(e.to_string()) };
    let deadline = Instant::now() + timeout;
    let mut s = TcpStream::connect_timeout(&server, timeout).map_err(io)?;
    s.set_nodelay(true).map_err(io)?;
    s.set_write_timeout(Some(remaining(deadline)?)).map_err(io)?;
    let len = u16::try_from(wire.len()).map_err(|_| Failure::Io("query too long for TCP".into()))?;
    let mut framed = Vec::with_capacity(wire.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(wire);
    s.write_all(&framed).map_err(io)?;
    let mut lenbuf = [0u8; 2];
    read_full(&mut s, &mut lenbuf, deadline)?;
    let mut msg = vec![0u8; usize::from(u16::from_be_bytes(lenbuf))];
    read_full(&mut s, &mut msg, deadline)?;
    let m = Message::from_vec(&msg).map_err(|e| Failure::Mismatch(format!("unparsable reply: {e}")))?;
    check_reply_matches(id, qname, qtype, &m).map_err(Failure::Mismatch)?;
    Ok(m)
}

/// Asks `server` for `qname IN qtype`: UDP first and TCP when the reply has
/// TC set (RFC 7766 §5), or TCP only. Each attempt has `opts.timeout`.
pub fn exchange(server: SocketAddr, qname: &Name, qtype: RecordType, opts: &QueryOptions) -> (Transport, Result<Message, Failure>) {
    let (id, wire) = match build_query(qname, qtype, opts.recursion_desired, opts.dnssec_ok) {
        Ok(q) => q,
        Err(e) => return (Transport::Udp, Err(Failure::Io(e.to_string()))),
    };
    if opts.tcp_only {
        return (Transport::Tcp, tcp_exchange(server, id, &wire, qname, qtype, opts.timeout));
    }
    match udp_exchange(server, id, &wire, qname, qtype, opts.timeout) {
        Ok(UdpReply::Full(m)) => (Transport::Udp, Ok(m)),
        Ok(UdpReply::Truncated) => (Transport::UdpThenTcp, tcp_exchange(server, id, &wire, qname, qtype, opts.timeout)),
        Err(f) => (Transport::Udp, Err(f)),
    }
}

/// Asks one parent server for the zone's DS RRset; with `parent_keys`
/// (validating: the parent zone's name, and `opts.dnssec_ok` set) also for
/// that zone's DNSKEY RRset, over the same transport choice.
pub fn query_ds(server: SocketAddr, zone: &Name, opts: &QueryOptions, parent_keys: Option<&Name>) -> (Transport, Observation) {
    let (t, r) = exchange(server, zone, RecordType::DS, opts);
    let obs = match r {
        Ok(m) => match ds_answer(zone, &m) {
            Ok(mut a) => {
                if let Some(parent) = parent_keys {
                    let (_, k) = exchange(server, parent, RecordType::DNSKEY, opts);
                    a.parent_keys = Some(match k {
                        Ok(m) => keys_answer(parent, &m),
                        Err(f) => Err(match f {
                            Failure::Timeout => "timeout".to_string(),
                            Failure::Mismatch(m) => format!("mismatched reply: {m}"),
                            Failure::Io(e) => e,
                        }),
                    });
                }
                Observation::Answer(a)
            }
            Err(e) => Observation::Mismatch(e),
        },
        Err(f) => f.into(),
    };
    (t, obs)
}

/// Asks every server at once (one thread each) and returns the results in
/// the order given.
pub fn query_all(servers: &[SocketAddr], zone: &Name, opts: &QueryOptions, parent_keys: Option<&Name>) -> Vec<(Transport, Observation)> {
    std::thread::scope(|s| {
        let handles: Vec<_> = servers.iter().map(|a| s.spawn(move || query_ds(*a, zone, opts, parent_keys))).collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| (Transport::Udp, Observation::Error("query thread panicked".into()))))
            .collect()
    })
}

/// Parses a server given as `ADDR`, `ADDR:PORT`, `[IPv6]:PORT`, `ADDR@PORT`
/// (Knot and kdig style) or `HOST[:PORT]` (resolved by the system); the port
/// defaults to 53.
pub fn parse_server(s: &str) -> Result<Vec<SocketAddr>, ParentError> {
    let t = s.trim();
    let bad = || ParentError::BadServer(s.to_string());
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(a) = t.parse::<SocketAddr>() {
        return Ok(vec![a]);
    }
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, 53)]);
    }
    if let Some((addr, port)) = t.rsplit_once('@') {
        let ip: IpAddr = addr.trim_matches(|c| c == '[' || c == ']').parse().map_err(|_| bad())?;
        let port: u16 = port.parse().map_err(|_| bad())?;
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let with_port = if t.contains(':') { t.to_string() } else { format!("{t}:53") };
    let addrs: Vec<SocketAddr> = with_port.to_socket_addrs().map_err(|_| bad())?.collect();
    if addrs.is_empty() {
        return Err(bad());
    }
    Ok(addrs)
}
