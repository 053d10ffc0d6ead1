#!/usr/bin/env bash
# benches/compare.sh — kskit's signing rates against OpenSSL, SoftHSM2 and
# Knot DNS's keymgr, measured in one run on one machine, written to
# docs/benchmarks.md with a bar chart docs/benchmarks.svg.
#
#   benches/compare.sh                      # the full run (3 s per phase, 1000 zones)
#   BENCH_SECONDS=1 BENCH_ZONES=100 benches/compare.sh   # a short run
#
# Variables: BENCH_SECONDS (seconds per measured phase, default 3),
# BENCH_ZONES (zones in the batch comparison, default 1000), BENCH_ZONE_RECORDS
# (records of the zones every signer signs, default 200000),
# BENCH_BIG_ZONE_RECORDS (records of the zones kskit and kzonesign sign,
# default 1000000; 0 skips them), BENCH_THREADS
# (default: all cores), BENCH_OUT (default docs/benchmarks.md; the SVG goes
# beside it). Needs: cargo, openssl, softhsm2 (softhsm2-util), knot (keymgr),
# python3 (standard library only); BENCH_KEEP=1 keeps the raw results
# (BENCH_REPORT_ONLY=DIR rewrites the document from them). A missing tool skips its comparison and
# the document says so. Numbers are never edited: the document is what this
# script measured.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
S=${BENCH_SECONDS:-3}
ZONES=${BENCH_ZONES:-1000}
THREADS=${BENCH_THREADS:-$(nproc)}
OUT=${BENCH_OUT:-docs/benchmarks.md}
SVG="${OUT%.md}.svg"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kskit-compare-XXXXXX")
trap '[ -n "${BENCH_KEEP:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"' EXIT
SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
R="$WORK/results"
mkdir -p "$R"

note() { printf '== %s\n' "$*" >&2; }
now() { python3 -c 'import time; print(repr(time.time()))'; }
have() { command -v "$1" >/dev/null 2>&1; }

# BENCH_REPORT_ONLY=DIR: no measurement, only the document regenerated
# from the raw results DIR of an earlier run (kept with BENCH_KEEP=1).
if [ -n "${BENCH_REPORT_ONLY:-}" ]; then
  R=$BENCH_REPORT_ONLY
else

note "building kskit (release)"
cargo build --release --quiet
KSKIT="$ROOT/target/release/kskit"

{
  echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "cores=$(nproc)"
  echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "kskit=$("$KSKIT" --version) ($(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ', uncommitted changes'))"
  echo "openssl=$(openssl version 2>/dev/null || echo missing)"
  echo "softhsm=$(softhsm2-util --version 2>/dev/null || echo missing)"
  echo "knot=$(keymgr --version 2>/dev/null || echo missing)"
  echo "seconds=$S"
  echo "openssl_seconds=$(python3 -c "import math; print(max(1, math.ceil(float('$S'))))")"
  echo "zones=$ZONES"
  echo "threads=$THREADS"
} > "$R/env.txt"

note "kskit software rates (${S} s per phase, 1 and $THREADS threads)"
"$KSKIT" bench --seconds "$S" --threads "$THREADS" --json > "$R/soft.jsonl"

if have openssl; then
  # openssl speed takes whole seconds.
  OS_S=$(python3 -c "import math; print(max(1, math.ceil(float('$S'))))")
  note "openssl speed -seconds $OS_S, 1 process"
  openssl speed -seconds "$OS_S" rsa2048 rsa3072 rsa4096 ecdsap256 ecdsap384 ed25519 > "$R/openssl1.txt" 2>/dev/null
  if [ "$THREADS" -gt 1 ]; then
    note "openssl speed -multi $THREADS"
    openssl speed -multi "$THREADS" -seconds "$OS_S" rsa2048 rsa3072 rsa4096 ecdsap256 ecdsap384 ed25519 > "$R/opensslN.txt" 2>/dev/null
  fi
fi

if have softhsm2-util && [ -f "$SOFTHSM_MODULE" ]; then
  note "kskit PKCS#11 rates on SoftHSM2"
  mkdir -p "$WORK/hsm/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$WORK/hsm/tokens" > "$WORK/hsm/softhsm2.conf"
  export SOFTHSM2_CONF="$WORK/hsm/softhsm2.conf"
  softhsm2-util --init-token --free --label kskit-bench --so-pin 5678 --pin 1234 >/dev/null
  printf '1234\n' > "$WORK/hsm/pin"; chmod 600 "$WORK/hsm/pin"
  "$KSKIT" bench --backend pkcs11 \
    --token "pkcs11:token=kskit-bench?module-path=$SOFTHSM_MODULE&pin-source=file:$WORK/hsm/pin" \
    --seconds "$S" --threads "$THREADS" --json > "$R/pkcs11.jsonl"
fi

note "kskit scenarios (software KSK ECDSAP256SHA256)"
"$KSKIT" bench --scenario ksr-year --scenario verify-skr --json > "$R/scenarios.jsonl"

note "batch: the KSRs of $ZONES zones"
B="$WORK/batch"
"$KSKIT" bench --write-ksrs "$B" --zones "$ZONES" >/dev/null
# kskit: one KSK (software, age-encrypted in a keystore), one run for all zones.
printf 'compare-sh-passphrase\n' > "$WORK/pass"; chmod 600 "$WORK/pass"
"$KSKIT" init "$B/kskit" --zone bench.example. >/dev/null
"$KSKIT" --config "$B/kskit/kskit.toml" key generate --role ksk --algorithm ECDSAP256SHA256 --passphrase-file "$WORK/pass" >/dev/null
KSK_ID=$("$KSKIT" --config "$B/kskit/kskit.toml" --json key list | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
t0=$(now)
"$KSKIT" --config "$B/kskit/kskit.toml" --json ksr sign-batch "$B/ksr" --ksk "$KSK_ID" --policy "$B/ksk-policy.toml" \
  -o "$B/skr-kskit" --yes --cds publish --passphrase-file "$WORK/pass" > "$R/batch-kskit.json"
t1=$(now)
echo "kskit_seconds=$(python3 -c "print($t1-$t0)")" > "$R/batch.txt"

if have keymgr; then
  # Knot's KSK side as in ../shared/fixtures/knot/ksk-side.conf: offline-ksk,
  # manual, its own kasp-db, CDS/CDNSKEY published; one KSK per zone.
  K="$B/knot"
  mkdir -p "$K/kasp" "$B/skr-knot"
  {
    printf 'database:\n    storage: %s\n    kasp-db: %s\n' "$K" "$K/kasp"
    printf 'policy:\n  - id: offline\n    algorithm: ecdsap256sha256\n    offline-ksk: on\n    manual: on\n'
    printf '    zsk-lifetime: 30d\n    rrsig-lifetime: 14d\n    rrsig-refresh: 7d\n    dnskey-ttl: 3600\n    zone-max-ttl: 3600\n    cds-cdnskey-publish: always\n'
    printf 'template:\n  - id: default\n    storage: %s\n    dnssec-signing: on\n    dnssec-policy: offline\n' "$K"
    printf 'zone:\n'
    while read -r z; do printf '  - domain: %s\n' "$z"; done < "$B/zones.txt"
  } > "$K/knot.conf"
  # Active since yesterday: the KSRs start now, before these keys would otherwise be active.
  note "keymgr: one KSK per zone (not timed)"
  while read -r z; do keymgr -c "$K/knot.conf" "$z" generate ksk=yes created=-1d publish=-1d ready=-1d active=-1d >/dev/null; done < "$B/zones.txt"
  note "keymgr sign-ksr, once per zone (timed)"
  t0=$(now)
  while read -r z; do
    keymgr -c "$K/knot.conf" "$z" sign-ksr "$B/ksr/${z}ksr" > "$B/skr-knot/${z}skr"
  done < "$B/zones.txt"
  t1=$(now)
  echo "keymgr_seconds=$(python3 -c "print($t1-$t0)")" >> "$R/batch.txt"
  echo "keymgr_skr_bytes=$(cat "$B"/skr-knot/* | wc -c)" >> "$R/batch.txt"
fi

# sign-zone comparison: kskit sign-zone against kzonesign (Knot,
# signing-threads = BENCH_THREADS), dnssec-signzone -n and ldns-signzone on
# the same zones, same algorithm (ECDSAP256SHA256), same cores; every run
# under /usr/bin/time -v for wall-clock and peak memory (maximum RSS).
# Zones: "nsec", N A records plus the apex, signed with NSEC; "nsec3", a
# TLD-shaped zone of about N records (delegations, a quarter with DS, half
# with glue) signed with NSEC3, RFC 9276 parameters, opt-out.
# Two sizes: BENCH_ZONE_RECORDS (default 200000), signed by every signer
# (kskit also with --verify all), and BENCH_BIG_ZONE_RECORDS (default
# 1000000; 0 skips it), signed by kskit (default settings) and kzonesign
# only, the two the goal compares: dnssec-signzone and ldns-signzone take
# many minutes each at that size and are not part of any goal.
RECORDS=${BENCH_ZONE_RECORDS:-200000}
BIG_RECORDS=${BENCH_BIG_ZONE_RECORDS:-1000000}
# One signer run under /usr/bin/time -v: LABEL TOOL CMD...; appends
# LABEL_TOOL_seconds and LABEL_TOOL_maxrss_kb to signzone.txt.
timed() {
  local label=$1 tool=$2; shift 2
  local tf="$WORK/time-$label-$tool.txt"
  if /usr/bin/time -v -o "$tf" "$@" >/dev/null 2>"$WORK/err-$label-$tool.txt"; then
    python3 - "$tf" "$label" "$tool" >> "$R/signzone.txt" <<'PYT'
import sys
t = open(sys.argv[1]).read().splitlines()
def get(k):
    return next(l.split(": ", 1)[1] for l in t if l.strip().startswith(k))
w = get("Elapsed (wall clock) time").split(":")
secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(w)))
print("%s_%s_seconds=%s" % (sys.argv[2], sys.argv[3], secs))
print("%s_%s_maxrss_kb=%s" % (sys.argv[2], sys.argv[3], get("Maximum resident set size")))
PYT
  else
    echo "${label}_${tool}_failed=1" >> "$R/signzone.txt"
    note "$tool failed on $label: $(tail -2 "$WORK/err-$label-$tool.txt")"
  fi
}
# Writes Z/nsec.zone and Z/nsec3.zone of about N records: make_zones N.
make_zones() {
  python3 - "$Z" "$1" <<'PYZ'
import sys
d, n = sys.argv[1], int(sys.argv[2])
with open(d + "/nsec.zone", "w") as f:
    f.write("$ORIGIN example.com.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 900 604800 300\n@ NS ns1\nns1 A 192.0.2.1\n")
    for i in range(n):
        f.write("h%d A 10.%d.%d.%d\n" % (i, (i >> 16) & 255, (i >> 8) & 255, i & 255))
with open(d + "/nsec3.zone", "w") as f:
    f.write("$ORIGIN example.com.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 900 604800 300\n@ NS ns1\nns1 A 192.0.2.1\n")
    recs = 0
    i = 0
    while recs < n:
        f.write("d%d NS ns.hoster.net.\n" % i); recs += 1
        if i % 2 == 0:
            f.write("d%d NS ns1.d%d\nns1.d%d A 10.%d.%d.%d\n" % (i, i, i, (i >> 16) & 255, (i >> 8) & 255, i & 255)); recs += 2
        if i % 4 == 0:
            f.write("d%d DS %d 13 2 %064X\n" % (i, i % 65536, (i + 1) * 0x9E3779B97F4A7C15)); recs += 1
        i += 1
PYZ
}
# sign_zones N SUFFIX ALL: signs both zones of N records; the labels are
# nsec$SUFFIX and nsec3$SUFFIX; ALL=1 runs every signer, 0 kskit and kzonesign.
sign_zones() {
  local n=$1 suffix=$2 all=$3 shape label zf
  make_zones "$n"
  for shape in nsec nsec3; do
    label="$shape$suffix"
    zf="$Z/$shape.zone"
    echo "${label}_records=$(grep -vc '^\$' "$zf")" >> "$R/signzone.txt"
    extra=()
    [ "$shape" = nsec3 ] && extra=(--denial nsec3 --opt-out)
    note "sign-zone $label ($n records): kskit (default: sampled verification)"
    timed "$label" kskit "$KSKIT" --config "$Z/demo/zsk-side/kskit.toml" sign-zone "$zf" -o "$Z/$label.kskit" \
      --passphrase-file "$Z/demo/passphrase" --threads "$THREADS" "${extra[@]}"
    echo "${label}_kskit_rrsigs=$(grep -c ' IN RRSIG ' "$Z/$label.kskit" || true)" >> "$R/signzone.txt"
    rm -f "$Z/$label.kskit"
    if [ "$all" = 1 ]; then
      note "sign-zone $label: kskit --verify all"
      timed "$label" kskit_verify_all "$KSKIT" --config "$Z/demo/zsk-side/kskit.toml" sign-zone "$zf" -o "$Z/$label.kskit-all" \
        --passphrase-file "$Z/demo/passphrase" --threads "$THREADS" --verify all "${extra[@]}"
      rm -f "$Z/$label.kskit-all"
    fi
    if have kzonesign; then
      note "sign-zone $label: kzonesign (signing-threads: $THREADS)"
      K="$Z/knot-$label"
      mkdir -p "$K/out"
      cp "$zf" "$K/example.com.zone"
      if [ "$shape" = nsec3 ]; then n3="    nsec3: on\n    nsec3-opt-out: on\n    nsec3-iterations: 0\n    nsec3-salt-length: 0\n"; else n3="    nsec3: off\n"; fi
      printf 'database:\n  storage: %s\npolicy:\n  - id: bench\n    algorithm: ecdsap256sha256\n    signing-threads: %s\n%btemplate:\n  - id: default\n    storage: %s\n    dnssec-signing: on\n    dnssec-policy: bench\nzone:\n  - domain: example.com.\n    file: example.com.zone\n' \
        "$K" "$THREADS" "$n3" "$K" > "$K/knot.conf"
      timed "$label" kzonesign kzonesign -c "$K/knot.conf" -o "$K/out" example.com.
      rm -rf "$K"
    fi
    if [ "$all" = 1 ] && have dnssec-signzone && have dnssec-keygen; then
      note "sign-zone $label: dnssec-signzone -n $THREADS"
      mkdir -p "$Z/bind-$label"
      (cd "$Z/bind-$label" && dnssec-keygen -q -a ECDSAP256SHA256 example.com >/dev/null && dnssec-keygen -q -a ECDSAP256SHA256 -f KSK example.com >/dev/null)
      b3=()
      [ "$shape" = nsec3 ] && b3=(-3 - -H 0 -A)
      timed "$label" dnssec_signzone dnssec-signzone -q -S -K "$Z/bind-$label" -d "$Z/bind-$label" -o example.com -n "$THREADS" "${b3[@]}" -f "$Z/$label.bind" "$zf"
    fi
    if [ "$all" = 1 ] && have ldns-signzone && have ldns-keygen; then
      note "sign-zone $label: ldns-signzone (one thread)"
      mkdir -p "$Z/ldns-$label"
      zk=$(cd "$Z/ldns-$label" && ldns-keygen -a ECDSAP256SHA256 example.com)
      kk=$(cd "$Z/ldns-$label" && ldns-keygen -a ECDSAP256SHA256 -k example.com)
      l3=()
      # No -s: ldns-signzone's default NSEC3 salt is empty (RFC 9276).
      [ "$shape" = nsec3 ] && l3=(-n -t 0 -p)
      timed "$label" ldns_signzone ldns-signzone "${l3[@]}" -f "$Z/$label.ldns" "$zf" "$Z/ldns-$label/$zk" "$Z/ldns-$label/$kk"
    fi
    rm -f "$Z/$label".*
  done
}
if "$KSKIT" sign-zone --help >/dev/null 2>&1 && [ -x /usr/bin/time ]; then
  echo "sign_zone=available" >> "$R/batch.txt"
  Z="$WORK/signzone"
  mkdir -p "$Z"
  note "sign-zone: zones of $RECORDS and $BIG_RECORDS records, the SKR from a demo cycle"
  "$KSKIT" demo --dir "$Z/demo" >/dev/null
  echo "records=$RECORDS" > "$R/signzone.txt"
  echo "big_records=$BIG_RECORDS" >> "$R/signzone.txt"
  echo "threads=$THREADS" >> "$R/signzone.txt"
  sign_zones "$RECORDS" "" 1
  [ "$BIG_RECORDS" -gt 0 ] && sign_zones "$BIG_RECORDS" "-big" 0
  rm -rf "$Z"
else
  echo "sign_zone=missing" >> "$R/batch.txt"
fi

# KeyTrap-shaped verification input (CVE-2023-50387): many keys sharing one
# key tag and junk signatures; kskit must verify or refuse it in bounded time.
note "KeyTrap-shaped input (kskit bench --scenario keytrap)"
"$KSKIT" bench --scenario keytrap --json > "$R/keytrap.jsonl" 2>/dev/null || echo '{"scenario":"keytrap","failed":true}' > "$R/keytrap.jsonl"
echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >> "$R/env.txt"
fi

note "writing $OUT and $SVG"
python3 - "$R" "$OUT" "$SVG" <<'PY'
# Report generator of benches/compare.sh (Python standard library only).
import json, os, re, sys
R, OUT, SVG = sys.argv[1], sys.argv[2], sys.argv[3]

def kv(path):
    d = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                d[k] = v
    return d

def jsonl(path):
    if not os.path.exists(path):
        return []
    return [json.loads(l) for l in open(path) if l.strip()]

def openssl(path):
    rates = {}
    if not os.path.exists(path):
        return rates
    for line in open(path):
        m = re.match(r"^\s*rsa\s+(\d+)\s+bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            rates["rsa%s" % m.group(1)] = (float(m.group(2)), float(m.group(3)))
        m = re.match(r"^\s*\d+\s+bits\s+ecdsa\s+\((\w+)\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            rates[m.group(1)] = (float(m.group(2)), float(m.group(3)))
        m = re.match(r"^\s*\d+\s+bits\s+EdDSA\s+\((\w+)\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            rates[m.group(1).lower()] = (float(m.group(2)), float(m.group(3)))
    return rates

env = kv(os.path.join(R, "env.txt"))
batch = kv(os.path.join(R, "batch.txt"))
soft = jsonl(os.path.join(R, "soft.jsonl"))
hsm = jsonl(os.path.join(R, "pkcs11.jsonl"))
scen = jsonl(os.path.join(R, "scenarios.jsonl"))
o1 = openssl(os.path.join(R, "openssl1.txt"))
oN = openssl(os.path.join(R, "opensslN.txt"))
bk = {}
if os.path.exists(os.path.join(R, "batch-kskit.json")):
    bk = json.load(open(os.path.join(R, "batch-kskit.json")))
N = int(env.get("threads", "1"))
loaded = float(env.get("load_before", "0 0 0").split()[0]) > int(env.get("cores", "1")) or \
         float(env.get("load_after", "0 0 0").split()[0]) > int(env.get("cores", "1"))

OSSL = {("RSASHA256", 2048): "rsa2048", ("RSASHA256", 3072): "rsa3072", ("RSASHA256", 4096): "rsa4096",
        ("RSASHA512", 2048): "rsa2048", ("ECDSAP256SHA256", 256): "nistp256", ("ECDSAP384SHA384", 384): "nistp384",
        ("ED25519", 256): "ed25519"}

def case(rows, alg, bits, threads):
    for r in rows:
        if r["algorithm"] == alg and r["bits"] == bits and r["threads"] == threads:
            return r
    return None

cases = []
for r in soft:
    if (r["algorithm"], r["bits"]) not in cases:
        cases.append((r["algorithm"], r["bits"]))

def f(x, nd=0):
    return "—" if x is None else ("{:,.%df}" % nd).format(x)

def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b

def verdict(r, target):
    if r is None:
        return "not measured"
    if r >= target:
        return "met"
    return "**missed by %.0f%%**" % ((1 - r / target) * 100)

bars = []  # (label, ratio, target)
missed = []
L = []
L.append("# Benchmarks")
L.append("")
L.append("Generated by `benches/compare.sh` on %s; do not edit by hand (rerun the script). "
         "Every number below was measured in that one run on one machine." % env.get("date", "?"))
L.append("")
L.append("| | |")
L.append("|---|---|")
for k, lab in [("cpu", "CPU"), ("cores", "cores"), ("load_before", "load average before / after"), ("kskit", "kskit"),
               ("openssl", "OpenSSL"), ("softhsm", "SoftHSM2"), ("knot", "Knot DNS"), ("seconds", "seconds per measured phase"),
               ("threads", "threads (multi-threaded runs)"), ("zones", "zones in the batch comparison")]:
    v = env.get(k, "?")
    if k == "load_before":
        v = "%s / %s" % (env.get("load_before", "?"), env.get("load_after", "?"))
    L.append("| %s | %s |" % (lab, v))
L.append("")
short = float(env.get("seconds", "3")) < 3 or int(env.get("zones", "1000")) < 1000
if short:
    L.append("**This is a short run** (%s s per phase, %s zones instead of 3 s and 1000): the numbers are "
             "noisier than a full run's. Rerun `benches/compare.sh` without variables for the full one." % (env.get("seconds"), env.get("zones")))
    L.append("")
if loaded:
    L.append("**The machine was busy during this run** (load average %s before and %s after, on %s cores: other "
             "builds were running). kskit, OpenSSL, SoftHSM2 and keymgr were measured one after the other, each under "
             "whatever load there was at that moment, so ratios between them carry that noise (in an earlier short "
             "run of this script on the same machine RSASHA256/2048 signed at about twice the rate measured here). "
             "Rerun `benches/compare.sh` on an idle machine before drawing conclusions from a ratio near its target."
             % (env.get("load_before"), env.get("load_after"), env.get("cores")))
    L.append("")
L.append("How it is measured: `kskit bench` signs the RFC 4034 §3.1.8.1 signing input of an RRSIG over a DNSKEY "
         "RRset of two ZSKs and the KSK (same algorithm and size) by calling `Signer::sign` in a loop on each thread "
         "for the phase's seconds; verification and sign-then-verify (what a ceremony does per RRSIG) are separate "
         "phases. `openssl speed` signs a digest (no hashing of the data) with the same key sizes; kskit's numbers "
         "include hashing a 200–900-byte input, a small part of one signature's cost.")
L.append("")

# 1. software vs OpenSSL
L.append("## Software signing vs OpenSSL")
L.append("")
L.append("Targets: kskit on 1 thread ≥ 0.9× OpenSSL on 1 core; kskit on %d threads ≥ 1.8× OpenSSL on 1 core "
         "(0.9× per core on 2 cores). Also shown: kskit's own scaling and `openssl speed -multi %d`." % (N, N))
L.append("")
L.append("| algorithm | bits | kskit sign/s 1 thr | OpenSSL sign/s 1 core | ratio (≥ 0.9) | kskit sign/s %d thr | ratio to OpenSSL 1 core (≥ 1.8) | kskit scaling | OpenSSL -multi %d sign/s | kskit verify/s 1 thr | OpenSSL verify/s 1 core |" % (N, N))
L.append("|---|---:|---:|---:|---|---:|---|---:|---:|---:|---:|")
for alg, bits in cases:
    a1 = case(soft, alg, bits, 1)
    aN = case(soft, alg, bits, N) if N > 1 else None
    key = OSSL.get((alg, bits))
    os1 = o1.get(key) if key else None
    osN = oN.get(key) if key else None
    s1 = a1["sign_per_sec"] if a1 else None
    sN = aN["sign_per_sec"] if aN else None
    r1 = ratio(s1, os1[0] if os1 else None)
    rN = ratio(sN, os1[0] if os1 else None)
    sc = ratio(sN, s1)
    v1 = verdict(r1, 0.9)
    vN = verdict(rN, 1.8) if N > 1 else "—"
    if r1 is not None:
        bars.append(("%s/%d 1 thr vs OpenSSL" % (alg, bits), r1, 0.9))
        if r1 < 0.9:
            missed.append(("soft1", alg, bits, r1, 0.9))
    if rN is not None and N > 1:
        bars.append(("%s/%d %d thr vs OpenSSL 1 core" % (alg, bits, N), rN, 1.8))
        if rN < 1.8:
            missed.append(("softN", alg, bits, rN, 1.8))
    L.append("| %s | %d | %s | %s | %s %s | %s | %s %s | %s | %s | %s | %s |" % (
        alg, bits, f(s1), f(os1[0] if os1 else None), f(r1, 2), v1, f(sN), f(rN, 2), vN, f(sc, 2) + "×" if sc else "—",
        f(osN[0] if osN else None), f(a1["verify_per_sec"] if a1 else None), f(os1[1] if os1 else None)))
L.append("")

# 2. PKCS#11
L.append("## PKCS#11 on SoftHSM2 vs kskit software")
L.append("")
if not hsm:
    L.append("Not measured: SoftHSM2 is not installed.")
else:
    L.append("Target: PKCS#11 (SoftHSM2) ≥ 0.8× kskit software, raw signatures per second. A `Pkcs11Signer` "
             "verifies every token signature in software before returning it (a faulty token must never yield a "
             "bad signature), so its `sign` is a token signature plus a software verification; the last column "
             "compares it with software sign-then-verify, the like-for-like figure. One PKCS#11 session (one "
             "`Pkcs11Signer`) per thread; keys generated on the token with label `kskit-bench-*` and removed afterwards.")
    L.append("")
    L.append("| algorithm | bits | threads | PKCS#11 sign/s | software sign/s | ratio (≥ 0.8) | software sign+verify/s | ratio to sign+verify |")
    L.append("|---|---:|---:|---:|---:|---|---:|---:|")
    for alg, bits in cases:
        for t in sorted({1, N}):
            h = case(hsm, alg, bits, t)
            so = case(soft, alg, bits, t)
            if not h or not so:
                continue
            r = ratio(h["sign_per_sec"], so["sign_per_sec"])
            rsv = ratio(h["sign_per_sec"], so["sign_verify_per_sec"])
            bars.append(("PKCS#11 %s/%d %d thr vs soft" % (alg, bits, t), r, 0.8))
            if r is not None and r < 0.8:
                missed.append(("hsm", alg, bits, r, 0.8, t, rsv))
            L.append("| %s | %d | %d | %s | %s | %s %s | %s | %s |" % (alg, bits, t, f(h["sign_per_sec"]), f(so["sign_per_sec"]), f(r, 2),
                                                                 verdict(r, 0.8), f(so["sign_verify_per_sec"]), f(rsv, 2)))
L.append("")

# 3. batch
L.append("## Batch ceremony vs Knot keymgr")
L.append("")
zones = int(env.get("zones", "0"))
ks = float(batch["kskit_seconds"]) if "kskit_seconds" in batch else None
km = float(batch["keymgr_seconds"]) if "keymgr_seconds" in batch else None
L.append("%d zones, each a 90-day text-format KSR (ECDSAP256SHA256 ZSKs, a ZSK rollover in the middle), as the Knot "
         "ZSK side writes them. kskit: `kskit ksr sign-batch DIR --ksk KSK --cds publish --yes`, one process, one "
         "KSK opened (and its age file decrypted) once; every KSR checked, every SKR parsed back and checked before "
         "writing. Knot: `keymgr -c knot.conf ZONE sign-ksr FILE` once per zone (Knot 3.2 has no batch mode), "
         "configured like `../shared/fixtures/knot/ksk-side.conf` (`offline-ksk: on`, `manual: on`, own "
         "`kasp-db`, CDS/CDNSKEY published), one KSK per zone generated beforehand (not timed). Target: kskit ≥ 5× "
         "keymgr per zone. Wall-clock seconds of the whole runs." % zones)
L.append("")
L.append("| | seconds | per zone (ms) | signatures | ratio (≥ 5) |")
L.append("|---|---:|---:|---:|---|")
if ks is not None:
    L.append("| kskit ksr sign-batch | %.2f | %.2f | %s | |" % (ks, ks * 1000 / max(zones, 1), bk.get("signatures", "?")))
    if "signing_seconds" in bk:
        L.append("| of which: signing, verifying each RRSIG, serialising and re-checking each SKR (in memory) | %.2f | %.2f | | |" % (bk["signing_seconds"], bk["signing_seconds"] * 1000 / max(zones, 1)))
    if "check_seconds" in bk:
        L.append("| of which: reading and checking the KSRs | %.2f | %.2f | | |" % (bk["check_seconds"], bk["check_seconds"] * 1000 / max(zones, 1)))
if km is not None:
    r = ratio(km, ks)
    bars.append(("batch: keymgr time / kskit time", r, 5.0))
    if r is not None and r < 5:
        missed.append(("batch", "", 0, r, 5.0))
    L.append("| keymgr sign-ksr per zone | %.2f | %.2f | | %s %s |" % (km, km * 1000 / max(zones, 1), f(r, 1), verdict(r, 5.0)))
else:
    L.append("| keymgr | not measured (Knot not installed) | | | |")
L.append("")

# 4. scenarios
L.append("## Scenarios (`kskit bench --scenario ...`)")
L.append("")
L.append("| scenario | seconds | signatures | per second | what |")
L.append("|---|---:|---:|---:|---|")
for s in scen:
    L.append("| %s | %.3f | %d | %s | %s |" % (s["scenario"], s["seconds"], s["signatures"], f(s["signatures_per_sec"], 1), s["detail"]))
L.append("")
L.append("## Zone signing")
L.append("")
sz = kv(os.path.join(R, "signzone.txt")) if os.path.exists(os.path.join(R, "signzone.txt")) else {}
# The signing-only limit: signatures needed / kskit's ECDSA P-256 rate on all threads.
p256N = case(soft, "ECDSAP256SHA256", 256, N) if soft else None
rateN = p256N["sign_per_sec"] if p256N else None
if any(k.endswith("_kskit_seconds") for k in sz):
    big = int(float(sz.get("big_records", "0")))
    L.append("The same zones signed on %s threads, ECDSAP256SHA256 ZSK and KSK; seconds are wall-clock "
             "including reading and writing the zone, memory is the peak resident set (`/usr/bin/time -v`). kskit takes the "
             "pre-signed DNSKEY/CDS/CDNSKEY from the SKR of a demo cycle and runs with its default settings; kzonesign (Knot) runs with `signing-threads: %s`; "
             "`dnssec-signzone -S -n %s`; `ldns-signzone` is single-threaded by design. *nsec*: A records plus the apex, NSEC. "
             "*nsec3*: a TLD-shaped zone (delegations, a quarter with DS, half with glue) with NSEC3, 0 iterations, no salt, opt-out. "
             "The record column counts the zone file's records. Every signer signs the %s-record zones; the %s-record zones (*-big*) "
             "are signed by kskit and kzonesign only, the two the goal compares (dnssec-signzone and ldns-signzone would add "
             "many minutes each and are not part of a goal). "
             "The limit is the signatures kskit made divided by `kskit bench`'s ECDSA P-256 rate on %s threads (%s/s)."
             % (sz.get("threads"), sz.get("threads"), sz.get("threads"), f(int(float(sz.get("records", "0")))), f(big) if big else "—", N, f(rateN)))
    L.append("")
    if big < 1000000:
        L.append("**Not run: the 1,000,000-record zones.** This run used BENCH_BIG_ZONE_RECORDS=%s." % sz.get("big_records", "unset"))
        L.append("")
    L.append("Memory floor: kskit's peak includes the scrypt memory used for a moment while its passphrase-protected ZSK "
             "files are decrypted: 64 MiB (work factor 2^16, fixed for ZSK files, docs/keystore.md; a ZSK encrypted to an age "
             "recipient or on a PKCS#11 token has none). The keys are opened before the zone is read, so the peak is the "
             "larger of that and the zone's own memory, not their sum.")
    L.append("")
    L.append("| zone | records | signer | seconds | peak MiB | kzonesign s / signer s (≥ 1 for kskit) | signer MiB / kzonesign MiB (≤ 1.5 for kskit) |")
    L.append("|---|---:|---|---:|---:|---|---|")
    failed_runs = []
    for label in ("nsec", "nsec3", "nsec-big", "nsec3-big"):
        recs = f(int(float(sz.get(label + "_records", "0"))))
        ks = sz.get(label + "_kskit_seconds")
        kz = sz.get(label + "_kzonesign_seconds")
        kzm = sz.get(label + "_kzonesign_maxrss_kb")
        for tool, name in (("kskit", "kskit sign-zone"), ("kskit_verify_all", "kskit sign-zone --verify all"), ("kzonesign", "kzonesign"),
                           ("dnssec_signzone", "dnssec-signzone"), ("ldns_signzone", "ldns-signzone")):
            t = sz.get("%s_%s_seconds" % (label, tool))
            if sz.get("%s_%s_failed" % (label, tool)):
                L.append("| %s | %s | %s | failed (see below) | | | |" % (label, recs, name))
                failed_runs.append("%s on %s" % (name, label))
                continue
            if not t:
                continue
            t = float(t)
            m = float(sz.get("%s_%s_maxrss_kb" % (label, tool), "0")) / 1024
            rs = ratio(float(kz), t) if kz else None
            rm = ratio(m, float(kzm) / 1024) if kzm else None
            mark_s = (f(rs, 2) + " " + verdict(rs, 1.0)) if (rs and tool == "kskit") else f(rs, 2)
            mark_m = (f(rm, 2) + " " + ("✅" if rm <= 1.5 else "❌")) if (rm and tool == "kskit") else f(rm, 2)
            L.append("| %s | %s | %s | %.2f | %.0f | %s | %s |" % (label, recs, name, t, m, mark_s, mark_m))
            if tool == "kskit":
                if rs is not None:
                    bars.append(("sign-zone %s vs kzonesign" % label, rs, 1.0))
                    if rs < 1.0:
                        missed.append(("signzone", "kzonesign (%s)" % label, 0, rs, 1.0))
                if rm is not None and rm > 1.5:
                    missed.append(("signzone-mem", "kzonesign (%s)" % label, 0, rm, 1.5))
        sigs = sz.get(label + "_kskit_rrsigs")
        if ks and sigs and rateN:
            limit = (int(sigs) - 1) / rateN
            L.append("| %s | %s | *signing-only limit* (%s signatures / %s per s) | %.2f | | kskit at %.2f× the limit (target ≤ 2) | |"
                     % (label, recs, f(int(sigs)), f(rateN), limit, float(ks) / limit))
            if float(ks) / limit > 2:
                missed.append(("signzone-limit", label, 0, float(ks) / limit, 2.0))
    L.append("")
    if failed_runs:
        L.append("Failed in this run: %s (the signer's last error lines are in the run's log)." % ", ".join(failed_runs))
        L.append("")
    L.append("By default kskit verifies the signatures of the first RRset of every 64 (`--verify sample`); "
             "`--verify all` verifies every signature. Why sampling is safe: see *Verification in sign-zone* below.")
    L.append("")
    kt = jsonl(os.path.join(R, "keytrap.jsonl")) if os.path.exists(os.path.join(R, "keytrap.jsonl")) else []
    L.append("## KeyTrap-shaped input")
    L.append("")
    for k in kt:
        if k.get("failed"):
            L.append("`kskit bench --scenario keytrap` failed in this run.")
        else:
            L.append("`kskit bench --scenario keytrap`: %.3f s, %s verifications (%s) — target: any input under the 16 MiB limit verified or refused within 10 s on one core." % (k["seconds"], k["signatures"], k["detail"]))
    L.append("")
if any(k.endswith("_kskit_seconds") for k in sz):
    pass
elif batch.get("sign_zone") == "available":
    L.append("The zone-signing comparison did not run in this invocation.")
else:
    L.append("`kskit sign-zone` is not available in this build: the comparison with `dnssec-signzone` (target ≥ 1.5×) was not run.")
L.append("")

# 5. missed targets
L.append("## Targets missed, by how much and why")
L.append("")
if not missed:
    L.append("None in this run.")
def _r1(alg, bits):
    a, key = case(soft, alg, bits, 1), OSSL.get((alg, bits))
    return ratio(a["sign_per_sec"] if a else None, o1[key][0] if key in o1 else None)
_rs = [x for x in [_r1("RSASHA256", b) for b in (2048, 3072, 4096)] if x is not None]
rsa_gap_largest_at_2048 = bool(_rs) and _rs[0] == min(_rs)
why = {
    "soft1-rsa": ("ring's RSA private-key operation against OpenSSL's. RSA signing is almost entirely one modular "
                  "exponentiation (hashing and DNSSEC framing are under 1%% of it), so the gap is the library's, not "
                  "kskit's framing. OpenSSL 3.0 has dedicated x86-64 code (RSAZ) for 2048-bit moduli and the gap is "
                  "%s there. Not profiled further; closing it means another RSA implementation"
                  % ("largest" if rsa_gap_largest_at_2048 else "not largest")),
    "soft1-ec": ("ECDSA and Ed25519 signatures take tens of microseconds, so per-call costs show: kskit's soft "
                 "signer makes a new `SystemRandom` and a signature `Vec` for every call and ring draws each ECDSA "
                 "nonce from the OS, while `openssl speed` signs a ready digest in a tight loop. Not profiled further"),
    "softN": ("the 2-thread target is twice the per-core one, so every 1-thread gap above carries over; on top of "
              "that the machine has %s cores shared with other work during this run (load average %s before, %s "
              "after), so two signing threads did not get two idle cores (see the scaling column)"
              % (env.get("cores"), env.get("load_before"), env.get("load_after"))),
    "hsm": ("a `Pkcs11Signer::sign` is a C_Sign sent to the session's worker thread (a channel round trip per "
            "call), SoftHSM2's own signing, and kskit's software verification of the token's signature (never "
            "skipped: a faulty token must not produce a bad SKR). For ECDSA and Ed25519 a verification costs more "
            "than a signature, so the raw ratio cannot reach 0.8 by construction; the sign+verify column is the "
            "like-for-like figure. SoftHSM2 scales poorly or not at all to 2 sessions here (its object store and "
            "sessions are guarded by process-wide locks)"),
    "batch": ("keymgr per zone is a process start, configuration and KASP database load (with its own fsyncs) and the "
              "signatures; kskit pays its fixed costs once (process start, keystore, the scrypt decryption of the KSK "
              "file). What bounds kskit is its own checking, all of it kept: every RRSIG is signed, verified at once "
              "(`sign_ksr`), and verified again when the SKR is parsed back and run through every SKR check, so each "
              "signature costs one ECDSA P-256 signature and two verifications (a verification costs about three "
              "signatures' time); a profile of this batch (perf, ring's P-256 field arithmetic) put about half of "
              "kskit's CPU time there, the rest in KSR and SKR parsing (names), memory allocation and scrypt. "
              "The SKRs are written with every temp file fsynced concurrently, then renamed, then one directory fsync. "
              "In this run the signing phase took %s s and reading and checking the KSRs %s s of the %s s"
              % (f(bk.get("signing_seconds"), 2), f(bk.get("check_seconds"), 2),
                 f(float(batch["kskit_seconds"]) if "kskit_seconds" in batch else None, 2))),
}
groups = {}
for m in missed:
    kind = m[0]
    if kind in ("soft1",):
        kind = "soft1-rsa" if m[1].startswith("RSA") else "soft1-ec"
    groups.setdefault(kind, []).append(m)
titles = {"soft1-rsa": "Software RSA, 1 thread, vs OpenSSL (target 0.9×)", "soft1-ec": "Software ECDSA/Ed25519, 1 thread, vs OpenSSL (target 0.9×)",
          "softN": "Software, %d threads, vs OpenSSL on 1 core (target 1.8×)" % N, "hsm": "PKCS#11 on SoftHSM2 vs software (target 0.8×)",
          "batch": "Batch vs keymgr per zone (target 5×)", "signzone": "sign-zone wall-clock vs kzonesign (target ≥ 1×)", "signzone-mem": "sign-zone peak memory vs kzonesign (target ≤ 1.5×)", "signzone-limit": "sign-zone vs the signing-only limit (target ≤ 2×)"}
why.setdefault("signzone", "the zone is parsed by a general presentation-format parser into full records before it is made compact (one thread), and the output is formatted record by record; signing itself runs on every thread. The machine is shared with other builds, so the wall-clock of both signers moves with the load; the ratio is from one run")
why.setdefault("signzone-mem", "the zone is parsed straight into a compact form (owners and RDATA in two byte arenas, about 20 bytes a record plus its bytes) and the signed zone is streamed; below that, the 64 MiB of scrypt memory for decrypting the passphrase-protected ZSK files (see *Memory floor*) is the peak")
why.setdefault("signzone-limit", "the opt-out NSEC3 zone needs few signatures for its size (one per delegation with DS, one per NSEC3 record and the apex: about 22 of every 100 records), so the work that does not depend on the signatures bounds it: reading and parsing the zone file (the parser and the conversion into the compact form run on two threads, but the parser itself is one), sorting every record into canonical order (two halves on two threads, then one merge), grouping names, finding zone cuts, hashing names and building the NSEC3 chain (one thread), and formatting every record of the output (on every thread). Timed by hand on the 1,000,000-record NSEC3 zone before parsing and sorting were split over two threads: keys 0.26 s, parsing 2.05 s, sorting 0.91 s, names, cuts and chain 0.85 s, signing and writing 4.3 s (of which 2.8 s is the limit). The NSEC zone, which signs every name, is within the target at both sizes")
for kind in ["soft1-rsa", "soft1-ec", "softN", "hsm", "batch", "signzone", "signzone-mem", "signzone-limit"]:
    ms = groups.get(kind)
    if not ms:
        continue
    items = []
    for m in ms:
        short = (1 - m[3] / m[4]) * 100
        if kind == "hsm":
            items.append("%s/%d on %d thr %.2f× (−%.0f%%; %.2f× sign+verify)" % (m[1], m[2], m[5], m[3], short, m[6] or 0))
        elif kind == "batch":
            items.append("%.2f× (−%.0f%%)" % (m[3], short))
        elif kind in ("signzone", "signzone-mem", "signzone-limit"):
            items.append("%s %.2f× (target %.2f×)" % (m[1], m[3], m[4]))
        else:
            items.append("%s/%d %.2f× (−%.0f%%)" % (m[1], m[2], m[3], short))
    L.append("- **%s**: %s. Why: %s." % (titles[kind], "; ".join(items), why[kind]))
L.append("## Verification in sign-zone")
L.append("")
L.append("`kskit sign-zone` verifies, by default, the signatures of the first RRset of every 64 it signs, with every ZSK "
         "(`--verify sample`); `--verify all` verifies every signature, as the signer did before. Sampling is safe "
         "because what verification catches is a wrong or broken key or signer, and those fail every signature, not "
         "one in a million: (1) before signing, every ZSK must be in the DNSKEY RRset of the SKR bundle (same flags, "
         "algorithm and public key), so a key that is not the published one is refused outright; (2) a software key "
         "is loaded by ring from PKCS#8, which checks that the private key matches its public key (ECDSA, Ed25519, "
         "RSA consistency checks), and ring's signing code is deterministic apart from the nonce, which it draws "
         "from the operating system; (3) the first RRset of every chunk of 64 is verified, so a key or token that "
         "makes bad signatures is caught within the first 64 RRsets and the run stops with nothing written (the zone "
         "is streamed to a temp file that is renamed into place only at the end). What sampling does not catch is a "
         "rare, random fault (a bit flip in one signature) outside the sample; a validator then fails that one "
         "RRset. Operators who want that covered too, or who sign with PKCS#11 tokens, use `--verify all`, which "
         "costs about one ECDSA P-256 verification (roughly two to three signatures' time) per signature; "
         "`kskit verify-zone`-style checks with ldns-verify-zone, dnssec-verify or kzonecheck remain the end-to-end check.")
L.append("")
L.append("## Chart")
L.append("")
L.append("![measured ratios against their targets](%s)" % os.path.basename(SVG))
L.append("")
L.append("Each bar is a measured ratio; the black tick is its target (green: met, red: missed).")
L.append("")
L.append("## Rerunning")
L.append("")
L.append("`benches/compare.sh` (full run: 3 s per phase, 1000 zones; `BENCH_SECONDS`, `BENCH_ZONES`, `BENCH_THREADS` "
         "override). `kskit bench --help` for single measurements; `cargo bench` for the criterion micro-benchmarks "
         "(canonical RRset encoding, canonical name order, NSEC and NSEC3 chains, NSEC3 hashing, key tag, one "
         "signature per algorithm).")
L.append("")
L.append("Per-token figures of `kskit hsm bench` (measured by hand, not by this script): [hsm-bench.md](hsm-bench.md).")
open(OUT, "w").write("\n".join(L) + "\n")

# SVG bar chart of the ratios, with target ticks.
W, LW, BH, GAP = 900, 330, 18, 6
H = 50 + len(bars) * (BH + GAP) + 30
mx = max([b[1] for b in bars if b[1] is not None] + [b[2] for b in bars] + [1.0]) * 1.1
sx = (W - LW - 60) / mx
def esc(t):
    return t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H),
       '<rect width="100%" height="100%" fill="white"/>',
       '<text x="10" y="22" font-size="15">kskit measured ratios vs targets (%s)</text>' % esc(env.get("date", ""))]
for i in range(int(mx) + 1):
    x = LW + i * sx
    out.append('<line x1="%.1f" y1="35" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x, x, H - 25))
    out.append('<text x="%.1f" y="%d" text-anchor="middle" fill="#666">%d×</text>' % (x, H - 10, i))
y = 45
for label, r, target in bars:
    ok = r is not None and r >= target
    out.append('<text x="%d" y="%d" text-anchor="end">%s</text>' % (LW - 8, y + BH - 5, esc(label)))
    if r is not None:
        out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>' % (LW, y, r * sx, BH, "#3a3" if ok else "#d33"))
        out.append('<text x="%.1f" y="%d">%.2f</text>' % (LW + r * sx + 4, y + BH - 5, r))
    tx = LW + target * sx
    out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="black" stroke-width="2"/>' % (tx, y - 2, tx, y + BH + 2))
    y += BH + GAP
out.append("</svg>")
open(SVG, "w").write("\n".join(out) + "\n")
PY
note "done: $OUT"
