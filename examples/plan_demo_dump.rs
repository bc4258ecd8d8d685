//! Prints the plan of the built-in demo-like snapshot (text, or JSON with `json`): a quick look at the planner's output.
fn main() {
    let snap = scimshift::plan::testkit::demo_like();
    let profile = scimshift::plan::Profile::builtin("coda").unwrap();
    let opts = scimshift::plan::PlanOptions {
        pilot_group: Some("Engineering".into()),
        ..Default::default()
    };
    let plan = scimshift::plan::build(&snap, &profile, &opts).unwrap();
    if std::env::args().nth(1).as_deref() == Some("json") {
        print!("{}", String::from_utf8(plan.to_bytes()).unwrap());
    } else if std::env::args().nth(1).as_deref() == Some("md") {
        print!("{}", scimshift::plan::render_markdown(&plan, None));
    } else {
        print!("{}", scimshift::plan::render_text(&plan));
    }
}
