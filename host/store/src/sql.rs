//! Dynamic SQL with placeholders that both backends accept (`$1`, `$2`, …).
//!
//! List queries add filters at run time; [`Sql`] collects the text and the
//! arguments, and `bind_args!` binds them on whichever backend runs it.

pub(crate) enum Arg {
    Text(String),
    Int(i64),
    OptText(Option<String>),
    OptInt(Option<i64>),
    Blob(Vec<u8>),
    Json(serde_json::Value),
}

#[derive(Default)]
pub(crate) struct Sql {
    pub text: String,
    pub args: Vec<Arg>,
}

impl Sql {
    pub fn new(text: &str) -> Self {
        Sql {
            text: text.to_owned(),
            args: Vec::new(),
        }
    }

    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Adds an argument and returns its placeholder.
    pub fn arg(&mut self, arg: Arg) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    /// Adds arguments and returns `($a, $b, …)`, for `IN` lists and rows
    /// of a multi-row `VALUES`.
    pub fn tuple(&mut self, args: impl IntoIterator<Item = Arg>) -> String {
        let placeholders: Vec<String> = args.into_iter().map(|a| self.arg(a)).collect();
        format!("({})", placeholders.join(", "))
    }

    /// Appends ` AND <column> <op> $n`.
    pub fn and(&mut self, column: &str, op: &str, arg: Arg) -> &mut Self {
        let p = self.arg(arg);
        self.text.push_str(&format!(" AND {column} {op} {p}"));
        self
    }
}

/// Binds every [`Arg`] of a [`Sql`] onto a query of either backend.
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for arg in $args {
            q = match arg {
                $crate::sql::Arg::Text(s) => q.bind(s),
                $crate::sql::Arg::Int(i) => q.bind(i),
                $crate::sql::Arg::OptText(s) => q.bind(s),
                $crate::sql::Arg::OptInt(i) => q.bind(i),
                $crate::sql::Arg::Blob(b) => q.bind(b),
                $crate::sql::Arg::Json(v) => q.bind(sqlx::types::Json(v)),
            };
        }
        q
    }};
}
