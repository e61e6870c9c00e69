//! Typed reading of a parsed TOML document that keeps every field's dotted path and line, so
//! each error names both. Built on `toml_edit`'s span-preserving document (the parser `toml`
//! itself uses): unlike `toml::de` errors, its tree gives the key and line of every value.

use std::ops::Range;

use toml_edit::{ImDocument, Item, TableLike, Value};

use super::ScenarioError;

pub(super) type Res<T> = Result<T, ScenarioError>;

/// The source text, to turn byte offsets into 1-based line numbers.
pub(super) struct Doc<'a> {
    text: &'a str,
}

impl<'a> Doc<'a> {
    pub(super) fn new(text: &'a str) -> Doc<'a> {
        Doc { text }
    }

    pub(super) fn parse(&self) -> Res<ImDocument<&'a str>> {
        ImDocument::parse(self.text).map_err(|e| ScenarioError {
            line: self.line(e.span()),
            field: String::new(),
            message: format!("invalid TOML: {}", e.message().trim_end()),
        })
    }

    pub(super) fn line(&self, span: Option<Range<usize>>) -> Option<usize> {
        let start = span?.start.min(self.text.len());
        Some(
            self.text.as_bytes()[..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count()
                + 1,
        )
    }
}

/// A table (standard or inline) with its dotted path and line.
pub(super) struct Tbl<'a> {
    doc: &'a Doc<'a>,
    t: &'a dyn TableLike,
    /// Dotted path, empty for the root.
    pub path: String,
    /// Line of its header (or of its key for an inline table); `None` for the root.
    pub line: Option<usize>,
}

impl<'a> Tbl<'a> {
    /// The root table; `known` lists the keys it may hold.
    pub(super) fn root(doc: &'a Doc<'a>, t: &'a toml_edit::Table, known: &[&str]) -> Res<Tbl<'a>> {
        let tbl = Tbl {
            doc,
            t,
            path: String::new(),
            line: None,
        };
        tbl.check_known(known)?;
        Ok(tbl)
    }

    fn check_known(&self, known: &[&str]) -> Res<()> {
        for (key, _) in self.t.iter() {
            if !known.contains(&key) {
                let expected: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                return Err(self.err(
                    key,
                    format!("unknown field, expected one of {}", expected.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// The dotted path of `key` in this table.
    pub(super) fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The line of `key` (its key, else its value), else of the table itself.
    pub(super) fn line_of(&self, key: &str) -> Option<usize> {
        let from_key = self.t.key(key).and_then(|k| self.doc.line(k.span()));
        let from_item = || self.t.get(key).and_then(|i| self.doc.line(i.span()));
        from_key.or_else(from_item).or(self.line)
    }

    /// An error about `key` of this table.
    pub(super) fn err(&self, key: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError {
            line: self.line_of(key),
            field: self.path_of(key),
            message: message.into(),
        }
    }

    /// `value`, or a "missing" error naming `key` at this table's line.
    pub(super) fn required<T>(&self, key: &str, value: Option<T>) -> Res<T> {
        value.ok_or_else(|| ScenarioError {
            line: self.line,
            field: self.path_of(key),
            message: "missing (required)".into(),
        })
    }

    /// The keys present, in document order.
    pub(super) fn keys(&self) -> Vec<&'a str> {
        self.t.iter().map(|(k, _)| k).collect()
    }

    fn value(&self, key: &str, expected: &str) -> Res<Option<&'a Value>> {
        match self.t.get(key) {
            None | Some(Item::None) => Ok(None),
            Some(Item::Value(v)) => Ok(Some(v)),
            Some(other) => Err(self.err(
                key,
                format!("expected {expected}, found {}", other.type_name()),
            )),
        }
    }

    fn wrong(&self, key: &str, expected: &str, v: &Value) -> ScenarioError {
        self.err(key, format!("expected {expected}, found {}", v.type_name()))
    }

    /// A number (integer or float), finite.
    pub(super) fn f64(&self, key: &str) -> Res<Option<f64>> {
        let Some(v) = self.value(key, "a number")? else {
            return Ok(None);
        };
        let x = match v {
            Value::Integer(i) => *i.value() as f64,
            Value::Float(f) => *f.value(),
            other => return Err(self.wrong(key, "a number", other)),
        };
        if !x.is_finite() {
            return Err(self.err(key, format!("must be finite, found {x}")));
        }
        Ok(Some(x))
    }

    /// A number in `lo..=hi`.
    pub(super) fn f64_in(&self, key: &str, lo: f64, hi: f64) -> Res<Option<f64>> {
        match self.f64(key)? {
            Some(x) if !(lo..=hi).contains(&x) => {
                Err(self.err(key, format!("must be between {lo} and {hi}, found {x}")))
            }
            x => Ok(x),
        }
    }

    /// An integer in `lo..=hi`.
    pub(super) fn int_in(&self, key: &str, lo: i64, hi: i64) -> Res<Option<i64>> {
        let Some(v) = self.value(key, "an integer")? else {
            return Ok(None);
        };
        let Value::Integer(i) = v else {
            return Err(self.wrong(key, "an integer", v));
        };
        let x = *i.value();
        if !(lo..=hi).contains(&x) {
            return Err(self.err(key, format!("must be between {lo} and {hi}, found {x}")));
        }
        Ok(Some(x))
    }

    /// An integer in `lo..=hi` as `u32`.
    pub(super) fn u32_in(&self, key: &str, lo: u32, hi: u32) -> Res<Option<u32>> {
        // lo..=hi fits u32, so the conversion holds
        Ok(self
            .int_in(key, lo.into(), hi.into())?
            .map(|x| u32::try_from(x).unwrap_or(hi)))
    }

    pub(super) fn bool(&self, key: &str) -> Res<Option<bool>> {
        match self.value(key, "true or false")? {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b.value())),
            Some(other) => Err(self.wrong(key, "true or false", other)),
        }
    }

    pub(super) fn str(&self, key: &str) -> Res<Option<String>> {
        match self.value(key, "a string")? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.value().clone())),
            Some(other) => Err(self.wrong(key, "a string", other)),
        }
    }

    /// An array of strings.
    pub(super) fn strs(&self, key: &str) -> Res<Option<Vec<String>>> {
        let expected = "an array of strings";
        let Some(v) = self.value(key, expected)? else {
            return Ok(None);
        };
        let Value::Array(a) = v else {
            return Err(self.wrong(key, expected, v));
        };
        a.iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.value().clone()),
                other => Err(self.wrong(key, expected, other)),
            })
            .collect::<Res<Vec<_>>>()
            .map(Some)
    }

    /// `[min, max]`: two non-negative numbers, min ≤ max.
    pub(super) fn pair(&self, key: &str) -> Res<Option<[f64; 2]>> {
        let expected = "[min, max] (two numbers)";
        let Some(v) = self.value(key, expected)? else {
            return Ok(None);
        };
        let Value::Array(a) = v else {
            return Err(self.wrong(key, expected, v));
        };
        let nums: Vec<f64> = a
            .iter()
            .map(|x| match x {
                Value::Integer(i) => Ok(*i.value() as f64),
                Value::Float(f) if f.value().is_finite() => Ok(*f.value()),
                other => Err(self.wrong(key, expected, other)),
            })
            .collect::<Res<_>>()?;
        match nums[..] {
            [lo, hi] if lo >= 0.0 && lo <= hi => Ok(Some([lo, hi])),
            [lo, hi] => Err(self.err(key, format!("needs 0 <= min <= max, found [{lo}, {hi}]"))),
            _ => Err(self.err(
                key,
                format!("expected {expected}, found {} values", nums.len()),
            )),
        }
    }

    /// A sub-table (standard or inline) whose keys must be in `known`.
    pub(super) fn table(&self, key: &str, known: &[&str]) -> Res<Option<Tbl<'a>>> {
        let Some(item) = self.t.get(key) else {
            return Ok(None);
        };
        let Some(t) = item.as_table_like() else {
            return Err(self.err(key, format!("expected a table, found {}", item.type_name())));
        };
        let tbl = Tbl {
            doc: self.doc,
            t,
            path: self.path_of(key),
            line: self.line_of(key),
        };
        tbl.check_known(known)?;
        Ok(Some(tbl))
    }

    /// An array of tables (`[[key]]` or `key = [{...}, ...]`), each checked against `known`.
    pub(super) fn tables(&self, key: &str, known: &[&str]) -> Res<Vec<Tbl<'a>>> {
        let mut out = Vec::new();
        match self.t.get(key) {
            None | Some(Item::None) => {}
            Some(Item::ArrayOfTables(a)) => {
                for (i, t) in a.iter().enumerate() {
                    out.push(self.element(key, i, t, self.doc.line(t.span())));
                }
            }
            Some(Item::Value(Value::Array(a))) => {
                for (i, v) in a.iter().enumerate() {
                    let Value::InlineTable(t) = v else {
                        return Err(self.wrong(key, "an array of tables", v));
                    };
                    out.push(self.element(key, i, t, self.doc.line(t.span())));
                }
            }
            Some(other) => {
                let found = other.type_name();
                return Err(self.err(key, format!("expected an array of tables, found {found}")));
            }
        }
        for t in &out {
            t.check_known(known)?;
        }
        Ok(out)
    }

    fn element(&self, key: &str, i: usize, t: &'a dyn TableLike, line: Option<usize>) -> Tbl<'a> {
        Tbl {
            doc: self.doc,
            t,
            path: format!("{}[{i}]", self.path_of(key)),
            line: line.or_else(|| self.line_of(key)),
        }
    }
}
