//! The recorder's cost table: its shape and its facts (the figures
//! themselves are the results pipeline's, from a full run).

#[test]
fn the_quick_cost_table_has_every_row_and_fact() -> anyhow::Result<()> {
    let t = lab_07::cost::measure(true)?;
    assert_eq!(t.rows.len(), 5, "{:#?}", t.rows);
    assert!(t.rows.iter().all(|r| r.len() == t.columns.len()));
    for key in [
        "lab01_wrapper_ratio",
        "lab01_recorded_ratio",
        "lab01_recorded_slowdown",
        "lab02_recorded_ratio",
        "lab02_event_loop_recorded_ratio",
        "lab02_tasks_recorded_ratio",
        "disabled_site_ns",
        "rounds",
    ] {
        assert!(t.facts.contains_key(key), "no fact {key}: {:?}", t.facts);
        assert!(
            key.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        );
    }
    // Ratios are positive numbers, and recording records something.
    for key in [
        "lab01_recorded_ratio",
        "lab02_recorded_ratio",
        "lab02_tasks_recorded_ratio",
    ] {
        let r: f64 = t.facts[key].trim_end_matches('×').parse()?;
        assert!(r > 0.0 && r.is_finite(), "{key} = {r}");
    }
    for row in &t.rows[1..4] {
        let steps: f64 = row[5].replace(',', "").parse()?;
        assert!(steps > 0.0, "{row:?}");
    }
    Ok(())
}

/// The full run, printed: `cargo test --release -p lab-07 --test cost --
/// --ignored --nocapture`.
#[test]
#[ignore]
fn print_the_full_run() -> anyhow::Result<()> {
    let t = lab_07::cost::measure(false)?;
    println!("{}", kit::fmt::render_text(&t));
    println!("{:#?}", t.facts);
    Ok(())
}
