//! Benchmark output: rows of `(scenario, figure, value, unit)`.

use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Row {
    pub scenario: String,
    pub figure: String,
    pub value: f64,
    pub unit: String,
}

pub struct Report {
    json: bool,
    rows: Vec<Row>,
}

impl Report {
    pub fn new(json: bool) -> Self {
        Report {
            json,
            rows: Vec::new(),
        }
    }

    /// Records a figure; in JSON mode it is printed at once.
    pub fn add(&mut self, scenario: &str, figure: &str, value: f64, unit: &str) {
        let row = Row {
            scenario: scenario.to_owned(),
            figure: figure.to_owned(),
            value: (value * 100.0).round() / 100.0,
            unit: unit.to_owned(),
        };
        if self.json {
            println!("{}", serde_json::to_string(&row).unwrap_or_default());
        } else {
            eprintln!(
                "  {:<12} {:<32} {:>12.1} {}",
                row.scenario, row.figure, row.value, row.unit
            );
        }
        self.rows.push(row);
    }

    /// Prints the table (human mode).
    pub fn finish(&self) {
        if self.json {
            return;
        }
        println!("{:<12} {:<32} {:>12} unit", "scenario", "figure", "value");
        for r in &self.rows {
            println!(
                "{:<12} {:<32} {:>12.1} {}",
                r.scenario, r.figure, r.value, r.unit
            );
        }
    }
}
