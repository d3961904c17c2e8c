//! The benchmark report: one row per measurement, printed as a table and written as JSON.

use serde::Serialize;

/// One measurement, always with its reference from the same run.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// What was measured.
    pub metric: String,
    /// Problem size (objects, events, keys, kinds).
    pub n: usize,
    /// Our value.
    pub ours: f64,
    /// What we compare against.
    pub reference_name: String,
    /// Its value, measured in the same run.
    pub reference: f64,
    /// The unit of `ours` and `reference`.
    pub unit: String,
    /// `ours / reference`.
    pub ratio: f64,
    /// The goal, as text (`<= 1.2`).
    pub goal: String,
    /// Whether the goal is met; `None` when the row has no goal.
    pub met: Option<bool>,
}

impl Row {
    /// A row whose goal is `ratio <= max` (`higher_is_better` false) or `ratio >= min`.
    pub fn new(metric: &str, n: usize, ours: f64, reference_name: &str, reference: f64, unit: &str) -> Self {
        let ratio = if reference == 0.0 { f64::NAN } else { ours / reference };
        Row {
            metric: metric.into(),
            n,
            ours,
            reference_name: reference_name.into(),
            reference,
            unit: unit.into(),
            ratio,
            goal: "-".into(),
            met: None,
        }
    }

    /// Goal: ratio at most `max`.
    pub fn at_most(mut self, max: f64) -> Self {
        self.goal = format!("<= {max}");
        self.met = Some(self.ratio <= max);
        self
    }

    /// Goal: `ours` is exactly zero (a count that must not happen).
    pub fn exactly_zero(mut self) -> Self {
        self.goal = "= 0".into();
        self.ratio = self.ours;
        self.met = Some(self.ours == 0.0);
        self
    }

    /// Goal: ratio at least `min`.
    pub fn at_least(mut self, min: f64) -> Self {
        self.goal = format!(">= {min}");
        self.met = Some(self.ratio >= min);
        self
    }
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "-".into()
    } else if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else if v != 0.0 && v.abs() < 0.01 {
        // Sub-millisecond latencies: three significant digits, not 0.000.
        format!("{v:.2e}")
    } else {
        format!("{v:.3}")
    }
}

/// The rows as an aligned text table.
pub fn table(rows: &[Row]) -> String {
    let header = ["metric", "N", "ours", "reference", "ref value", "unit", "ratio", "goal", "met"];
    let cells: Vec<[String; 9]> = rows
        .iter()
        .map(|r| {
            [
                r.metric.clone(),
                r.n.to_string(),
                num(r.ours),
                r.reference_name.clone(),
                num(r.reference),
                r.unit.clone(),
                num(r.ratio),
                r.goal.clone(),
                match r.met {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => "-".into(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for c in &cells {
        for (w, v) in widths.iter_mut().zip(c) {
            *w = (*w).max(v.len());
        }
    }
    let line = |vals: Vec<&str>| -> String {
        vals.iter().zip(widths).map(|(v, w)| format!("{v:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    for c in &cells {
        out.push_str(&line(c.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn small_values_keep_their_digits() {
        assert_eq!(super::num(0.000207), "2.07e-4");
        assert_eq!(super::num(0.0), "0.000");
        assert_eq!(super::num(0.914), "0.914");
        assert_eq!(super::num(f64::NAN), "-");
    }
}
