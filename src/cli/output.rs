//! How listings and shows print: a table (or `field: value` lines) for
//! people, or with `--output json` the object's JSON as the API answers it
//! (`crate::shapes`), a listing as a JSON array. Only what a command
//! produces goes to stdout; what it did goes to stderr.

use clap::{Args, ValueEnum};
use serde_json::Value;

use crate::domain::{DomainError, PageRequest, MAX_PAGE_SIZE};

/// The `--output` option of every listing and show.
#[derive(Args, Clone, Copy)]
pub(super) struct Output {
    /// `table` for people; `json` for programs: each object as the API
    /// answers it, a listing as an array of them.
    #[arg(long = "output", short = 'o', visible_alias = "format", value_enum,
          default_value_t = Format::Table, value_name = "FORMAT")]
    format: Format,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum Format {
    Table,
    Json,
}

impl Output {
    pub(super) fn json(self) -> bool {
        self.format == Format::Json
    }

    /// A listing: `table()` for people, or the JSON array of `shape`d items.
    pub(super) fn list<T>(
        self,
        items: &[T],
        shape: impl Fn(&T) -> Value,
        table: impl FnOnce() -> Table,
    ) {
        if self.json() {
            print_json(&Value::Array(items.iter().map(shape).collect()));
        } else {
            table().print();
        }
    }

    /// One object: `fields` for people, or its JSON.
    pub(super) fn show(self, json: Value, fields: &[(&str, String)]) {
        if self.json() {
            print_json(&json);
        } else {
            print_fields(fields);
        }
    }
}

/// Pretty JSON on stdout, one document per command.
pub(super) fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// `field: value` lines, the values aligned.
pub(super) fn print_fields(fields: &[(&str, String)]) {
    let width = fields.iter().map(|(f, _)| f.len() + 1).max().unwrap_or(0);
    for (field, value) in fields {
        let value = if value.is_empty() { "-" } else { value };
        println!("{:<width$}  {value}", format!("{field}:"));
    }
}

/// A table for people: columns as wide as their widest cell, two spaces
/// apart; an empty cell shows as `-`, so columns never run together.
pub(super) struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(super) fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    pub(super) fn row(&mut self, cells: Vec<String>) {
        let cells = cells
            .into_iter()
            .map(|c| if c.is_empty() { "-".into() } else { c })
            .collect();
        self.rows.push(cells);
    }

    pub(super) fn print(&self) {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            let last = cells.len().saturating_sub(1);
            let mut text = String::new();
            for (n, (cell, width)) in cells.iter().zip(&widths).enumerate() {
                if n == last {
                    text.push_str(cell);
                } else {
                    let pad = width.saturating_sub(cell.chars().count());
                    text.push_str(cell);
                    text.push_str(&" ".repeat(pad + 2));
                }
            }
            println!("{text}");
        };
        line(self.header.clone());
        for row in &self.rows {
            line(row.iter().map(String::as_str).collect());
        }
    }
}

/// Every entry of a paged listing: `fetch` answers a page's entries and
/// the total.
pub(super) fn every_page<T>(
    mut fetch: impl FnMut(PageRequest) -> Result<(Vec<T>, u64), DomainError>,
) -> Result<Vec<T>, DomainError> {
    let mut all = Vec::new();
    for number in 1.. {
        let (entries, total) = fetch(PageRequest::new(number, MAX_PAGE_SIZE)?)?;
        let last = entries.len() < MAX_PAGE_SIZE as usize;
        all.extend(entries);
        if last || all.len() as u64 >= total {
            break;
        }
    }
    Ok(all)
}

/// A list for a cell: `a, b, c`, or `-`.
pub(super) fn joined(items: &[String]) -> String {
    items.join(", ")
}

/// An optional value for a cell or a field.
pub(super) fn or_dash(value: Option<&str>) -> String {
    value.unwrap_or("-").to_string()
}
