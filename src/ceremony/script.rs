//! Ceremony scripts (docs/ceremony.md): a TOML file of declared variables and
//! numbered steps, each performed by a role, with what to say, an optional
//! command, what must be confirmed, and the files it reads and writes.
//!
//! Parsing and variable resolution are pure: nothing here runs a command or
//! touches the terminal. A script is resolved completely (every variable has a
//! value, every `${name}` names a declared or built-in variable) before the
//! runner shows its first step.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Built-in variables the runner provides; a script must not declare them.
pub const BUILTINS: &[(&str, &str)] = &[
    ("kskit", "path of the running kskit executable"),
    ("tmp", "a scratch directory for this run (removed afterwards unless --keep-tmp)"),
    ("yes", "`--yes` when the ceremony runs with --yes, else empty (pass it on to commands that confirm)"),
    ("date", "today's date (UTC), YYYY-MM-DD"),
];

/// The longest chain of variables referring to variables.
const MAX_DEPTH: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScriptError {
    #[error("the script is not valid TOML or has an unknown field: {0}")]
    Toml(String),
    #[error("the script has no steps")]
    NoSteps,
    #[error("{place}: unknown variable ${{{name}}} (declare it under [variables]; built-ins: kskit, tmp, yes, date)")]
    UnknownVariable { place: String, name: String },
    #[error("{place}: unterminated ${{ (write $${{ for a literal ${{)")]
    Unterminated { place: String },
    #[error("variable {0:?} is a built-in and cannot be declared")]
    DeclaresBuiltin(String),
    #[error("bad variable name {0:?}: use letters, digits, '_' and '-'")]
    BadName(String),
    #[error("--var {0:?}: no such variable in the script (declared: {1})")]
    UndeclaredVar(String, String),
    #[error("--var {0:?} must be NAME=VALUE")]
    BadVarArg(String),
    #[error("missing value for {}: pass --var NAME=VALUE ({})", .0.join(", "), .1.join("; "))]
    Missing(Vec<String>, Vec<String>),
    #[error("variables refer to each other in a loop or too deeply: {0}")]
    Cycle(String),
    #[error("step {step}: {msg}")]
    BadStep { step: usize, msg: String },
}

/// A declared variable.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// What the variable is, shown in the printed script and in errors.
    pub description: String,
    /// Default value (may use other variables); without one the variable must be given.
    #[serde(default)]
    pub default: Option<String>,
    /// A secret (PIN of a throwaway token): never shown or written to the transcript.
    #[serde(default)]
    pub secret: bool,
}

/// One step of a script, as written.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Short title of the step.
    pub title: String,
    /// Who performs it: Ceremony Administrator, Internal Witness, Crypto Officer, ...
    pub role: String,
    /// What to say or check.
    pub say: String,
    /// A shell command line (run with `sh -c`), with `${var}` variables.
    #[serde(default)]
    pub command: Option<String>,
    /// What must be confirmed before the ceremony moves on.
    pub confirm: String,
    /// Files the step reads: their SHA-256 is recorded before the command runs.
    #[serde(default)]
    pub reads: Vec<String>,
    /// Files the step writes: their SHA-256 is recorded after the command ran.
    #[serde(default)]
    pub writes: Vec<String>,
}

/// A ceremony script, as written.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Script {
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Every role that appears in the ceremony, in signature-line order
    /// (default: the roles of the steps, in order of first appearance).
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, Variable>,
    /// Environment variables for every command (values may use variables).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub steps: Vec<Step>,
}

/// A step with every variable substituted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedStep {
    pub number: usize,
    pub title: String,
    pub role: String,
    pub say: String,
    /// The command to run (values shell-quoted).
    pub command: Option<String>,
    /// The command as shown and recorded (secret values replaced).
    pub command_shown: Option<String>,
    pub confirm: String,
    pub reads: Vec<String>,
    pub writes: Vec<String>,
}

/// A script ready to run or print: every variable has a value.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub title: String,
    pub description: String,
    pub roles: Vec<String>,
    /// Declared variables with their values (secret ones included: never print them).
    pub values: BTreeMap<String, String>,
    /// Names of secret variables.
    pub secrets: BTreeSet<String>,
    pub env: Vec<(String, String)>,
    pub steps: Vec<ResolvedStep>,
}

impl Resolved {
    /// The variables as shown and recorded: secret values replaced by `***`.
    pub fn shown_values(&self) -> BTreeMap<String, String> {
        self.values
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    if self.secrets.contains(k) {
                        "***".to_string()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect()
    }
}

/// Parses a script. Unknown fields are errors (a misspelt `comand` would
/// otherwise silently skip a command).
pub fn parse(text: &str) -> Result<Script, ScriptError> {
    let s: Script = toml::from_str(text).map_err(|e| ScriptError::Toml(e.to_string()))?;
    if s.steps.is_empty() {
        return Err(ScriptError::NoSteps);
    }
    for name in s.variables.keys() {
        if BUILTINS.iter().any(|(b, _)| b == name) {
            return Err(ScriptError::DeclaresBuiltin(name.clone()));
        }
        if !valid_name(name) {
            return Err(ScriptError::BadName(name.clone()));
        }
    }
    for (i, st) in s.steps.iter().enumerate() {
        let bad = |msg: &str| ScriptError::BadStep {
            step: i + 1,
            msg: msg.to_string(),
        };
        if st.role.trim().is_empty() {
            return Err(bad("the role is empty"));
        }
        if st.command.as_deref().is_some_and(|c| c.trim().is_empty()) {
            return Err(bad(
                "the command is empty (leave it out for a step without a command)",
            ));
        }
    }
    Ok(s)
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Parses `--var NAME=VALUE` arguments.
pub fn parse_var_args(args: &[String]) -> Result<BTreeMap<String, String>, ScriptError> {
    let mut out = BTreeMap::new();
    for a in args {
        let (k, v) = a
            .split_once('=')
            .ok_or_else(|| ScriptError::BadVarArg(a.clone()))?;
        if !valid_name(k) {
            return Err(ScriptError::BadVarArg(a.clone()));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// One piece of a template: literal text or a variable reference.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// Splits a template into pieces. `$${` is a literal `${`; any other `$`
/// is literal (so `$HOME` and `$(date)` pass through to the shell).
fn pieces<'a>(t: &'a str, place: &str) -> Result<Vec<Piece<'a>>, ScriptError> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(i) = rest.find('$') {
        let (before, after) = rest.split_at(i);
        if after.starts_with("$${") {
            out.push(Piece::Text(before));
            out.push(Piece::Text("${"));
            rest = after.get(3..).unwrap_or_default();
        } else if let Some(body) = after.strip_prefix("${") {
            out.push(Piece::Text(before));
            let end = body.find('}').ok_or_else(|| ScriptError::Unterminated {
                place: place.to_string(),
            })?;
            let (name, tail) = body.split_at(end);
            out.push(Piece::Var(name.trim()));
            rest = tail.get(1..).unwrap_or_default();
        } else {
            out.push(Piece::Text(before));
            out.push(Piece::Text("$"));
            rest = after.get(1..).unwrap_or_default();
        }
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// The variables a template uses.
fn used_vars(t: &str, place: &str) -> Result<Vec<String>, ScriptError> {
    Ok(pieces(t, place)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(v) => Some(v.to_string()),
            Piece::Text(_) => None,
        })
        .collect())
}

/// How a value is put into a template.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// As is (text, paths, environment values).
    Raw,
    /// Shell-quoted (commands).
    Shell,
    /// Shell-quoted, with secret values replaced (commands as shown).
    Shown,
}

/// Quotes `s` for `sh` when it holds anything but safe characters; the empty
/// string becomes `''`.
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

struct Subst<'a> {
    values: &'a BTreeMap<String, String>,
    secrets: &'a BTreeSet<String>,
}

impl Subst<'_> {
    fn apply(&self, t: &str, place: &str, mode: Mode) -> Result<String, ScriptError> {
        let mut out = String::new();
        for p in pieces(t, place)? {
            match p {
                Piece::Text(s) => out.push_str(s),
                Piece::Var(name) => {
                    let v = self
                        .values
                        .get(name)
                        .ok_or_else(|| ScriptError::UnknownVariable {
                            place: place.to_string(),
                            name: name.to_string(),
                        })?;
                    let secret = self.secrets.contains(name);
                    match mode {
                        Mode::Raw => out.push_str(v),
                        // `${yes}` is a flag or nothing: never quoted.
                        Mode::Shell | Mode::Shown if name == "yes" => out.push_str(v),
                        Mode::Shown if secret => out.push_str(&format!("<secret {name}>")),
                        Mode::Shell | Mode::Shown => out.push_str(&shell_quote(v)),
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Resolves a script: checks that every `${name}` is declared or built in,
/// fills values from `given` (`--var`), then defaults (which may refer to
/// other variables), and fails with every missing variable named before any
/// step runs. `builtins` are the runner's values for [`BUILTINS`].
pub fn resolve(
    script: &Script,
    given: &BTreeMap<String, String>,
    builtins: &BTreeMap<String, String>,
) -> Result<Resolved, ScriptError> {
    let declared: Vec<&str> = script.variables.keys().map(String::as_str).collect();
    for k in given.keys() {
        if !script.variables.contains_key(k) {
            return Err(ScriptError::UndeclaredVar(
                k.clone(),
                if declared.is_empty() {
                    "none".into()
                } else {
                    declared.join(", ")
                },
            ));
        }
    }
    let known = |n: &str| script.variables.contains_key(n) || builtins.contains_key(n);
    // Every reference must name a known variable.
    let mut templates: Vec<(String, &str)> = Vec::new();
    for (k, v) in &script.variables {
        if let Some(d) = &v.default {
            templates.push((format!("default of variable {k}"), d));
        }
    }
    for (k, v) in &script.env {
        templates.push((format!("env {k}"), v));
    }
    for (i, s) in script.steps.iter().enumerate() {
        let n = i + 1;
        for (what, t) in [
            ("title", &s.title),
            ("role", &s.role),
            ("say", &s.say),
            ("confirm", &s.confirm),
        ] {
            templates.push((format!("step {n} {what}"), t));
        }
        if let Some(c) = &s.command {
            templates.push((format!("step {n} command"), c));
        }
        for r in &s.reads {
            templates.push((format!("step {n} reads"), r));
        }
        for w in &s.writes {
            templates.push((format!("step {n} writes"), w));
        }
    }
    for (place, t) in &templates {
        for name in used_vars(t, place)? {
            if !known(&name) {
                return Err(ScriptError::UnknownVariable {
                    place: place.clone(),
                    name,
                });
            }
        }
    }
    // Missing values, all at once.
    let missing: Vec<(&String, &Variable)> = script
        .variables
        .iter()
        .filter(|(k, v)| !given.contains_key(*k) && v.default.is_none())
        .collect();
    if !missing.is_empty() {
        return Err(ScriptError::Missing(
            missing.iter().map(|(k, _)| (*k).clone()).collect(),
            missing
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.description))
                .collect(),
        ));
    }
    // Values: builtins, given, then defaults resolved to a fixed point.
    let mut values: BTreeMap<String, String> = builtins.clone();
    for (k, v) in given {
        values.insert(k.clone(), v.clone());
    }
    let secrets: BTreeSet<String> = script
        .variables
        .iter()
        .filter(|(_, v)| v.secret)
        .map(|(k, _)| k.clone())
        .collect();
    let mut pending: Vec<(&String, &String)> = script
        .variables
        .iter()
        .filter(|(k, _)| !given.contains_key(*k))
        .filter_map(|(k, v)| v.default.as_ref().map(|d| (k, d)))
        .collect();
    for _ in 0..=MAX_DEPTH {
        if pending.is_empty() {
            break;
        }
        let mut next = Vec::new();
        for (k, d) in pending {
            let place = format!("default of variable {k}");
            if used_vars(d, &place)?.iter().all(|u| values.contains_key(u)) {
                let sub = Subst {
                    values: &values,
                    secrets: &secrets,
                };
                let v = sub.apply(d, &place, Mode::Raw)?;
                values.insert(k.clone(), v);
            } else {
                next.push((k, d));
            }
        }
        pending = next;
    }
    if !pending.is_empty() {
        return Err(ScriptError::Cycle(
            pending
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    let sub = Subst {
        values: &values,
        secrets: &secrets,
    };
    let env = script
        .env
        .iter()
        .map(|(k, v)| Ok((k.clone(), sub.apply(v, &format!("env {k}"), Mode::Raw)?)))
        .collect::<Result<Vec<_>, ScriptError>>()?;
    let mut steps = Vec::new();
    for (i, s) in script.steps.iter().enumerate() {
        let n = i + 1;
        let place = |w: &str| format!("step {n} {w}");
        steps.push(ResolvedStep {
            number: n,
            title: sub.apply(&s.title, &place("title"), Mode::Raw)?,
            role: sub.apply(&s.role, &place("role"), Mode::Raw)?,
            say: sub.apply(&s.say, &place("say"), Mode::Raw)?,
            command: s
                .command
                .as_ref()
                .map(|c| sub.apply(c, &place("command"), Mode::Shell))
                .transpose()?,
            command_shown: s
                .command
                .as_ref()
                .map(|c| sub.apply(c, &place("command"), Mode::Shown))
                .transpose()?,
            confirm: sub.apply(&s.confirm, &place("confirm"), Mode::Raw)?,
            reads: s
                .reads
                .iter()
                .map(|r| sub.apply(r, &place("reads"), Mode::Raw))
                .collect::<Result<_, _>>()?,
            writes: s
                .writes
                .iter()
                .map(|w| sub.apply(w, &place("writes"), Mode::Raw))
                .collect::<Result<_, _>>()?,
        });
    }
    let mut roles = script.roles.clone();
    for s in &steps {
        if !roles.contains(&s.role) {
            roles.push(s.role.clone());
        }
    }
    let declared_values = values
        .into_iter()
        .filter(|(k, _)| script.variables.contains_key(k))
        .collect();
    Ok(Resolved {
        title: script.title.clone(),
        description: script.description.clone(),
        roles,
        values: declared_values,
        secrets,
        env,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = r#"
title = "t"
[variables]
ksr = { description = "the KSR" }
skr = { description = "the SKR", default = "${ksr}.skr" }
pin = { description = "PIN", default = "1234", secret = true }
[env]
X = "${tmp}/x"
[[steps]]
title = "sign"
role = "Crypto Officer"
say = "sign ${ksr}"
command = "${kskit} ksr sign ${ksr} -o ${skr} --pin ${pin} ${yes} $$HOME $${HOME}"
confirm = "ok"
reads = ["${ksr}"]
writes = ["${skr}"]
"#;

    fn builtins() -> BTreeMap<String, String> {
        [
            ("kskit", "/bin/kskit"),
            ("tmp", "/t"),
            ("yes", ""),
            ("date", "2026-11-23"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    }

    #[test]
    fn resolves_quotes_and_redacts() {
        let s = parse(S).unwrap();
        let given = parse_var_args(&["ksr=my file.xml".to_string()]).unwrap();
        let r = resolve(&s, &given, &builtins()).unwrap();
        let st = &r.steps[0];
        assert_eq!(
            st.command.as_deref(),
            Some(
                "/bin/kskit ksr sign 'my file.xml' -o 'my file.xml.skr' --pin 1234  $$HOME ${HOME}"
            )
        );
        assert_eq!(st.command_shown.as_deref(), Some("/bin/kskit ksr sign 'my file.xml' -o 'my file.xml.skr' --pin <secret pin>  $$HOME ${HOME}"));
        assert_eq!(st.reads, vec!["my file.xml"]);
        assert_eq!(r.env, vec![("X".to_string(), "/t/x".to_string())]);
        assert_eq!(r.shown_values().get("pin").map(String::as_str), Some("***"));
    }

    #[test]
    fn missing_unknown_and_undeclared() {
        let s = parse(S).unwrap();
        let e = resolve(&s, &BTreeMap::new(), &builtins()).unwrap_err();
        assert!(
            matches!(&e, ScriptError::Missing(v, _) if v == &vec!["ksr".to_string()]),
            "{e}"
        );
        let given = parse_var_args(&["ksr=a".into(), "typo=b".into()]).unwrap();
        assert!(matches!(
            resolve(&s, &given, &builtins()),
            Err(ScriptError::UndeclaredVar(..))
        ));
        let bad = S.replace("sign ${ksr}", "sign ${kssr}");
        let e = resolve(
            &parse(&bad).unwrap(),
            &parse_var_args(&["ksr=a".into()]).unwrap(),
            &builtins(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("kssr"), "{e}");
        assert!(parse(&S.replace("confirm = \"ok\"", "confirm = \"ok\"\ncomand = \"x\"")).is_err());
    }

    #[test]
    fn default_cycle_is_an_error() {
        let t = r#"
title = "t"
[variables]
a = { description = "a", default = "${b}" }
b = { description = "b", default = "${a}" }
[[steps]]
title = "x"
role = "r"
say = "${a}"
confirm = "c"
"#;
        assert!(matches!(
            resolve(&parse(t).unwrap(), &BTreeMap::new(), &builtins()),
            Err(ScriptError::Cycle(_))
        ));
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("abc/d.e"), "abc/d.e");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(
            shell_quote("pkcs11:token=a;object=b"),
            "'pkcs11:token=a;object=b'"
        );
    }
}
