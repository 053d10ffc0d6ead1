//! Zone-file presentation format (RFC 1035 §5.1) for the records kskit
//! handles: parsing (multi-line parentheses, comments, quoted strings,
//! $ORIGIN/$TTL) and printing. TODO: implemented in the foundation work.
