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
