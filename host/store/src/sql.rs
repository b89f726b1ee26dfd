//! Dynamic SQL with placeholders that both backends accept (`$1`, `$2`, …).
//!
//! List queries add filters at run time; [`Sql`] collects the text and the
//! arguments, and `bind_args!` binds them on whichever backend runs it.
//!
//! `LIMIT` and `OFFSET` are written as integer literals, never bound: SQLite
//! lets a bound `LIMIT` shape the plan, so every new binding of it
//! recompiles the statement on its next step (a full parse per lookup).

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

    /// The text for SQLite: `$1, $2, …` in order become anonymous `?`.
    /// sqlx looks every parameter up by name, which SQLite answers by a
    /// linear scan over the named ones: with thousands of `$n` in one
    /// multi-row statement binding turns quadratic, with `?` it does not.
    /// Text whose placeholders are not exactly `$1…$n` in order is kept.
    pub fn sqlite_text(&self) -> String {
        let bytes = self.text.as_bytes();
        let mut out = String::with_capacity(self.text.len());
        let mut expected = 1usize;
        let mut i = 0;
        let mut last = 0;
        while i < bytes.len() {
            if bytes[i] == b'$' {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                if end > start {
                    let n: usize = self.text[start..end].parse().unwrap_or(0);
                    if n != expected {
                        return self.text.clone();
                    }
                    expected += 1;
                    out.push_str(&self.text[last..i]);
                    out.push('?');
                    last = end;
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        out.push_str(&self.text[last..]);
        out
    }

    /// Sizes that split `len` rows into multi-row statements of at most
    /// `max` rows, each a power of two (largest first): a table written
    /// with batches of any size then uses at most `log2(max) + 1` distinct
    /// statements, so the prepared-statement cache is not flooded.
    pub fn row_chunks(mut len: usize, max: usize) -> impl Iterator<Item = usize> {
        let max = max.max(1);
        let top = if max.is_power_of_two() {
            max
        } else {
            max.next_power_of_two() / 2
        };
        std::iter::from_fn(move || {
            if len == 0 {
                return None;
            }
            let size = if len >= top {
                top
            } else {
                1 << (usize::BITS - 1 - len.leading_zeros())
            };
            len -= size;
            Some(size)
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_text_turns_ordered_placeholders_anonymous() {
        let mut sql = Sql::new("SELECT a FROM t WHERE b = ");
        let b = sql.arg(Arg::Int(1));
        sql.push(&b);
        let list = sql.tuple([Arg::Int(2), Arg::Int(3)]);
        sql.push(&format!(" AND c IN {list}"));
        assert_eq!(
            sql.sqlite_text(),
            "SELECT a FROM t WHERE b = ? AND c IN (?, ?)"
        );
        let reused = Sql::new("SELECT $1, $2, $1");
        assert_eq!(reused.sqlite_text(), "SELECT $1, $2, $1");
    }

    #[test]
    fn row_chunks_are_powers_of_two_covering_every_row() {
        let sizes = |len, max| Sql::row_chunks(len, max).collect::<Vec<_>>();
        assert_eq!(sizes(0, 64), Vec::<usize>::new());
        assert_eq!(sizes(1, 64), [1]);
        assert_eq!(sizes(37, 64), [32, 4, 1]);
        assert_eq!(sizes(130, 64), [64, 64, 2]);
        assert_eq!(sizes(7, 5), [4, 2, 1]);
        for len in 0..600 {
            let all = sizes(len, 256);
            assert_eq!(all.iter().sum::<usize>(), len);
            assert!(all.iter().all(|s| s.is_power_of_two() && *s <= 256));
        }
    }
}
