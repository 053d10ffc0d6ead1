//! `kskit policy check`: reject impossible timings before they bite.

use anyhow::Result;
use clap::Subcommand;

use super::{print_json, Context};
use crate::policy::check_policy;

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Check kskit.toml's policy for impossible timings (exit 1 if any).
    Check,
}

pub fn run(cmd: PolicyCommand, ctx: &Context) -> Result<i32> {
    match cmd {
        PolicyCommand::Check => {
            let cfg = ctx.config()?;
            let problems = check_policy(&cfg.policy);
            if ctx.json {
                print_json(&serde_json::json!({"ok": problems.is_empty(), "problems": problems}))?;
            } else if problems.is_empty() {
                println!("policy of {} is consistent", ctx.config_path.display());
            } else {
                for p in &problems {
                    println!("FAIL {}: {}", p.id, p.message);
                }
            }
            Ok(if problems.is_empty() { 0 } else { super::EXIT_FAILED })
        }
    }
}
