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
