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
echo "seed corpora written to $corpus:"
for t in "$corpus"/*; do echo "  $(basename "$t"): $(ls "$t" | wc -l) files"; done
