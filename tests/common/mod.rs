//! Shared helpers for the integration tests that drive the `kskit` binary
//! and outside tools (Knot DNS's keymgr, SoftHSM2).
//!
//! Include with `mod common;` from a test file. Every helper runs commands
//! with an explicit working directory and environment, so tests running in
//! parallel never share state through the process environment.
//!
//! Outside tools: [`require_tools`] returns `false` (and prints a note) when
//! one is missing, so a test can skip; when `CI=true` a missing tool fails
//! the test instead, so CI can never pass by skipping.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The passphrase used for the software keys the tests generate.
pub const PASSPHRASE: &str = "correct horse battery staple";
/// The SoftHSM2 module shipped by Debian's softhsm2 package.
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// User PIN of the test tokens.
pub const USER_PIN: &str = "1234";
/// SO PIN of the test tokens.
pub const SO_PIN: &str = "5678";

/// The restricted smartcard profile, part one: the mechanisms of a
/// SmartCard-HSM (see ../shared/README.md; docs/smartcard.md), for SoftHSM2's
/// `slots.mechanisms` ([`SoftHsm::new`]): raw RSA and ECDSA only, no
/// hash-and-sign, no EdDSA.
pub const SMARTCARD_MECHANISMS: &str = "CKM_RSA_PKCS,CKM_RSA_X_509,CKM_ECDSA,CKM_RSA_PKCS_KEY_PAIR_GEN,CKM_EC_KEY_PAIR_GEN";
/// The restricted smartcard profile, part two: the fault shim
/// (tests/shim/slowshim.c `SLOWSHIM_SIGN_DELAY_MS`) makes each signature
/// take this long, about the 2 RSA-2048 signatures per second operators
/// report for a SmartCard-HSM (docs/smartcard.md "Speed").
pub const SMARTCARD_SIGN_DELAY_MS: &str = "400";

/// Whether the tests run in CI (`CI=true`), where missing tools are failures.
pub fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Whether `prog` can be started (it is looked up on PATH).
pub fn tool_exists(prog: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(prog).is_file()))
}

/// Whether every program in `progs` exists on PATH and every file in
/// `files` exists. When something is missing: panics under `CI=true`,
/// otherwise prints a note naming `what` and the package to install and
/// returns `false` so the caller can skip.
pub fn require_tools(what: &str, package: &str, progs: &[&str], files: &[&str]) -> bool {
    let mut missing: Vec<String> = progs.iter().filter(|p| !tool_exists(p)).map(|p| p.to_string()).collect();
    missing.extend(files.iter().filter(|f| !Path::new(f).exists()).map(|f| f.to_string()));
    if missing.is_empty() {
        return true;
    }
    if in_ci() {
        panic!("CI=true but {what} is missing ({missing:?}); install the {package} package");
    }
    eprintln!("note: {what} is not installed ({missing:?}; package {package}); skipping this test");
    false
}

/// A `kskit` command with no inherited kskit environment, working in `dir`,
/// with the test passphrase for software keys.
pub fn kskit(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kskit"));
    c.env_remove("KSKIT_PASSPHRASE")
        .env_remove("KSKIT_CONFIG")
        .env_remove("KSKIT_PIN")
        .env("KSKIT_PASSPHRASE", PASSPHRASE)
        .current_dir(dir);
    c
}

/// Runs a command and returns its output (panics only if it cannot start).
pub fn output(c: &mut Command) -> Output {
    c.output().unwrap_or_else(|e| panic!("cannot run {:?}: {e}", c.get_program()))
}

/// Runs `kskit ARGS` in `dir`.
pub fn run_kskit<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Output {
    output(kskit(dir).args(args))
}

/// stdout and stderr of a finished command, for assertion messages.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Asserts the command exited 0 and returns its stdout.
#[track_caller]
pub fn ok(o: Output, what: &str) -> String {
    assert!(o.status.success(), "{what} failed ({:?}):\n{}", o.status.code(), text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `p` as a `&str` (test paths are always UTF-8: they come from tempdir).
pub fn s(p: &Path) -> &str {
    p.to_str().expect("test paths are UTF-8")
}

/// `kskit init DIR --zone ZONE` in `parent`; returns DIR.
pub fn kskit_init(parent: &Path, name: &str, zone: &str) -> PathBuf {
    let dir = parent.join(name);
    ok(run_kskit(parent, &["init", s(&dir), "--zone", zone]), "kskit init");
    dir
}

/// The keystore entries of the kskit directory `dir` (`kskit --json key list`).
pub fn key_list(dir: &Path) -> Vec<serde_json::Value> {
    let out = ok(run_kskit(dir, &["--json", "key", "list"]), "kskit key list");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("key list is not JSON: {e}\n{out}"))
}

/// Generates a software KSK in the kskit directory `dir`; returns its key tag.
pub fn kskit_generate_ksk(dir: &Path, algorithm: &str) -> u16 {
    ok(run_kskit(dir, &["key", "generate", "--role", "ksk", "--algorithm", algorithm]), "kskit key generate");
    let keys = key_list(dir);
    let ksk = keys.iter().find(|k| k["role"] == "ksk").expect("the KSK is in the keystore");
    ksk["key_tag"].as_u64().and_then(|t| u16::try_from(t).ok()).expect("key tag")
}

/// Writes `kskit key ds KEY` (the DS record line) to `path`.
pub fn kskit_write_ds(dir: &Path, key: &str, path: &Path) {
    let ds = ok(run_kskit(dir, &["key", "ds", key]), "kskit key ds");
    assert!(ds.contains(" DS "), "not a DS record: {ds}");
    std::fs::write(path, ds).expect("write trust anchor");
}

/// Copies `src` to `dst` with one base64 character of the first signature
/// of an `RRSIG DNSKEY` record changed (Knot/BIND text layout: the signature
/// starts two lines below the RRSIG's first line). Returns the changed line.
pub fn tamper_text_rrsig(src: &Path, dst: &Path) -> String {
    let data = std::fs::read_to_string(src).expect("read SKR");
    let mut lines: Vec<String> = data.lines().map(str::to_owned).collect();
    let i = lines.iter().position(|l| l.contains("RRSIG DNSKEY")).expect("an RRSIG DNSKEY record");
    let line = lines.get_mut(i + 2).expect("signature line");
    let indent = line.len() - line.trim_start().len();
    let c = line[indent..].chars().next().expect("base64 text");
    let swapped = if c == 'A' { 'B' } else { 'A' };
    line.replace_range(indent..indent + c.len_utf8(), &swapped.to_string());
    let changed = line.clone();
    std::fs::write(dst, lines.join("\n") + "\n").expect("write tampered SKR");
    changed
}

/// A SoftHSM2 configuration and token directory of its own, in a temp dir.
/// Commands get it through `SOFTHSM2_CONF` (see [`SoftHsm::cmd`]).
pub struct SoftHsm {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
}

impl SoftHsm {
    /// Whether SoftHSM2 is installed (see [`require_tools`]).
    pub fn available() -> bool {
        require_tools("SoftHSM2", "softhsm2", &["softhsm2-util"], &[SOFTHSM_MODULE])
    }

    /// A fresh configuration; `mechanisms` (e.g. the smartcard set) limits
    /// `slots.mechanisms` when given.
    pub fn new(mechanisms: Option<&str>) -> SoftHsm {
        let dir = tempfile::tempdir().expect("tempdir");
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).expect("token dir");
        let conf = dir.path().join("softhsm2.conf");
        let mut c = format!("directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens.display());
        if let Some(m) = mechanisms {
            c.push_str(&format!("slots.mechanisms = {m}\n"));
        }
        std::fs::write(&conf, c).expect("write softhsm2.conf");
        SoftHsm { dir, conf }
    }

    /// `softhsm2-util --init-token --free --label LABEL` with the test PINs.
    pub fn init_token(&self, label: &str) {
        let o = output(
            Command::new("softhsm2-util")
                .env("SOFTHSM2_CONF", &self.conf)
                .args(["--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", USER_PIN]),
        );
        assert!(o.status.success(), "softhsm2-util --init-token failed: {}", text(&o));
    }

    /// The RFC 7512 URI of token `label` with the module path and the test
    /// PIN (`pin-value`, which kskit accepts with a warning: fine in tests).
    pub fn token_uri(&self, label: &str) -> String {
        format!("pkcs11:token={}?module-path={SOFTHSM_MODULE}&pin-value={USER_PIN}", label.replace(' ', "%20"))
    }

    /// Adds `pin-value` to a key locator printed by kskit (which carries
    /// `module-path` but never a PIN).
    pub fn with_pin(locator: &str) -> String {
        let sep = if locator.contains('?') { '&' } else { '?' };
        format!("{locator}{sep}pin-value={USER_PIN}")
    }

    /// A kskit command in `dir` that sees this SoftHSM2 configuration.
    pub fn kskit(&self, dir: &Path) -> Command {
        let mut c = kskit(dir);
        c.env("SOFTHSM2_CONF", &self.conf);
        c
    }
}

/// A Knot DNS offline-KSK pair (ZSK side and KSK side) in a temp dir, from
/// the shared fixture configurations with `@DIR@` replaced.
pub struct Knot {
    pub dir: tempfile::TempDir,
    pub zsk_conf: PathBuf,
    pub ksk_conf: PathBuf,
}

/// The Knot configuration templates used when `../shared` is absent: the
/// same content as `../shared/fixtures/knot/{zsk,ksk}-side.conf`.
const KNOT_CONF_TEMPLATE: &str = "database:
    storage: @DIR@/@SIDE@
    kasp-db: @DIR@/@SIDE@/kasp
policy:
  - id: offline
    algorithm: ecdsap256sha256
    offline-ksk: on
    manual: on
    zsk-lifetime: 30d
    rrsig-lifetime: 14d
    rrsig-refresh: 7d
    dnskey-ttl: 3600
    zone-max-ttl: 3600
    cds-cdnskey-publish: always
zone:
  - domain: example.com.
    storage: @DIR@/@SIDE@
    dnssec-signing: on
    dnssec-policy: offline
";

impl Knot {
    /// Whether keymgr is installed (see [`require_tools`]).
    pub fn available() -> bool {
        require_tools("Knot DNS (keymgr)", "knot", &["keymgr"], &[])
    }

    /// A fresh pair of Knot configurations for zone example.com. Uses
    /// `../shared/fixtures/knot/*-side.conf` when present, else the same
    /// configuration embedded above.
    pub fn new() -> Knot {
        let dir = tempfile::tempdir().expect("tempdir");
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/knot");
        let mut confs = Vec::new();
        for side in ["zsk", "ksk"] {
            std::fs::create_dir_all(dir.path().join(side)).expect("knot dir");
            let template = std::fs::read_to_string(fixtures.join(format!("{side}-side.conf")))
                .unwrap_or_else(|_| KNOT_CONF_TEMPLATE.replace("@SIDE@", side));
            let conf = dir.path().join(format!("{side}-side.conf"));
            std::fs::write(&conf, template.replace("@DIR@", s(dir.path()))).expect("write knot conf");
            confs.push(conf);
        }
        let ksk_conf = confs.pop().expect("two confs");
        let zsk_conf = confs.pop().expect("two confs");
        Knot { dir, zsk_conf, ksk_conf }
    }

    fn keymgr(conf: &Path, args: &[&str]) -> Output {
        output(Command::new("keymgr").arg("-c").arg(conf).arg("example.com.").args(args))
    }

    /// `keymgr -c zsk-side.conf example.com. ARGS`.
    pub fn zsk(&self, args: &[&str]) -> Output {
        Self::keymgr(&self.zsk_conf, args)
    }

    /// `keymgr -c ksk-side.conf example.com. ARGS`.
    pub fn ksk(&self, args: &[&str]) -> Output {
        Self::keymgr(&self.ksk_conf, args)
    }

    /// The version line of `keymgr --version`.
    pub fn version() -> String {
        let o = output(Command::new("keymgr").arg("--version"));
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    }
}

/// A port on 127.0.0.1 free for both UDP and TCP right now (bounded tries).
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let Ok(u) = std::net::UdpSocket::bind("127.0.0.1:0") else { continue };
        let Ok(a) = u.local_addr() else { continue };
        if std::net::TcpListener::bind(("127.0.0.1", a.port())).is_ok() {
            return a.port();
        }
    }
    panic!("no free port on 127.0.0.1");
}

/// Kills the knotd it holds when dropped (also when an assertion fails).
pub struct Knotd(pub std::process::Child);

impl Drop for Knotd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// knotd from PATH, or /usr/sbin/knotd (Debian's place, often not in a user's PATH).
pub fn knotd() -> PathBuf {
    let sbin = Path::new("/usr/sbin/knotd");
    let in_path = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("knotd").is_file()));
    if !in_path && sbin.is_file() {
        sbin.to_path_buf()
    } else {
        PathBuf::from("knotd")
    }
}

/// Whether knotd is installed; missing: a note, or a panic when `CI=true`.
pub fn knotd_present() -> bool {
    let ok = Command::new(knotd())
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if in_ci() {
            panic!("knotd is not installed (Debian package knot) and CI=true: these tests must run");
        }
        eprintln!("note: knotd is not installed; skipping the tests against a real parent server");
    }
    ok
}

/// Writes `dir/knot.conf` and starts knotd on it: listening on `listen`
/// (`127.0.0.1@PORT` or a list `[ a@PORT, b@PORT ]`), one worker of each
/// kind, control socket, storage and database in `dir`, logging to
/// `dir/knotd.log` (see [`knotd_log`]); `template` holds more lines of the
/// default template (each indented by 4), `zones` the `zone:` section's
/// entries. Wrap the child in [`Knotd`] or kill it on drop.
pub fn start_knotd(dir: &Path, listen: &str, template: &str, zones: &str) -> std::process::Child {
    let d = dir.display();
    let conf = format!(
        "server:\n    rundir: {d}\n    listen: {listen}\n    udp-workers: 1\n    tcp-workers: 1\n    background-workers: 1\n\
         control:\n    listen: {d}/knot.sock\ndatabase:\n    storage: {d}\nlog:\n  - target: stderr\n    any: info\n\
         template:\n  - id: default\n    storage: {d}\n{template}zone:\n{zones}"
    );
    std::fs::write(dir.join("knot.conf"), conf).expect("write knot.conf");
    let log = std::fs::File::create(dir.join("knotd.log")).expect("create knotd.log");
    Command::new(knotd())
        .arg("-c")
        .arg(dir.join("knot.conf"))
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .spawn()
        .expect("start knotd")
}

/// The log of a knotd started by [`start_knotd`] in `dir`.
pub fn knotd_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("knotd.log")).unwrap_or_default()
}

/// libfaketime's multi-threaded preload library (Debian's libfaketime).
pub const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/// `cmd` runs with its clock at `t` (libfaketime; the clock then advances).
pub fn at_time(cmd: &mut Command, t: time::OffsetDateTime) -> &mut Command {
    let f = format!("@{:04}-{:02}-{:02} {:02}:{:02}:{:02}", t.year(), t.month() as u8, t.day(), t.hour(), t.minute(), t.second());
    cmd.env("LD_PRELOAD", FAKETIME_LIB).env("FAKETIME", f).env("FAKETIME_NO_CACHE", "1")
}

/// `kskit demo --dir PARENT/demo`: a ZSK side (`demo/zsk-side`) with an
/// imported SKR of 90 days made by an ECDSAP256SHA256 KSK over
/// ECDSAP256SHA256 ZSKs, its random passphrase in `demo/passphrase` and
/// the KSK's DS in `demo/trust-anchor.ds`. With `at`, the demo runs with
/// its clock there (libfaketime), so the SKR starts then. Returns the demo
/// directory.
pub fn kskit_demo(parent: &Path, at: Option<time::OffsetDateTime>) -> PathBuf {
    let d = parent.join("demo");
    let mut c = kskit(parent);
    c.args(["demo", "--dir", s(&d)]);
    if let Some(t) = at {
        at_time(&mut c, t);
    }
    ok(output(&mut c), "kskit demo");
    assert!(d.join("zsk-side/keystore/skr/example.com/timeline.json").is_file(), "the demo imported its SKR");
    d
}

/// `kskit sign-zone` of the zone text `unsigned` by the ZSK side of the
/// demo in `demo` (its passphrase file), into `out`; `extra` arguments
/// (e.g. `--at`) appended. Returns the signed zone text.
pub fn demo_sign_zone(demo: &Path, unsigned: &str, out: &Path, extra: &[&str]) -> String {
    let zf = out.with_extension("unsigned");
    std::fs::write(&zf, unsigned).expect("write the unsigned zone");
    let pass = demo.join("passphrase");
    let mut args = vec!["sign-zone", s(&zf), "-o", s(out), "--passphrase-file", s(&pass)];
    args.extend(extra);
    ok(run_kskit(&demo.join("zsk-side"), &args), "kskit sign-zone");
    std::fs::read_to_string(out).expect("read the signed zone")
}

/// One knotd on 127.0.0.1 serving the parent zone `example.`, which
/// delegates `child.example.` with the DS records given; killed when dropped.
pub struct ParentKnot {
    child: std::process::Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for ParentKnot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ParentKnot {
    /// Starts knotd with `child DS` records `ds` (presentation RDATA), the
    /// zone signed by knotd itself when `signed` (automatic DNSSEC with its
    /// default policy); up to 3 attempts, each on a fresh port and directory.
    pub fn start(ds: &[&str], signed: bool) -> ParentKnot {
        Self::start_with(ds, signed, "@ NS ns1.example.\nns1 A 127.0.0.9\n", false)
    }

    /// As [`ParentKnot::start`], with the apex NS records and their
    /// addresses given as zone text (`ns_records`), and with `also_v6` knotd
    /// also listening on [::1] at the same port.
    pub fn start_with(ds: &[&str], signed: bool, ns_records: &str, also_v6: bool) -> ParentKnot {
        let mut last = String::new();
        for _attempt in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let mut zone = String::from(
                "$ORIGIN example.\n$TTL 3600\n@ SOA ns1.example. hostmaster.example. 1 3600 600 86400 300\n",
            );
            zone.push_str(ns_records);
            zone.push_str("child NS ns1.child.example.\nns1.child A 127.0.0.9\n");
            for r in ds {
                zone.push_str(&format!("child DS {r}\n"));
            }
            std::fs::write(dir.path().join("example.zone"), zone).unwrap();
            let listen = if also_v6 { format!("[ 127.0.0.1@{port}, ::1@{port} ]") } else { format!("127.0.0.1@{port}") };
            let zones = format!("  - domain: example.\n    file: example.zone\n{}", if signed { "    dnssec-signing: on\n" } else { "" });
            let child = start_knotd(dir.path(), &listen, "", &zones);
            let mut k = ParentKnot { child, port, dir };
            if k.wait_for(hickory_proto::rr::RecordType::SOA, true) && (!signed || k.wait_for(hickory_proto::rr::RecordType::DNSKEY, false)) {
                return k;
            }
            last = k.log();
            // dropping `k` kills this server before the next attempt
        }
        panic!("knotd did not start serving example.:\n{last}");
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        knotd_log(self.dir.path())
    }

    /// Waits (bounded: 100 tries, 50 ms apart) until knotd answers
    /// `example. IN qtype` authoritatively with NOERROR (and, unless
    /// `empty_ok`, with records of that type); false when it exits or never does.
    fn wait_for(&mut self, qtype: hickory_proto::rr::RecordType, empty_ok: bool) -> bool {
        use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
        let server: std::net::SocketAddr = self.addr().parse().unwrap();
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_millis(200))).unwrap();
        let mut buf = [0u8; 4096];
        for i in 0..100u16 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            let mut q = Message::new(0x4000 + i, MessageType::Query, OpCode::Query);
            q.add_query(Query::query(hickory_proto::rr::Name::from_ascii("example.").unwrap(), qtype));
            let _ = sock.send_to(&q.to_vec().unwrap(), server);
            if let Ok((n, _)) = sock.recv_from(&mut buf) {
                if let Ok(m) = Message::from_vec(&buf[..n]) {
                    let answered = m.metadata.id == 0x4000 + i && m.metadata.authoritative && m.metadata.response_code == ResponseCode::NoError;
                    if answered && (empty_ok || m.answers.iter().any(|r| r.record_type() == qtype)) {
                        return true;
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        false
    }
}

/// Spawns `cmd` (stdin and stdout null, stderr piped) and waits for it, at
/// most `guard`: past that the child is killed and the test fails with
/// `what`. Returns the exit code and stderr.
pub fn run_with_guard(cmd: &mut Command, guard: std::time::Duration, what: &str) -> (Option<i32>, String) {
    use std::io::Read as _;
    use std::process::Stdio;
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if start.elapsed() > guard {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {guard:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    (status.code(), stderr)
}

/// One `## `kskit ...`` section of docs/json.md: whether the command has no
/// JSON, and its table's `(path, type)` rows.
pub struct JsonSection {
    pub no_json: bool,
    pub fields: Vec<(String, String)>,
}

/// docs/json.md parsed: per command heading, its section.
pub fn json_doc() -> std::collections::BTreeMap<String, JsonSection> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json.md")).expect("docs/json.md");
    let mut out = std::collections::BTreeMap::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("## `") {
            let name = h.trim_end_matches('`').to_string();
            out.insert(name.clone(), JsonSection { no_json: false, fields: vec![] });
            cur = Some(name);
            continue;
        }
        let Some(c) = &cur else { continue };
        let sec = out.get_mut(c).unwrap();
        if line.contains("**no JSON**") || line.contains("JSON Lines") {
            sec.no_json = true;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() >= 4 && cells[1].starts_with('`') && cells[1].ends_with('`') {
            sec.fields.push((cells[1].trim_matches('`').to_string(), cells[2].to_string()));
        }
    }
    out
}

fn json_type_ok(v: &serde_json::Value, ty: &str) -> bool {
    let (base, nullable) = match ty.strip_suffix('?') {
        Some(b) => (b, true),
        None => (ty, false),
    };
    if v.is_null() {
        return nullable;
    }
    match base {
        "string" => v.is_string(),
        "number" => v.is_number(),
        "bool" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        other => panic!("docs/json.md: unknown type {other}"),
    }
}

/// Checks `path` (`a.b`, `a[].b`, `[]`) of `v` has type `ty` (docs/json.md
/// types; `?` = may be null or absent); pushes the problems found.
pub fn check_json_path(v: &serde_json::Value, path: &str, ty: &str, problems: &mut Vec<String>, full: &str) {
    if path.is_empty() || path == "[]" && ty == "array" {
        if !json_type_ok(v, ty) {
            problems.push(format!("{full}: {v} is not {ty}"));
        }
        return;
    }
    let (head, rest) = match path.find(['.', '[']) {
        Some(0) if path.starts_with("[]") => {
            let rest = path[2..].trim_start_matches('.');
            match v.as_array() {
                Some(a) => a.iter().for_each(|e| check_json_path(e, rest, ty, problems, full)),
                None => problems.push(format!("{full}: not an array")),
            }
            return;
        }
        Some(i) => (&path[..i], path[i..].trim_start_matches('.')),
        None => (path, ""),
    };
    match v.get(head) {
        Some(x) => check_json_path(x, rest, ty, problems, full),
        None if ty.ends_with('?') => {}
        None => problems.push(format!("{full}: missing")),
    }
}

/// RFC 4034 §5.1.4 SHA-256 DS digest of a KSK (flags 257) of `zone`,
/// upper-case hex, computed here (independent of kskit).
pub fn ds_sha256(zone: &str, algorithm_number: u8, public_key: &[u8]) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    for label in zone.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        h.update([label.len() as u8]);
        h.update(label.as_bytes());
    }
    h.update([0u8]);
    h.update([1u8, 1, 3, algorithm_number]);
    h.update(public_key);
    h.finalize().iter().map(|b| format!("{b:02X}")).collect()
}

/// The KSK cycle on a PKCS#11 token (tests/cycle_softhsm.rs,
/// tests/tpm_token.rs): how kskit reaches the token.
pub struct CycleToken<'a> {
    /// A kskit command in a directory, with the module's environment.
    pub kskit: &'a dyn Fn(&Path) -> Command,
    /// The token's URI with `module-path` and `pin-value` (hsm keygen, hsm list).
    pub uri: String,
    /// The module every key locator must name.
    pub module: String,
    /// The user PIN (`hsm list --pin` through KSKIT_PIN).
    pub pin: &'a str,
    /// The DNSKEY public key field of the token's public key object
    /// `(label, algorithm)`, read without kskit (pkcs11-tool).
    pub public_key: &'a dyn Fn(&str, &str) -> Vec<u8>,
}

/// A token KSK made by [`CycleToken::keygen`].
pub struct TokenKsk {
    pub keystore_id: String,
    pub locator: String,
    pub key_tag: u16,
    /// Its DS (`kskit key ds`), the ZSK side's trust anchor.
    pub ds_file: PathBuf,
}

impl CycleToken<'_> {
    /// `kskit hsm keygen` of a KSK `label` in the kskit directory `kdir`;
    /// checks the locator names the module, the keystore's DS is the DS of
    /// the public key read from the token without kskit, and `hsm list
    /// --pin` shows the key (with its private half) under that key tag.
    pub fn keygen(&self, kdir: &Path, zone: &str, algorithm: &str, bits: Option<&str>, label: &str) -> TokenKsk {
        let mut args = vec!["--json", "hsm", "keygen", "--token", &self.uri, "--algorithm", algorithm, "--label", label];
        if let Some(b) = bits {
            args.extend(["--bits", b]);
        }
        let out = ok(output((self.kskit)(kdir).args(&args)), "kskit hsm keygen");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("hsm keygen: not JSON ({e}):\n{out}"));
        let keystore_id = v["keystore_id"].as_str().expect("keystore_id").to_owned();
        let locator = v["locator"].as_str().expect("locator").to_owned();
        assert!(locator.contains(&format!("module-path={}", self.module)), "the locator names another module: {locator}");
        let key_tag = v["key_tag"].as_u64().and_then(|t| u16::try_from(t).ok()).expect("key_tag");
        assert_eq!(v["flags"], 257, "{out}");

        let ds_file = kdir.join(format!("{label}.ds"));
        kskit_write_ds(kdir, &keystore_id, &ds_file);
        let ds = std::fs::read_to_string(&ds_file).expect("DS file");
        let f: Vec<&str> = ds.split_whitespace().collect();
        let pos = f.iter().position(|x| *x == "DS").expect("DS line");
        assert_eq!(f[pos + 1], key_tag.to_string());
        assert_eq!(f[pos + 3], "2", "kskit key ds defaults to SHA-256");
        let expected = ds_sha256(zone, f[pos + 2].parse().expect("algorithm number"), &(self.public_key)(label, algorithm));
        assert_eq!(f[pos + 4].to_ascii_uppercase(), expected, "the keystore's DS is not the token key's DS");

        let out = ok(output((self.kskit)(kdir).args(["--json", "hsm", "list", "--token", &self.uri, "--pin"]).env("KSKIT_PIN", self.pin)), "kskit hsm list --pin");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("hsm list: not JSON ({e}):\n{out}"));
        let keys = v["slots"].as_array().into_iter().flatten().flat_map(|sl| sl["token"]["keys"].as_array().into_iter().flatten());
        let listed = keys.filter(|k| k["label"] == label).any(|k| {
            k["has_private"] == true && k["ksk_key_tags"].as_array().into_iter().flatten().any(|t| t["key_tag"].as_u64() == Some(u64::from(key_tag)))
        });
        assert!(listed, "hsm list does not show {label} (with its private key) under key tag {key_tag}:\n{out}");
        TokenKsk { keystore_id, locator, key_tag, ds_file }
    }

    /// `kskit ksr verify` then `kskit --json ksr sign --cds publish` in
    /// `kdir` with the token KSKs `ksks` (locators with the PIN); asserts
    /// one token signature per (bundle, RRset, KSK) and returns the JSON.
    pub fn verify_and_sign(&self, kdir: &Path, ksr: &Path, skr: &Path, ksks: &[String], env_pin: bool) -> serde_json::Value {
        let out = ok(output((self.kskit)(kdir).args(["ksr", "verify", s(ksr)])), "kskit ksr verify");
        assert!(out.contains("KSR accepted"), "{out}");
        let mut args: Vec<&str> = vec!["--json", "ksr", "sign", s(ksr), "-o", s(skr), "--yes", "--cds", "publish"];
        for k in ksks {
            args.extend(["--ksk", k.as_str()]);
        }
        let mut c = (self.kskit)(kdir);
        if env_pin {
            c.env("KSKIT_PIN", self.pin);
        }
        let out = ok(output(c.args(&args)), "kskit ksr sign (token KSK)");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("ksr sign: not JSON ({e}):\n{out}"));
        assert_eq!(v["signed"], true, "{out}");
        let bundles = v["bundles"].as_u64().expect("bundles");
        assert!(bundles >= 2, "{out}");
        let expected = bundles * 3 * ksks.len() as u64;
        assert_eq!(v["token_sign_operations"].as_u64(), Some(expected), "not one token signature per (bundle, RRset, KSK):\n{out}");
        assert_eq!(v["signatures"].as_u64(), Some(expected), "{out}");
        v
    }
}

/// The ZSK side of a token cycle: a kskit directory `zsk-side` in `t` with
/// ZSKs of `algorithm` pre-generated for 90 days and a KSR in `format`
/// (`iana` or `text`). Both sides' kskit.toml (this one and `kdir`'s) get
/// ZSKs of the KSK's algorithm (RFC 4035 §2.2: the KSK side refuses a
/// DNSKEY RRset with an algorithm no KSK signs with). Returns the ZSK
/// directory and the KSR.
pub fn cycle_zsk_side(t: &Path, zone: &str, format: &str, algorithm: &str, kdir: &Path) -> (PathBuf, PathBuf) {
    let zdir = kskit_init(t, "zsk-side", zone);
    let zsk = if algorithm.starts_with("RSA") {
        format!(r#"zsk = {{ algorithm = "{algorithm}", bits = 2048, lifetime = "90d" }}"#)
    } else {
        format!(r#"zsk = {{ algorithm = "{algorithm}", lifetime = "90d" }}"#)
    };
    for dir in [zdir.as_path(), kdir] {
        let conf = dir.join("kskit.toml");
        let text = std::fs::read_to_string(&conf).expect("kskit.toml");
        let line = text.lines().find(|l| l.starts_with("zsk = ")).expect("zsk policy line").to_owned();
        std::fs::write(&conf, text.replace(&line, &zsk)).expect("write kskit.toml");
    }
    ok(run_kskit(&zdir, &["zsk", "pregenerate", "--until", "+90d"]), "kskit zsk pregenerate");
    let ksr = t.join(if format == "iana" { "request.ksr.xml" } else { "request.ksr" });
    ok(run_kskit(&zdir, &["ksr", "generate", "--from", "now", "--until", "+90d", "--format", format, "-o", s(&ksr)]), "kskit ksr generate");
    (zdir, ksr)
}

/// The ZSK side (no token access) checks the SKR against the KSR and the
/// token KSK's DS (`skr verify --json`: passed) and imports it; returns
/// the imported file.
pub fn cycle_verify_and_import(zdir: &Path, skr: &Path, ksr: &Path, ta: &Path) -> PathBuf {
    let out = ok(run_kskit(zdir, &["--json", "skr", "verify", s(skr), "--ksr", s(ksr), "--trust-anchor", s(ta)]), "kskit skr verify");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("skr verify: not JSON ({e}):\n{out}"));
    assert_eq!(v["passed"], true, "{out}");
    let out = ok(run_kskit(zdir, &["--json", "skr", "import", s(skr), "--ksr", s(ksr), "--trust-anchor", s(ta)]), "kskit skr import");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("skr import: not JSON ({e}):\n{out}"));
    assert_eq!(v["passed"], true, "{out}");
    let imported = zdir.join(v["imported"].as_str().expect("imported"));
    assert!(imported.is_file(), "{} was not stored", imported.display());
    imported
}

/// The DNSKEY public key field (RFC 3110 for RSA, RFC 6605 for P-256) of
/// the public key object `label` on `token` of `module`, read with OpenSC's
/// pkcs11-tool (an implementation independent of kskit). `pkcs11_tool` is
/// the command with the module's environment; the DER goes to `der`.
pub fn pkcs11_tool_public_key(mut pkcs11_tool: Command, module: &str, token: &str, label: &str, algorithm: &str, der: &Path) -> Vec<u8> {
    use rsa::pkcs8::DecodePublicKey as _;
    use rsa::traits::PublicKeyParts as _;
    let o = output(pkcs11_tool.args(["--module", module, "--token-label", token, "--read-object", "--type", "pubkey", "--label", label, "-o", s(der)]));
    assert!(o.status.success(), "pkcs11-tool --read-object failed: {}", text(&o));
    let der = std::fs::read(der).expect("public key DER");
    if algorithm.starts_with("RSA") {
        let key = rsa::RsaPublicKey::from_public_key_der(&der).expect("RSA SubjectPublicKeyInfo");
        let (e, n) = (key.e().to_bytes_be(), key.n().to_bytes_be());
        let mut out = if e.len() <= 255 { vec![e.len() as u8] } else { vec![0, (e.len() >> 8) as u8, e.len() as u8] };
        out.extend_from_slice(&e);
        out.extend_from_slice(&n);
        out
    } else {
        // P-256 SubjectPublicKeyInfo ends with the uncompressed point 04 || X || Y.
        assert_eq!(der.len(), 91, "unexpected P-256 SPKI length");
        assert_eq!(der[26], 4, "not an uncompressed point");
        der[27..].to_vec()
    }
}

/// An instant in RFC 3339, as kskit's `--now`/`--at`/`--from` take it.
pub fn fmt_time(t: time::OffsetDateTime) -> String {
    kskit::timeutil::format_rfc3339(t)
}

/// Replaces the kskit.toml line of `dir` that starts with `prefix` by `line`.
pub fn set_policy_line(dir: &Path, prefix: &str, line: &str) {
    let conf = dir.join("kskit.toml");
    let c = std::fs::read_to_string(&conf).unwrap();
    let old = c.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix} line in kskit.toml")).to_string();
    std::fs::write(&conf, c.replace(&old, line)).unwrap();
}

/// A signed zone file's RRsets and RRSIGs grouped by (owner, type), the
/// apex DNSKEY RRset and its RRSIGs taken out. NSEC lines are dropped:
/// kskit's zone-file reader takes NSEC only in RFC 3597 form, and the NSEC
/// chain is other tools' to check.
pub struct SignedParts {
    pub apex: String,
    pub dnskey: kskit::dnssec::RrSet,
    pub dnskey_sigs: Vec<kskit::dnssec::Rrsig>,
    pub sets: std::collections::HashMap<(String, u16), Vec<kskit::dnssec::Record>>,
    pub sigs: std::collections::HashMap<(String, u16), Vec<kskit::dnssec::Rrsig>>,
}

impl SignedParts {
    pub fn read(file: &Path, zone: &kskit::dnssec::Name) -> SignedParts {
        use kskit::dnssec::{RData, Record, RrSet, Rrsig};
        use std::collections::HashMap;
        let text: String = std::fs::read_to_string(file).unwrap().lines().filter(|l| !l.contains(" IN NSEC ")).map(|l| format!("{l}\n")).collect();
        let records = kskit::dnssec::presentation::parse_records(&text, Some(zone), None).unwrap();
        let mut sets: HashMap<(String, u16), Vec<Record>> = HashMap::new();
        let mut sigs: HashMap<(String, u16), Vec<Rrsig>> = HashMap::new();
        for r in records {
            let owner = kskit::dnssec::name::to_presentation(&r.name);
            match &r.rdata {
                RData::Rrsig(s) => sigs.entry((owner, s.type_covered)).or_default().push(s.clone()),
                _ => sets.entry((owner, r.rtype())).or_default().push(r),
            }
        }
        let apex = kskit::dnssec::name::to_presentation(zone);
        let dnskey = RrSet::from_records(&sets.remove(&(apex.clone(), 48)).expect("a DNSKEY RRset")).unwrap();
        let dnskey_sigs = sigs.remove(&(apex.clone(), 48)).unwrap_or_default();
        SignedParts { apex, dnskey, dnskey_sigs, sets, sigs }
    }
}

/// A signed zone file read back: the apex DNSKEY RRset and its RRSIGs, the
/// other signed RRsets (CDS/CDNSKEY included) and the CDS records.
pub struct SignedZone {
    pub at: time::OffsetDateTime,
    pub dnskey: kskit::dnssec::RrSet,
    pub dnskey_sigs: Vec<kskit::dnssec::Rrsig>,
    pub data: Vec<(kskit::dnssec::RrSet, Vec<kskit::dnssec::Rrsig>)>,
    pub cds: Vec<kskit::dnssec::Ds>,
}

impl SignedZone {
    /// Reads `file` (NSEC records left out: kskit's zone-file reader takes
    /// NSEC only in RFC 3597 form; the NSEC chain is other tools' to check).
    pub fn read(file: &Path, zone: &kskit::dnssec::Name, at: time::OffsetDateTime) -> SignedZone {
        use kskit::dnssec::{RData, RrSet};
        let SignedParts { apex, dnskey, dnskey_sigs, sets, sigs } = SignedParts::read(file, zone);
        let cds = sets.get(&(apex, 59)).cloned().unwrap_or_default().into_iter().filter_map(|r| if let RData::Cds(d) = r.rdata { Some(d) } else { None }).collect();
        let data = sets.into_iter().filter_map(|(k, recs)| sigs.get(&k).map(|s| (RrSet::from_records(&recs).unwrap(), s.clone()))).collect();
        SignedZone { at, dnskey, dnskey_sigs, data, cds }
    }

    /// The key tags of the SEP keys of the DNSKEY RRset (revoked ones too).
    pub fn ksk_tags(&self) -> std::collections::BTreeSet<u16> {
        self.dnskey.rdatas.iter().filter_map(|r| if let kskit::dnssec::RData::Dnskey(k) = r { k.is_sep().then(|| k.key_tag()) } else { None }).collect()
    }

    /// The key tags of the SEP keys a chain can start from (not revoked).
    pub fn usable_ksk_tags(&self) -> std::collections::BTreeSet<u16> {
        self.dnskey.rdatas.iter().filter_map(|r| if let kskit::dnssec::RData::Dnskey(k) = r { (k.is_sep() && !k.is_revoked()).then(|| k.key_tag()) } else { None }).collect()
    }

    /// Every signed RRset of `data` validates from `ds` through the DNSKEY
    /// RRset of `keys` (kskit's chain check), at the later of the two times.
    /// CDS/CDNSKEY are checked only with their own DNSKEY RRset.
    pub fn chain(zone: &kskit::dnssec::Name, ds: &[kskit::dnssec::Ds], keys: &SignedZone, data: &SignedZone) -> Result<(), String> {
        let same_step = std::ptr::eq(keys, data);
        let sets = data.data.iter().filter(|(set, _)| same_step || !(set.rtype == 59 || set.rtype == 60));
        chain_secure(zone, ds, &keys.dnskey, &keys.dnskey_sigs, sets, keys.at.max(data.at))
    }
}

/// Every RRset of `sets` is Secure for a resolver holding the DS RRset
/// `ds` and the DNSKEY RRset `dnskey` (with its RRSIGs) at `at`; else the
/// first RRset that is not, named by owner and type.
pub fn chain_secure<'a>(
    zone: &kskit::dnssec::Name,
    ds: &[kskit::dnssec::Ds],
    dnskey: &kskit::dnssec::RrSet,
    dnskey_sigs: &[kskit::dnssec::Rrsig],
    sets: impl Iterator<Item = &'a (kskit::dnssec::RrSet, Vec<kskit::dnssec::Rrsig>)>,
    at: time::OffsetDateTime,
) -> Result<(), String> {
    use kskit::rollover::trust::{check_chain, Snapshot, Trust};
    let at = at.unix_timestamp() as u64;
    for (set, sigs) in sets {
        let snap = Snapshot { zone, ds, dnskey, dnskey_sigs, data: set, data_sigs: sigs, at };
        match check_chain(&snap) {
            Ok(Trust::Secure) => {}
            Ok(Trust::Insecure) => return Err("insecure".into()),
            Err(e) => return Err(format!("{} type {}: {e}", kskit::dnssec::name::to_presentation(&set.name), set.rtype)),
        }
    }
    Ok(())
}

/// The small child zone the rollover tests sign (apex, NS, glue, one name).
pub const CHILD_ZONE: &str = "$ORIGIN child.example.
$TTL 3600
@ SOA ns1 hostmaster 1 7200 3600 1209600 3600
@ NS ns1
ns1 A 192.0.2.1
www A 192.0.2.3
";
