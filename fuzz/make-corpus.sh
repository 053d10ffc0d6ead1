#!/bin/sh
# Builds the fuzzers' seed corpora from kskit's own output: runs
# `kskit demo --dir` in both formats (KSR, SKR, trust anchor, kskit.toml,
# keys.json locators) and writes one directory per fuzz target under
# fuzz/corpus/. Never copies ../shared fixtures. Usage (from the repository
# root or fuzz/):  sh fuzz/make-corpus.sh   [KSKIT=path/to/kskit]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
corpus="$here/corpus"
if [ -z "${KSKIT:-}" ]; then
    (cd "$root" && cargo build --quiet --bin kskit)
    KSKIT="$root/target/debug/kskit"
fi
case "$KSKIT" in /*) ;; *) KSKIT="$(pwd)/$KSKIT" ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$KSKIT" demo --dir "$work/iana" --format iana >/dev/null 2>&1
"$KSKIT" demo --dir "$work/text" --format text >/dev/null 2>&1
for t in iana_ksr iana_skr text_ksr text_skr presentation trust_anchor keyref policy; do
    mkdir -p "$corpus/$t"
done
cp "$work/iana/request.ksr.xml" "$corpus/iana_ksr/demo.xml"
cp "$work/iana/response.skr.xml" "$corpus/iana_skr/demo.xml"
cp "$work/text/request.ksr.txt" "$corpus/text_ksr/demo.txt"
cp "$work/text/response.skr.txt" "$corpus/text_skr/demo.txt"
# Trust anchors: the DS kskit wrote, and the KSK's DNSKEY.
cp "$work/iana/trust-anchor.ds" "$corpus/trust_anchor/ds"
cp "$work/text/trust-anchor.ds" "$corpus/trust_anchor/ds-text"
ksk=$(cd "$work/iana/ksk-side" && "$KSKIT" --json key list | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p' | head -n 1)
if [ -n "$ksk" ]; then
    (cd "$work/iana/ksk-side" && "$KSKIT" key dnskey "$ksk") >"$corpus/trust_anchor/dnskey" 2>/dev/null || true
fi
# Presentation records: the text-format SKR and KSR are zone-file records,
# and so are the trust anchors.
cp "$work/text/response.skr.txt" "$corpus/presentation/skr.txt"
cp "$work/text/request.ksr.txt" "$corpus/presentation/ksr.txt"
cat "$work/iana/trust-anchor.ds" >"$corpus/presentation/ds"
# Policy files: kskit.toml as `kskit init` writes it, and a KSK policy.
cp "$work/iana/ksk-side/kskit.toml" "$corpus/policy/kskit.toml"
cat >"$corpus/policy/ksk-policy.toml" <<'POL'
accepted_domains = ["example.com."]
max_bundles = 20
max_signature_validity = "P21D"
min_overlap = "1d"
horizon = "P200D"

[[algorithms]]
algorithm = "RSASHA256"
rsa_sizes = [2048]

[[algorithms]]
algorithm = "ECDSAP256SHA256"
POL
# Key references: the locators kskit prints for its keys, and PKCS#11 URIs
# of the shapes it documents.
i=0
for d in "$work/iana/ksk-side" "$work/iana/zsk-side"; do
    (cd "$d" && "$KSKIT" --json key list) | sed -n 's/.*"\(id\|locator\|key_tag\)": *"\{0,1\}\([^",]*\)"\{0,1\}.*/\2/p' | while read -r ref; do
        i=$((i + 1))
        printf '%s' "$ref" >"$corpus/keyref/kskit-$(printf '%s' "$ref" | cksum | cut -d' ' -f1)"
    done
done
printf '%s' 'pkcs11:token=KSK%20token;object=ksk-2026;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin&timeout=30' >"$corpus/keyref/uri-full"
printf '%s' 'pkcs11:slot-id=0;id=%01%02%ab?module-name=softhsm2' >"$corpus/keyref/uri-id"
printf '%s' 'file:///var/lib/kskit/private/ksk.age' >"$corpus/keyref/file"
# KeyTrap-shaped seeds (CVE-2023-50387; docs/security.md): the demo KSR and
# SKR with one bundle grown by 60 DNSKEYs that all share the key tag of a
# key already there (public keys made to collide, not valid points) and 60
# junk RRSIGs naming that tag, so the fuzzers start next to the inputs the
# verification limits are for.
if command -v python3 >/dev/null 2>&1; then
    python3 - "$work" "$corpus" <<'PY'
import base64, random, re, sys
work, corpus = sys.argv[1], sys.argv[2]
rnd = random.Random(50387)
def tag(rdata):
    ac = 0
    for i, b in enumerate(rdata):
        ac += b if i & 1 else b << 8
    return (ac + (ac >> 16)) & 0xFFFF
def colliding(flags, alg, want, n):
    out = []
    while len(out) < n:
        key = bytearray(rnd.randbytes(64))
        head = bytes([flags >> 8, flags & 0xFF, 3, alg])
        a = tag(head + bytes(key[:62]) + b"\0\0")
        start = (want - a) & 0xFFFF
        for w in [(start + d) & 0xFFFF for d in (0, -1, 1, -2, 2)] + list(range(65536)):
            key[62], key[63] = w >> 8, w & 0xFF
            if tag(head + bytes(key)) == want:
                out.append(bytes(key))
                break
    return out
def first_key(text):
    m = re.search(r"DNSKEY\s+(\d+)\s+3\s+(\d+)\s+(\([A-Za-z0-9+/=\s]+\)|[A-Za-z0-9+/=]+)", text)
    flags, alg = int(m.group(1)), int(m.group(2))
    pk = base64.b64decode("".join(m.group(3).strip("()").split()))
    return flags, alg, tag(bytes([flags >> 8, flags & 0xFF, 3, alg]) + pk)
def junk_sig(alg, kt, zone):
    return "%s 3600 RRSIG DNSKEY %d %d 3600 20300201000000 20300101000000 %d %s %s" % (
        zone, alg, zone.strip(".").count(".") + 1, kt, zone, base64.b64encode(rnd.randbytes(64)).decode())
for name, kind in (("request.ksr.txt", "text_ksr"), ("response.skr.txt", "text_skr")):
    text = open(f"{work}/text/{name}").read()
    flags, alg, kt = first_key(text)
    zone = re.search(r"^(\S+)\s+\d+\s+DNSKEY", text, re.M).group(1)
    lines = ["%s 3600 DNSKEY %d 3 %d %s" % (zone, flags, alg, base64.b64encode(k).decode()) for k in colliding(flags, alg, kt, 60)]
    if kind == "text_skr":
        lines += [junk_sig(alg, kt, zone) for _ in range(60)]
    # After the first bundle header.
    i = text.index("\n", text.index(";; ")) + 1
    open(f"{corpus}/{kind}/keytrap.txt", "w").write(text[:i] + "\n".join(lines) + "\n" + text[i:])
for name, kind, bundle in (("request.ksr.xml", "iana_ksr", "RequestBundle"), ("response.skr.xml", "iana_skr", "ResponseBundle")):
    xml = open(f"{work}/iana/{name}").read()
    m = re.search(r"<Key [^>]*keyTag=\"(\d+)\"[^>]*>\s*<TTL>(\d+)</TTL>\s*<Flags>(\d+)</Flags>\s*<Protocol>3</Protocol>\s*<Algorithm>(\d+)</Algorithm>", xml)
    kt, ttl, flags, alg = (int(g) for g in m.groups())
    zone = re.search(r'domain="([^"]+)"', xml).group(1)
    keys = "".join('<Key keyIdentifier="trap%d" keyTag="%d"><TTL>%d</TTL><Flags>%d</Flags><Protocol>3</Protocol><Algorithm>%d</Algorithm><PublicKey>%s</PublicKey></Key>\n'
                   % (n, kt, ttl, flags, alg, base64.b64encode(k).decode()) for n, k in enumerate(colliding(flags, alg, kt, 60)))
    sigs = "".join('<Signature keyIdentifier="trap%d"><TTL>%d</TTL><TypeCovered>DNSKEY</TypeCovered><Algorithm>%d</Algorithm><Labels>%d</Labels><OriginalTTL>%d</OriginalTTL><SignatureExpiration>2030-02-01T00:00:00+00:00</SignatureExpiration><SignatureInception>2030-01-01T00:00:00+00:00</SignatureInception><KeyTag>%d</KeyTag><SignersName>%s</SignersName><SignatureData>%s</SignatureData></Signature>\n'
                   % (n, ttl, alg, zone.strip(".").count(".") + 1, ttl, kt, zone, base64.b64encode(rnd.randbytes(64)).decode()) for n in range(60))
    i = xml.index("</%s>" % bundle)
    open(f"{corpus}/{kind}/keytrap.xml", "w").write(xml[:i] + keys + sigs + xml[i:])
PY
else
    echo "note: python3 missing: no KeyTrap-shaped seeds" >&2
fi
# Parent replies (parent_reply): a knotd that signs `example.` (with a
# `child` delegation and DS) answers the DS and DNSKEY queries kskit makes;
# each seed is a 2-byte length, the DS reply, then the DNSKEY reply.
if command -v knotd >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
    pk="$work/parent-knot"
    mkdir -p "$pk" "$corpus/parent_reply"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    printf 'server:\n    rundir: %s\n    listen: 127.0.0.1@%s\ndatabase:\n    storage: %s\ntemplate:\n  - id: default\n    storage: %s\nzone:\n  - domain: example.\n    file: example.zone\n    dnssec-signing: on\n' "$pk" "$port" "$pk" "$pk" >"$pk/knot.conf"
    printf '$ORIGIN example.\n$TTL 3600\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 127.0.0.9\nchild NS ns1.child\nns1.child A 127.0.0.9\nchild DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n' >"$pk/example.zone"
    knotd -c "$pk/knot.conf" >"$pk/knotd.log" 2>&1 &
    knot_pid=$!
    sleep 2
    python3 - "$port" "$corpus/parent_reply" <<'PY'
import socket, struct, random, sys
port, out = int(sys.argv[1]), sys.argv[2]
def ask(name, qtype, do=True):
    head = struct.pack(">HHHHHH", random.randint(0, 65535), 0, 1, 0, 0, 1)
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.strip(".").split(".")) + b"\0"
    opt = b"\0" + struct.pack(">HHIH", 41, 1232, 0x8000 if do else 0, 0)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(head + qname + struct.pack(">HH", qtype, 1) + opt, ("127.0.0.1", port))
    return s.recvfrom(65535)[0]
keys = ask("example.", 48)
for i, ds in enumerate([ask("child.example.", 43), ask("child.example.", 43, False), ask("nope.example.", 43)]):
    open(f"{out}/knot-{i}", "wb").write(struct.pack(">H", len(ds)) + ds + keys)
PY
    kill "$knot_pid"
else
    echo "note: knotd or python3 missing: no parent_reply seeds" >&2
fi
echo "seed corpora written to $corpus:"
for t in "$corpus"/*; do echo "  $(basename "$t"): $(ls "$t" | wc -l) files"; done
