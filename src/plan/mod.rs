//! `scimshift plan` and `show`: snapshot + profile + options -> an ordered, reviewable plan.

use crate::cli::{PlanArgs, ShowArgs};
use crate::context::Context;
use crate::error::{Error, Result};

pub fn run(_ctx: &Context, _args: &PlanArgs) -> Result<i32> {
    Err(Error::internal("plan is not built yet"))
}

pub fn show(_ctx: &Context, _args: &ShowArgs) -> Result<i32> {
    Err(Error::internal("show is not built yet"))
}
