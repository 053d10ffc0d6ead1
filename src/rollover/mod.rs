//! Automated rollovers (docs/rollover.md): the planner ([`plan`]), the
//! timeline drawing ([`svg`]), the chain-of-trust check of a planned
//! instant ([`trust`]) the cron-driven state machine ([`state`]) and the emergency roll to
//! the standby KSK ([`emergency`]).

pub mod emergency;
pub mod hold;
pub mod plan;
pub mod state;
pub mod svg;
pub mod trust;
